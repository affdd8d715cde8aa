"""Synthetic tournament at the seed's scale (51 configurations, 3 modalities, 39,000 votes, 10% noisy
voters): leaderboard accuracy and interval coverage, and Swiss vs uniform random pairing curves.

    python bench/ranking.py [--votes 39000] [--seeds 3] [--step 1500]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import orjson

from stream.campaign.tournament import DIMENSIONS, Draw, Tournament, draw, event, model_id
from stream.ranking.leaderboard import RankConfig, refit
from stream.ranking.pairing import swiss_round
from stream.ranking.votes import MODALITIES, OVERALL, Tally, VoteBook
from stream.settings import Settings
from stream.stats.bradley_terry import ELO_PER_NAT, fit, standard_errors

ALPHA, VOTES_PER_PAIR, PROMPTS = 0.01, 3, 400
SHARE = float(Settings.model_fields["pairing_random_share"].default)  # the default random share


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass
class Arena:
    """One modality's running tournament: qualified votes as half-win matrices per dimension."""

    models: list[int]
    wins: np.ndarray  # (dimensions, n, n)
    used: set[tuple[str, int, int]] = field(default_factory=set)
    theta: np.ndarray | None = None
    se: np.ndarray | None = None

    def play(self, f: Draw, share: float, prompts: list[str], out: list[dict[str, object]]) -> None:
        n = len(self.models)
        theta = self.theta if self.theta is not None else np.zeros(n)
        var = self.se ** 2 if self.se is not None else np.full(n, 4.0)
        picks = swiss_round(theta, var, prompts, lambda p, i, j: (p, i, j) in self.used, share, f.rng)
        for s in picks:
            self.used.add((s.prompt, s.a, s.b))
            for voter in f.rng.choice(f.t.n_voters, size=VOTES_PER_PAIR, replace=False):
                e = event(f, self.models[s.a], self.models[s.b], s.prompt, int(voter))
                out.append(e)
                if e["annotator_id"] in f.qualified:
                    self.count(s.a, s.b, e["preferences"])  # type: ignore[arg-type]
        overall = self.wins.sum(axis=0)
        self.theta = fit(overall, ALPHA, init=self.theta)
        self.se = standard_errors(overall, self.theta, ALPHA)

    def count(self, a: int, b: int, prefs: dict[str, str]) -> None:
        for d, dim in enumerate(DIMENSIONS):
            score = {"A": 1.0, "tie": 0.5, "B": 0.0}[prefs[dim]]
            self.wins[d, a, b] += score
            self.wins[d, b, a] += 1 - score

    def accuracy(self, f: Draw) -> float:
        """Mean Spearman over dimensions of the fitted order against the true strengths."""
        return float(np.mean([spearman(fit(self.wins[d], ALPHA), f.theta[self.models, d])
                              for d in range(len(DIMENSIONS))]))


def tournament(seed: int, share: float, budget: int, step: int) -> tuple[Draw, list[dict[str, object]],
                                                                          list[float]]:
    """Rounds in every modality until `budget` votes; accuracy (worst modality) every `step` votes."""
    f = draw(Tournament(seed=seed))
    prompts = {m: f.prompts[:PROMPTS] for m in MODALITIES}
    arenas = [Arena(f.models(m), np.zeros((len(DIMENSIONS), 17, 17))) for m in MODALITIES]
    events: list[dict[str, object]] = []
    curve: list[float] = []
    while len(events) < budget:
        for m, arena in zip(MODALITIES, arenas, strict=True):
            arena.play(f, share, prompts[m], events)
        while len(events) >= (len(curve) + 1) * step and len(curve) < budget // step:
            curve.append(min(a.accuracy(f) for a in arenas))
    return f, events[:budget], curve


def final_table(f: Draw, events: list[dict[str, object]], qualified_only: bool) -> dict[str, list[float]]:
    """The stream's own path (VoteBook -> Tally -> bootstrap leaderboards). Per modality: Spearman of
    the overall board against the mean true strength, min and mean per-dimension Spearman, and the
    intervals (every dimension, anchor excluded) holding the true anchored strength: hits, count."""
    book = VoteBook((*DIMENSIONS,))
    for offset, e in enumerate(events):
        book.add(e, offset)
    cfg = RankConfig((*DIMENSIONS, OVERALL), {}, 1000.0, ALPHA, 200, SHARE, qualified_only)
    boards = refit(Tally([book]), f.qualified if qualified_only else None, cfg, np.random.default_rng(0),
                   datetime.now(UTC))
    rho: dict[str, list[float]] = {m: [] for m in MODALITIES}
    overall: dict[str, float] = {}
    covered: dict[str, list[bool]] = {m: [] for m in MODALITIES}
    for b in boards:
        m, ids = b.record.modality, {model_id(k): k for k in f.models(b.record.modality)}
        d = DIMENSIONS.index(b.record.dimension) if b.record.dimension != OVERALL else None
        truth = {s.model_id: f.theta[ids[s.model_id]].mean() if d is None else f.theta[ids[s.model_id], d]
                 for s in b.record.models}
        r = spearman(np.array([s.score or 0.0 for s in b.record.models]),
                     np.array([truth[s.model_id] for s in b.record.models]))
        if d is None:
            overall[m] = r
            continue
        rho[m].append(r)
        anchor = truth[b.record.anchor or ""]
        elo = {k: 1000 + ELO_PER_NAT * (v - anchor) for k, v in truth.items()}
        covered[m] += [(s.ci_low or 0) <= elo[s.model_id] <= (s.ci_high or 0)
                       for s in b.record.models if s.model_id != b.record.anchor]
    return {m: [overall[m], min(rho[m]), float(np.mean(rho[m])), sum(covered[m]), len(covered[m])]
            for m in MODALITIES}


def hot_path(events: list[dict[str, object]]) -> None:
    """What the stream pays per vote (decode + count) and per refit interval (snapshot)."""
    raw = [orjson.dumps(e) for e in events]
    book = VoteBook((*DIMENSIONS,))
    started = time.perf_counter()
    for offset, line in enumerate(raw):
        book.add(orjson.loads(line), offset)
    per_vote = (time.perf_counter() - started) / len(raw)
    started = time.perf_counter()
    state = orjson.dumps(book.to_state())
    snapshot = time.perf_counter() - started
    print(f"\nhot path: decode + count {per_vote * 1e6:.1f} us per vote; snapshot of all {len(raw):,} votes "
          f"in one partition {snapshot * 1e3:.0f} ms, {len(state) / 1024:.0f} KiB")


def needed(curve: np.ndarray, step: int, target: float) -> str:
    """Votes at which the curve first reaches `target`, interpolated linearly between checkpoints."""
    hit = np.flatnonzero(curve >= target)
    if not len(hit):
        return f"not reached in {len(curve) * step:,}"
    k = int(hit[0])
    if k == 0:
        return f"<= {step:,}"
    frac = (target - curve[k - 1]) / (curve[k] - curve[k - 1])
    return f"{round((k + frac) * step):,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--votes", type=int, default=39_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--step", type=int, default=1500)
    args = parser.parse_args()
    started = time.perf_counter()
    curves: dict[str, list[list[float]]] = {"swiss": [], "random": []}
    finals = []
    for seed in range(1, args.seeds + 1):
        for name, share in (("swiss", SHARE), ("random", 1.0)):
            f, events, curve = tournament(seed, share, args.votes, args.step)
            curves[name].append(curve)
            if name == "swiss":
                finals.append((f, events))
    report(finals, curves, args.step)
    hot_path(finals[0][1])
    print(f"\n({time.perf_counter() - started:.0f} s, {args.seeds} seeds)")


def report(finals: list[tuple[Draw, list[dict[str, object]]]], curves: dict[str, list[list[float]]],
           step: int) -> None:
    f, events = finals[0]
    print(f"Final leaderboards after {len(events):,} votes with Swiss pairing, {len(finals)} seeds "
          f"({int(f.noisy.sum())} noisy of {f.t.n_voters} voters per seed): worst seed / mean over seeds")
    print("| modality | votes counted | Spearman overall | Spearman worst dimension | Spearman mean "
          "over dimensions | 95% interval coverage |")
    print("|---|---|---|---|---|---|")
    for qualified_only in (True, False):
        tables = [final_table(g, ev, qualified_only) for g, ev in finals]
        for m in MODALITIES:
            rows = np.array([t[m] for t in tables])
            label = "qualified" if qualified_only else "all (no filter)"
            print(f"| {m} | {label} | {rows[:, 0].min():.3f} / {rows[:, 0].mean():.3f} | "
                  f"{rows[:, 1].min():.3f} / {rows[:, 1].mean():.3f} | {rows[:, 2].min():.3f} / "
                  f"{rows[:, 2].mean():.3f} | {(rows[:, 3] / rows[:, 4]).min():.1%} / "
                  f"{rows[:, 3].sum() / rows[:, 4].sum():.1%} |")
    swiss, rand = np.mean(curves["swiss"], axis=0), np.mean(curves["random"], axis=0)
    print(f"\nAccuracy (worst modality, mean Spearman over dimensions; mean of {len(curves['swiss'])} seeds)")
    print(f"| votes | Swiss ({SHARE:.0%} random) | uniform random |")
    print("|---|---|---|")
    for k, (s, r) in enumerate(zip(swiss, rand, strict=True)):
        print(f"| {(k + 1) * step:,} | {s:.3f} | {r:.3f} |")
    for target in (0.95, 0.96, 0.97):
        print(f"votes to reach {target}: Swiss {needed(swiss, step, target)}, "
              f"random {needed(rand, step, target)}")


if __name__ == "__main__":
    main()
