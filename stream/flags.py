"""Agreement flag policy: minimum sample, bootstrap confidence, hysteresis, explanation (pure)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

FlagKind = Literal["agreement_low", "agreement_recovered"]


def min_pairable_values(alpha_min: float, confidence: float, n_values: int) -> int:
    """Krippendorff's (2013) minimum number of pairable values to tell alpha >= alpha_min.

    N >= 2 z^2 [ (1 + a)(3 - a) / (4 (1 - a) p_c (1 - p_c)) - a ], with z one-tailed for the
    confidence and p_c the share of the rarest category; with nothing better known we take the
    uniform share 1 / n_values (5-point scale: p_c = 0.2).
    """
    z = NormalDist().inv_cdf(confidence)
    p_c = 1.0 / n_values
    a = alpha_min
    bracket = (1 + a) * (3 - a) / (4 * (1 - a) * p_c * (1 - p_c)) - a
    return math.ceil(2 * z * z * bracket)


@dataclass(frozen=True)
class Policy:
    """When to raise and clear a flag for one dimension."""

    threshold: float
    confidence: float
    margin: float
    min_pairable: float


@dataclass(frozen=True)
class Decision:
    kind: FlagKind
    reason: str


def decide(policy: Policy, record: dict[str, Any], is_open: bool, p_below_recovery: float | None
           ) -> Decision | None:
    """Raise when P(alpha < threshold) >= confidence on enough data; clear (hysteresis) only when
    P(alpha < threshold + margin) <= 1 - confidence, i.e. alpha is confidently back above it."""
    n = float(record["n_pairable_values"])
    if record["alpha"] is None or n < policy.min_pairable:
        return None
    p_below = record["p_below_threshold"]
    if not is_open and p_below is not None and p_below >= policy.confidence:
        return Decision("agreement_low", f"P(alpha < {policy.threshold}) = {p_below:.3f} "
                        f">= {policy.confidence} with n = {n:.0f} pairable values")
    recovered_bar = policy.threshold + policy.margin
    if is_open and p_below_recovery is not None and p_below_recovery <= 1 - policy.confidence:
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


def top_annotators(disagreement: dict[str, list[float]], top: int = 5, min_pairs: float = 10.0
                   ) -> list[dict[str, Any]]:
    """Annotators ranked by mean disagreement per pair (share of D_o alongside).

    `disagreement` maps annotator -> [sum of d over their pairs, number of their pairs]; the mean
    ranks a careless annotator first even when a prolific careful one owns a bigger share.
    """
    total = sum(s for s, _ in disagreement.values())
    rows = [(s / p, s, p, a) for a, (s, p) in disagreement.items() if p >= min_pairs]
    rows.sort(reverse=True)
    return [{"annotator_id": a, "mean_disagreement": round(mean, 4),
             "share_of_disagreement": round(s / total, 4) if total else 0.0, "pairs": round(p, 2)}
            for mean, s, p, a in rows[:top]]
