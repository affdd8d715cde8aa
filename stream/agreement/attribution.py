"""Who accounts for the disagreement: per-annotator disagreement sums, kept incrementally (pure)."""

from __future__ import annotations

import numpy as np

# annotator -> (sum of distances to the unit's other values / (m_u - 1), pairable values)
Contribution = dict[str, tuple[float, float]]


def explain_distance(n_values: int, nominal: bool) -> np.ndarray:
    """Fixed distances for attribution: [c != k] for nominal data, (c - k)^2 otherwise.

    The ordinal metric depends on the window's marginals and cannot be accumulated per
    annotator; squared rank distance orders annotators the same way for practical purposes.
    """
    idx = np.arange(n_values)
    if nominal:
        out: np.ndarray = (idx[:, None] != idx[None, :]).astype(float)
    else:
        out = (idx[:, None] - idx[None, :]).astype(float) ** 2
    return out


def contributions(values: dict[str, int], dist: np.ndarray) -> Contribution:
    """Each annotator's share of one unit's observed disagreement, weighted as in O (1/(m_u-1))."""
    m = len(values)
    if m < 2:
        return {}
    items = list(values.items())
    out: Contribution = {}
    for a, va in items:
        total = sum(float(dist[va, vb]) for b, vb in items if b != a)
        out[a] = (total / (m - 1), 1.0)
    return out


def change(before: dict[str, int], after: dict[str, int], dist: np.ndarray) -> Contribution:
    """after - before, per annotator."""
    out = dict(contributions(after, dist))
    for a, (s, p) in contributions(before, dist).items():
        s0, p0 = out.get(a, (0.0, 0.0))
        out[a] = (s0 - s, p0 - p)
    return out


def add(into: dict[str, list[float]], delta: Contribution) -> None:
    for a, (s, p) in delta.items():
        entry = into.setdefault(a, [0.0, 0.0])
        entry[0] += s
        entry[1] += p
        if entry[1] <= 1e-9:  # the annotator left this window entirely
            del into[a]
