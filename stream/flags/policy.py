"""Agreement flag policy: minimum sample, bootstrap confidence, hysteresis, explanation (pure)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

FlagKind = Literal["agreement_low", "agreement_recovered"]


def min_pairable_values(alpha_min: float, confidence: float, p_c: float) -> int:
    """Krippendorff's (2013) minimum number of pairable values to tell alpha >= alpha_min.

    N >= 2 z^2 [ (1 + a)(3 - a) / (4 (1 - a) p_c (1 - p_c)) - a ], with z one-tailed for the
    confidence and p_c the share of the rarest value (a 5-point scale used evenly: p_c = 0.2).
    """
    z = NormalDist().inv_cdf(confidence)
    a = alpha_min
    bracket = (1 + a) * (3 - a) / (4 * (1 - a) * p_c * (1 - p_c)) - a
    return math.ceil(2 * z * z * bracket)


def rarest_share(marginals: Sequence[float] | np.ndarray) -> float | None:
    """Share of the rarest value that occurs; None when nothing occurs."""
    total = float(sum(marginals))
    present = [float(m) / total for m in marginals if m > 0] if total > 0 else []
    return min(present) if present else None


# share of a window's error budget spent at look k: 6 / (pi^2 (k + 1)^2), which sums to 1 over
# every look, so a window tested at every look still raises falsely with at most 1 - confidence
_SPEND = 6 / math.pi**2
# bootstrap replicates per look: enough for about this many replicates in the tail being tested
_TAIL_REPLICATES = 25
_MAX_LOOK_REPLICATES = 20_000


@dataclass(frozen=True)
class Policy:
    """When to raise and clear a flag for one dimension.

    The minimum sample is Krippendorff's for the rarest value the window holds (`minimum`), or a
    fixed `min_pairable`. A window is tested for a raise once per information look: look k begins
    when its pairable values first reach minimum * look_growth^k, and spends its share of the
    error budget 1 - confidence (see `look_error`). Testing every live record at `confidence`
    instead would multiply the false flags by the number of records a window gets.
    """

    threshold: float
    confidence: float
    margin: float
    n_values: int
    min_pairable: float | None = None
    look_growth: float = 2.0
    min_share: float = 0.05

    def minimum(self, rarest: float | None = None) -> float:
        """Pairable values needed: a rare value carries little information, so the rarer the
        window's rarest value (its share, floored at `min_share`), the more values; an evenly
        used scale when unknown."""
        if self.min_pairable is not None:
            return self.min_pairable
        # one value alone has share 1 (alpha is undefined then); the rarest of two or more is <= 0.5
        p_c = min(0.5, max(self.min_share, rarest)) if rarest is not None else 1.0 / self.n_values
        return min_pairable_values(self.threshold, self.confidence, p_c)

    def look(self, n: float, minimum: float) -> int | None:
        """The look that n pairable values fall in, None below the minimum sample."""
        if n < minimum:
            return None
        # the epsilon keeps n exactly at a boundary in the look it opens, despite float logs
        return int(math.log(n / minimum) / math.log(self.look_growth) + 1e-9)

    def look_error(self, k: int) -> float:
        """Error budget of look k: (1 - confidence) * 6 / (pi^2 (k + 1)^2)."""
        return (1 - self.confidence) * _SPEND / (k + 1) ** 2

    def look_confidence(self, k: int) -> float:
        return 1 - self.look_error(k)

    def look_replicates(self, k: int, floor: int) -> int:
        """Bootstrap replicates for look k: at least `floor`, enough to resolve its tail."""
        return max(floor, min(_MAX_LOOK_REPLICATES, math.ceil(_TAIL_REPLICATES / self.look_error(k))))


@dataclass(frozen=True)
class Decision:
    kind: FlagKind
    reason: str
    p_below: float | None = None  # a raise: P(alpha < threshold) at its look
    required: float | None = None  # a raise: the confidence its look required


def decide_raise(policy: Policy, record: dict[str, Any], look: int, p_below: float | None
                 ) -> Decision | None:
    """Raise when, at a new look (the caller knows the window reached it), the bootstrap gives
    P(alpha < threshold) >= the look's confidence."""
    n = float(record["n_pairable_values"])
    if record["alpha"] is None or p_below is None:
        return None
    required = policy.look_confidence(look)
    if p_below < required:
        return None
    return Decision("agreement_low", f"P(alpha < {policy.threshold}) = {p_below:.4f} >= {required:.4f} "
                    f"(look {look}) with n = {n:.0f} pairable values", p_below, required)


def decide_clear(policy: Policy, record: dict[str, Any], p_below_recovery: float | None,
                 minimum: float) -> Decision | None:
    """Clear (hysteresis) only when P(alpha < threshold + margin) <= 1 - confidence, i.e. alpha is
    confidently back above it, on at least `minimum` pairable values."""
    if record["alpha"] is None or float(record["n_pairable_values"]) < minimum:
        return None
    recovered_bar = policy.threshold + policy.margin
    if p_below_recovery is not None and p_below_recovery <= 1 - policy.confidence:
        return Decision("agreement_recovered", f"P(alpha < {recovered_bar:.3f}) = "
                        f"{p_below_recovery:.3f} <= {1 - policy.confidence:.3f}")
    return None


def flag_key(record: dict[str, Any]) -> str:
    """One open flag at a time per dimension, slice and window size."""
    return f"{record['dimension']}|{record['slice']}|{record['window_size_s']}"


def flag_id(kind: FlagKind, record: dict[str, Any], opened_in: str) -> str:
    """Deterministic: the same decision on the same window always has the same id."""
    text = f"{kind}|{flag_key(record)}|{opened_in}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def confused_values(o: np.ndarray, scale: list[Any], top: int = 3) -> list[dict[str, Any]]:
    """The largest off-diagonal cells of the coincidence matrix: which values annotators mix up."""
    n = float(o.sum())
    if n <= 0:
        return []
    cells = [(float(o[i, j] + o[j, i]), i, j) for i in range(len(scale)) for j in range(i + 1, len(scale))]
    cells.sort(reverse=True)
    return [{"values": f"{scale[i]}~{scale[j]}", "share_of_pairs": round(v / n, 4)}
            for v, i, j in cells[:top] if v > 0]


def top_annotators(disagreement: dict[str, list[float]], top: int = 5, prior_pairs: float = 10.0
                   ) -> list[dict[str, Any]]:
    """Annotators ranked by mean disagreement per pair (share of D_o alongside).

    `disagreement` maps annotator -> [sum of d over their pairs, number of their pairs]; the mean
    ranks a careless annotator first even when a prolific careful one owns a bigger share. Each
    mean is ranked shrunk toward the window's mean by `prior_pairs` pseudo-pairs, so one unlucky
    pair does not top the list. A floor on pairs instead named no one in a window flagged at its
    first look: its minimum sample spreads a few pairs over each annotator.
    """
    total = sum(s for s, _ in disagreement.values())
    n_pairs = sum(p for _, p in disagreement.values())
    if n_pairs <= 0:
        return []
    overall = total / n_pairs
    rows = [((s + prior_pairs * overall) / (p + prior_pairs), s / p, s, p, a)
            for a, (s, p) in disagreement.items() if p > 0]
    rows.sort(reverse=True)
    return [{"annotator_id": a, "mean_disagreement": round(mean, 4),
             "share_of_disagreement": round(s / total, 4) if total else 0.0, "pairs": round(p, 2)}
            for _, mean, s, p, a in rows[:top]]
