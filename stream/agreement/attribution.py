"""Who accounts for the disagreement: per-annotator disagreement sums, kept incrementally (pure)."""

from __future__ import annotations

from collections.abc import Sequence

# annotator -> (sum of distances to the unit's other values / (m_u - 1), pairable values)
Contribution = dict[str, tuple[float, float]]
# d[c][k] as nested tuples: indexing a numpy array per pair cost more than the sums themselves
Distances = Sequence[Sequence[float]]


def explain_distance(n_values: int, nominal: bool) -> Distances:
    """Fixed distances for attribution: [c != k] for nominal data, (c - k)^2 otherwise.

    The ordinal metric depends on the window's marginals and cannot be accumulated per
    annotator; squared rank distance orders annotators the same way for practical purposes.
    """
    if nominal:
        return tuple(tuple(float(c != k) for k in range(n_values)) for c in range(n_values))
    return tuple(tuple(float((c - k) ** 2) for k in range(n_values)) for c in range(n_values))


def contributions(values: dict[str, int], dist: Distances) -> Contribution:
    """Each annotator's share of one unit's observed disagreement, weighted as in O (1/(m_u-1))."""
    m = len(values)
    if m < 2:
        return {}
    items = list(values.items())
    out: Contribution = {}
    for a, va in items:
        row = dist[va]
        total = sum(row[vb] for b, vb in items if b != a)
        out[a] = (total / (m - 1), 1.0)
    return out


def change(before: dict[str, int], after: dict[str, int], dist: Distances) -> Contribution:
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
