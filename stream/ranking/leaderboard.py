"""From merged vote counts to leaderboard records and pairing rounds (pure: no Faust, no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from schemas.rankings import (
    AnnotatorPositionBias,
    Modality,
    ModelScore,
    PairingRound,
    PairSuggestion,
    PositionBias,
)
from schemas.rankings import LeaderboardRecord as Record
from stream.ranking.pairing import UNKNOWN_VARIANCE, swiss_round
from stream.ranking.votes import MODALITIES, OVERALL, PairCounts, Tally, pair_key
from stream.stats.bradley_terry import Leaderboard, Votes, leaderboard

BIAS_MIN_VOTES = 20  # decisive votes before an annotator's left share is reported
BIAS_TOP = 10


@dataclass(frozen=True)
class RankConfig:
    dimensions: tuple[str, ...]
    anchors: dict[str, str]
    base: float
    alpha: float
    n_boot: int
    random_share: float
    qualified_only: bool


@dataclass(frozen=True)
class Board:
    """One fitted modality x dimension: the record and the fit behind it (pairing reuses it)."""

    record: Record
    fit: Leaderboard
    counts: PairCounts


def anchor_for(counts: PairCounts, configured: str | None) -> tuple[int, str]:
    """The configured anchor when it has votes, else the most-compared configuration (ties by id)."""
    votes = _votes_per_model(counts)
    if configured in counts.models and votes[counts.models.index(configured)] > 0:
        return counts.models.index(configured), "configured"
    best = max(range(len(counts.models)), key=lambda k: (votes[k], -k))
    why = "most compared" + (f" (configured {configured!r} has no votes)" if configured else "")
    return best, why


def _votes_per_model(counts: PairCounts) -> list[int]:
    out = [0] * len(counts.models)
    for i, j, a, b, t in counts.rows:
        out[i] += int(a + b + t)
        out[j] += int(a + b + t)
    return out


def _wins_per_model(counts: PairCounts) -> list[float]:
    out = [0.0] * len(counts.models)
    for i, j, a, b, t in counts.rows:
        out[i] += a + t / 2
        out[j] += b + t / 2
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return centre - half, centre + half


def position_bias(tally: Tally, modality: str, dimension: str,
                  qualified: set[str] | None) -> tuple[PositionBias, list[AnnotatorPositionBias]]:
    per = tally.position(modality, dimension)
    counted = [c for a, c in per.items() if qualified is None or a in qualified]
    left, n = sum(c[0] for c in counted), sum(c[1] for c in counted)
    if n == 0:
        overall = PositionBias(left_share=None, left_share_reason="no decisive votes", decisive_votes=0)
    else:
        low, high = wilson(left, n)
        overall = PositionBias(left_share=left / n, ci_low=low, ci_high=high, decisive_votes=n)
    people = [AnnotatorPositionBias(annotator_id=a, left_share=c[0] / c[1], decisive_votes=c[1],
                                    qualified=qualified is None or a in qualified)
              for a, c in per.items() if c[1] >= BIAS_MIN_VOTES]
    people.sort(key=lambda p: (-abs(p.left_share - 0.5), p.annotator_id))
    return overall, people[:BIAS_TOP]


def board(tally: Tally, modality: Modality, dimension: str, qualified: set[str] | None,
          cfg: RankConfig, rng: np.random.Generator, now: datetime) -> Board | None:
    """The leaderboard of one modality and dimension; None when no configuration was compared."""
    counts = tally.pairs(modality, dimension, qualified)
    if not counts.models:
        return None
    anchor, why = anchor_for(counts, cfg.anchors.get(modality))
    votes = Votes.of(len(counts.models), counts.rows)
    fit = leaderboard(votes, anchor, alpha=cfg.alpha, base=cfg.base, n_boot=cfg.n_boot, rng=rng)
    wins, n_votes = _wins_per_model(counts), _votes_per_model(counts)
    scores = [ModelScore(model_id=m, score=r.score, score_reason=r.reason, ci_low=r.ci_low, ci_high=r.ci_high,
                         rank=r.rank, rank_best=r.rank_best, rank_worst=r.rank_worst, wins=wins[k],
                         votes=n_votes[k]) for k, (m, r) in enumerate(zip(counts.models, fit.ratings,
                                                                           strict=True))]
    scores.sort(key=lambda s: (s.rank is None, s.rank or 0, s.model_id))
    bias, people = position_bias(tally, modality, dimension, qualified)
    placed = fit.theta is not None
    record = Record(modality=modality, dimension=dimension, anchor=counts.models[anchor] if placed else None,
                    anchor_reason=why if placed else str(fit.reason), elo_base=cfg.base,
                    regularization=cfg.alpha, bootstrap_samples=cfg.n_boot, votes=round(votes.total),
                    votes_excluded=counts.excluded,
                    annotators=counts.annotators, models=scores, position_bias=bias,
                    annotator_position_bias=people, computed_at=now)
    return Board(record, fit, counts)


def pairing_round(tally: Tally, b: Board, suggested: set[int], cfg: RankConfig, rng: np.random.Generator,
                  number: int, now: datetime) -> PairingRound:
    """The next Swiss round of a modality from its overall fit; suggested pairs join `suggested`."""
    models, modality = b.counts.models, b.record.modality
    if b.fit.theta is None or b.fit.se is None:
        theta, var = np.zeros(len(models)), np.full(len(models), UNKNOWN_VARIANCE)
    else:
        theta, var = b.fit.theta, b.fit.se ** 2
    prompts = tally.prompts.get(modality, {})

    def used(pid: str, i: int, j: int) -> bool:
        key = pair_key(modality, pid, models[i], models[j])
        return key in tally.compared or key in suggested

    picks = swiss_round(theta, var, sorted(prompts), used, cfg.random_share, rng)
    pairs = []
    for s in picks:
        suggested.add(pair_key(modality, s.prompt, models[s.a], models[s.b]))
        pairs.append(PairSuggestion(config_a=models[s.a], config_b=models[s.b], prompt_id=s.prompt,
                                    prompt=prompts[s.prompt], kind=s.kind,
                                    selection_probability=s.probability, prompt_choices=s.prompt_choices,
                                    p_a_wins=s.p_a_wins))
    return PairingRound(modality=modality, round=number, dimension=b.record.dimension,
                        random_share=cfg.random_share, based_on_votes=b.record.votes, pairs=pairs,
                        computed_at=now)


def refit(tally: Tally, qualified: set[str] | None, cfg: RankConfig, rng: np.random.Generator,
          now: datetime) -> list[Board]:
    """Every modality x dimension leaderboard (overall included) that has compared configurations."""
    boards = []
    for modality in MODALITIES:
        for dimension in cfg.dimensions:
            found = board(tally, modality, dimension, qualified, cfg, rng, now)  # type: ignore[arg-type]
            if found is not None:
                boards.append(found)
    return boards


def pairing_rounds(tally: Tally, boards: list[Board], suggested: set[int], cfg: RankConfig,
                   rng: np.random.Generator, first: int, now: datetime) -> list[PairingRound]:
    """One round per modality, from its overall board, numbered from `first`."""
    overall = [b for b in boards if b.record.dimension == OVERALL]
    return [pairing_round(tally, b, suggested, cfg, rng, first + k, now) for k, b in enumerate(overall)]

