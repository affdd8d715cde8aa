"""One unit's value counts and their contribution to a coincidence matrix: deltas, layouts, pair metrics."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from stream.stats.distance import FloatArray, IntArray, Level, as_scale, check_level, distance_matrix

STATE_VERSION = 1


def _as_counts(counts: npt.ArrayLike) -> IntArray:
    """Validate a unit's value-count vector (non-negative integers)."""
    raw = np.asarray(counts)
    if raw.ndim != 1:
        raise ValueError(f"counts must be a vector, got shape {raw.shape}")
    as_int = raw.astype(np.int64)
    if raw.dtype.kind not in "iub" and not np.array_equal(as_int, raw):
        raise ValueError("counts must be integers")
    if (as_int < 0).any():
        raise ValueError("counts must be non-negative")
    return as_int


def _pair_block(counts: IntArray) -> IntArray:
    """n_u n_u^T - diag(n_u): the unit's contribution before dividing by m_u - 1 (exact ints)."""
    block = np.outer(counts, counts)
    # Strided diagonal view: np.diag_indices_from costs more than the whole update here.
    block.ravel()[:: counts.shape[0] + 1] -= counts
    return block


def unit_contribution(counts: npt.ArrayLike) -> FloatArray:
    """C(n_u) = (n_u n_u^T - diag(n_u)) / (m_u - 1), or zeros when the unit is not pairable."""
    vec = _as_counts(counts)
    m = int(vec.sum())
    if m < 2:
        return np.zeros((vec.shape[0], vec.shape[0]), dtype=np.float64)
    return _pair_block(vec).astype(np.float64) / float(m - 1)


# The window state and its updates are plain Python ints: for V <= ~10 a handful of int
# operations beats the fixed cost of a single numpy call, and Python ints cannot overflow.


class _Layout(NamedTuple):
    """Flat index layouts of a VxV symmetric matrix, shared by every window with V values.

    Blocks are stored as their row-major upper triangle (diagonal included, the `to_state`
    layout); query numerators only need the off-diagonal pairs c < k, since d_cc = 0.
    """

    upper_row: tuple[int, ...]  # upper index of (c, k) is upper_row[c] + k
    pair_row: tuple[int, ...]  # pair index of (c, k), c < k, is pair_row[c] + k
    pairs: tuple[tuple[int, int], ...]  # (c, k) in pair-index order


@cache
def _layout(n_values: int) -> _Layout:
    upper_row = tuple(c * n_values - c * (c - 1) // 2 - c for c in range(n_values))
    pair_row = tuple(u - c - 1 for c, u in enumerate(upper_row))
    pairs = tuple((c, k) for c in range(n_values) for k in range(c + 1, n_values))
    return _Layout(upper_row, pair_row, pairs)


class _Side(NamedTuple):
    """One unit's counts expanded into sparse integer updates (only categories it uses)."""

    n_values: int
    m: int
    # (upper index of (c, c), c, n_c, n_c^2 - n_c) for each category the unit uses
    diagonal: tuple[tuple[int, int, int, int], ...]
    # (upper index of (c, k), pair index of (c, k), n_c n_k) for c < k both used; empty if m < 2
    off_diagonal: tuple[tuple[int, int, int], ...]

    def dense_block(self) -> list[int]:
        out = [0] * (self.n_values * (self.n_values + 1) // 2)
        for i, _, _, v in self.diagonal:
            out[i] = v
        for i, _, v in self.off_diagonal:
            out[i] = v
        return out


def _side(counts: npt.ArrayLike) -> _Side:
    """Validate and expand a unit's counts; tuples (what the stream passes) are memoised."""
    if isinstance(counts, tuple):
        return _tuple_side(counts)
    return _expand(tuple(_as_counts(counts).tolist()))


@lru_cache(maxsize=8192)
def _tuple_side(counts: tuple[int, ...]) -> _Side:
    # For small V and m few count vectors recur, so most events skip even the validation.
    if not all(type(c) is int and c >= 0 for c in counts):
        counts = tuple(_as_counts(counts).tolist())
    return _expand(counts)


def _expand(counts: tuple[int, ...]) -> _Side:
    layout = _layout(len(counts))
    used = [(c, x) for c, x in enumerate(counts) if x]
    diagonal = tuple((layout.upper_row[c] + c, c, x, x * x - x) for c, x in used)
    off_diagonal = tuple(
        (layout.upper_row[c] + k, layout.pair_row[c] + k, x * y)
        for a, (c, x) in enumerate(used)
        for k, y in used[a + 1 :]
    )
    return _Side(len(counts), sum(counts), diagonal, off_diagonal)


class UnitDelta(NamedTuple):
    """A unit's change from `old` to `new` counts, validated and expanded once.

    One annotation touches several windows and slices; preparing the sparse updates once and
    applying them to each matrix keeps the per-event cost to a few small integer additions.
    """

    old: _Side
    new: _Side

    @classmethod
    def of(cls, old: npt.ArrayLike, new: npt.ArrayLike) -> UnitDelta:
        delta = cls(_side(old), _side(new))
        if delta.old.n_values != delta.new.n_values:
            raise ValueError("old and new counts must have the same length")
        return delta


_PairMetric: TypeAlias = tuple[int, ...] | tuple[float, ...]
# Per (level, V, scale): the level checked and the distances of the pairs c < k (None for
# ordinal, whose distances depend on the marginals). Scales and levels are few per process.
_METRICS: dict[tuple[object, ...], tuple[Level, _PairMetric | None]] = {}


def _pair_metric(level: str, scale: npt.ArrayLike, n_values: int) -> tuple[Level, _PairMetric | None]:
    """Validated level and pair distances on `scale`, cached (as ints when they are integral)."""
    key: tuple[object, ...] | None = None
    if isinstance(scale, np.ndarray):
        # dtype, ndim and bytes pin the values (and, for a vector, the length) exactly
        key = (level, n_values, scale.dtype.char, scale.ndim, scale.tobytes())
        try:
            return _METRICS[key]
        except KeyError:
            pass
    checked = check_level(level)
    values = as_scale(scale, n_values)  # validates the scale for every level, ordinal included
    metric: _PairMetric | None = None
    if checked != "ordinal":
        upper = distance_matrix(checked, values, np.zeros(n_values))[np.triu_indices(n_values, 1)]
        integral = bool(np.all(upper == np.rint(upper)) and np.all(np.abs(upper) < 2.0**53))
        metric = tuple(int(x) for x in upper.tolist()) if integral else tuple(upper.tolist())
    if key is not None:
        _METRICS[key] = (checked, metric)
    return checked, metric


