"""Building RLHF batch records from a unit's included answers: consensus, agreement, tier (pure)."""

from __future__ import annotations

import hashlib
import hmac
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from schemas.batches import (
    CLIP_RATING,
    PAIRWISE,
    ClipMeta,
    ClipRating,
    PairSide,
    PairwisePreference,
    PreferenceDimension,
    Rating,
    RatingDimension,
    Vote,
)
from stream.core import vocabulary

AlphaLookup = Callable[[str], float | None]  # dimension -> alpha of the unit's window, if known


@dataclass(frozen=True)
class Answer:
    """One included answer: who (hashed), what (value codes per dimension), how sure."""

    annotator: str
    values: Sequence[int | None]
    confidence: str | None
    shown_left: str | None


@dataclass(frozen=True)
class RecordContext:
    """What a record needs beyond the unit: ids, times and the knobs of the tier rule."""

    record_id: str
    version: int
    batch_id: str
    window_start: float
    window_size_s: int
    dimensions: Sequence[str]
    score_min: int
    tolerance: int
    required: int
    window_alpha: AlphaLookup


def hash_annotator(salt: bytes, annotator_id: str) -> str:
    """Keyed hash, so trainers can group by annotator without learning who it is."""
    return hmac.new(salt, annotator_id.encode(), hashlib.sha256).hexdigest()[:16]


def record_id(kind: str, project_id: str, unit_key: str, batch_id: str) -> str:
    """Deterministic: the same unit of the same batch always has the same id, on every worker."""
    digest = hashlib.sha256(f"{project_id}|{unit_key}|{batch_id}".encode()).hexdigest()[:24]
    return f"{'cr' if kind == 'c' else 'pp'}-{digest}"


def pair_agreement(values: Sequence[int], tolerance: int) -> float | None:
    """Share of answer pairs within `tolerance` of each other; None below two answers."""
    pairs = list(combinations(values, 2))
    if not pairs:
        return None
    return sum(abs(a - b) <= tolerance for a, b in pairs) / len(pairs)


def tier(n: int, agreement: float | None, confidences: Sequence[str | None], required: int) -> str:
    """high: the required raters, >= 2/3 of rater pairs agree and no rater unsure; low: under two
    raters, under half the pairs agree, or most raters unsure; medium otherwise. From the unit's
    own answers only, so a version repeated after a crash has the same tier."""
    unsure = sum(c == "low" for c in confidences)
    if agreement is None or agreement < 0.5 or unsure * 2 > n:
        return "low"
    if n >= required and agreement >= 2 / 3 and unsure == 0:
        return "high"
    return "medium"


def _iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _common(state: dict[str, Any], ctx: RecordContext, emitted_at: float) -> dict[str, Any]:
    times = [entry[1] for entry in state["a"].values() if entry[2] is not None]
    return {
        "record_id": ctx.record_id, "version": ctx.version, "batch_id": ctx.batch_id,
        "project_id": state["m"]["project_id"], "window_start": _iso(ctx.window_start),
        "window_size_s": ctx.window_size_s, "first_answer_at": _iso(min(times, default=state["t"])),
        "last_answer_at": _iso(max(times, default=state["t"])), "emitted_at": _iso(emitted_at),
    }


def rating_dimension(scores: list[int], answers: list[Answer], alpha: float | None,
                     ctx: RecordContext, dim: str) -> RatingDimension:
    agreement = pair_agreement(scores, ctx.tolerance)
    confidences = [a.confidence for a in answers]
    return RatingDimension(
        consensus_median=float(statistics.median(scores)), consensus_mean=statistics.fmean(scores),
        n_ratings=len(scores),
        ratings=[Rating(annotator=a.annotator, score=s, confidence=a.confidence)
                 for a, s in zip(answers, scores, strict=True)],
        unit_agreement=agreement, window_alpha=alpha,
        confidence_tier=tier(len(scores), agreement, confidences, ctx.required),
    )


def clip_rating(state: dict[str, Any], answers: list[Answer], ctx: RecordContext,
                emitted_at: float) -> ClipRating:
    dims: dict[str, RatingDimension] = {}
    for i, dim in enumerate(ctx.dimensions):
        rated = [(a, v + ctx.score_min) for a in answers if (v := a.values[i]) is not None]
        if rated:
            dims[dim] = rating_dimension([s for _, s in rated], [a for a, _ in rated],
                                         ctx.window_alpha(dim), ctx, dim)
    meta = state["m"]
    return ClipRating(**_common(state, ctx, emitted_at), clip=ClipMeta(**meta["clip"]), dimensions=dims)


def preference_dimension(codes: list[int], alpha: float | None, confidences: list[str | None],
                         ctx: RecordContext, dim: str) -> PreferenceDimension:
    votes_a, votes_b, ties = (codes.count(c) for c in range(3))
    n = len(codes)
    p_a = (votes_a + 0.5 * ties) / n
    agreement = pair_agreement(codes, 0)
    return PreferenceDimension(
        winner="A" if p_a > 0.5 else "B" if p_a < 0.5 else "tie", p_a=p_a, n=n, votes_a=votes_a,
        votes_b=votes_b, ties=ties, agreement=agreement, window_alpha=alpha,
        confidence_tier=tier(n, agreement, confidences, ctx.required),
    )


def pairwise_preference(state: dict[str, Any], answers: list[Answer], ctx: RecordContext,
                        emitted_at: float) -> PairwisePreference:
    dims: dict[str, PreferenceDimension] = {}
    for i, dim in enumerate(ctx.dimensions):
        voted = [(a, v) for a in answers if (v := a.values[i]) is not None]
        if voted:
            alpha = ctx.window_alpha(vocabulary.pairwise(dim))
            dims[dim] = preference_dimension([v for _, v in voted], alpha,
                                             [a.confidence for a, _ in voted], ctx, dim)
    votes = [Vote(annotator=a.annotator, shown_left=a.shown_left or "A",
                  confidence=a.confidence,
                  preferences={d: None if v is None else vocabulary.PREFERENCES[v]
                               for d, v in zip(ctx.dimensions, a.values, strict=True)})
             for a in answers]
    left_b = sum(v.shown_left == "B" for v in votes)
    meta = state["m"]
    return PairwisePreference(
        **_common(state, ctx, emitted_at), pair_id=meta["pair_id"], prompt=meta["prompt"],
        clip_a=PairSide(**meta["clip_a"]), clip_b=PairSide(**meta["clip_b"]),
        shown_left="B" if left_b * 2 > len(votes) else "A", dimensions=dims, votes=votes,
    )


def build(state: dict[str, Any], answers: list[Answer], ctx: RecordContext,
          emitted_at: float) -> ClipRating | PairwisePreference:
    """The record of a unit ('c' clip or 'p' pair) from its included answers."""
    if state["k"] == "c":
        return clip_rating(state, answers, ctx, emitted_at)
    return pairwise_preference(state, answers, ctx, emitted_at)


RECORD_TYPE = {"c": CLIP_RATING, "p": PAIRWISE}
