"""Incrementally maintained Krippendorff coincidence matrix of one window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream.stats.alpha import AlphaResult, alpha_from_parts
from stream.stats.distance import FloatArray, IntArray, Level

STATE_VERSION = 1


def _as_counts(counts: npt.ArrayLike, n_values: int | None = None) -> IntArray:
    """Validate a unit's value-count vector (non-negative integers, length V)."""
    raw = np.asarray(counts)
    if raw.ndim != 1 or (n_values is not None and raw.shape[0] != n_values):
        raise ValueError(f"counts must be a vector of length {n_values}, got shape {raw.shape}")
    as_int = raw.astype(np.int64)
    if raw.dtype.kind not in "iub" and not np.array_equal(as_int, raw):
        raise ValueError("counts must be integers")
    if (as_int < 0).any():
        raise ValueError("counts must be non-negative")
    return as_int


def _counts_fast(counts: npt.ArrayLike) -> IntArray:
    """Tuples of ints (what the stream passes) skip numpy-side validation; the rest get it."""
    if isinstance(counts, tuple) and all(type(c) is int and c >= 0 for c in counts):
        return np.array(counts, dtype=np.int64)
    return _as_counts(counts)


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


@dataclass(frozen=True, slots=True)
class UnitDelta:
    """A unit's change from `old` to `new` counts, validated and expanded once.

    One annotation touches several windows and slices; preparing the pair blocks once and
    applying them to each matrix keeps the per-event cost to a few small integer additions.
    """

    old: IntArray
    old_m: int
    old_block: IntArray | None
    new: IntArray
    new_m: int
    new_block: IntArray | None

    @classmethod
    def of(cls, old: npt.ArrayLike, new: npt.ArrayLike) -> UnitDelta:
        o, n = _counts_fast(old), _counts_fast(new)
        if o.shape != n.shape:
            raise ValueError("old and new counts must have the same length")
        om, nm = int(o.sum()), int(n.sum())
        return cls(o, om, _pair_block(o) if om >= 2 else None,
                   n, nm, _pair_block(n) if nm >= 2 else None)


class Coincidence:
    """Coincidence matrix of one window: river-style update/revert/get.

    O is held exactly as integer matrices S_m = sum of (n_u n_u^T - diag n_u) over units with
    m_u = m, so O = sum_m S_m / (m - 1). Integer bookkeeping means any sequence of updates,
    reverts and merges leaves no floating residue: (a + b) - b == a bit for bit. The number of
    distinct m is bounded by the number of annotators, so queries stay O(K V^2).
    """

    __slots__ = ("_marginals", "_o_cache", "_s", "_units_by_m", "n_values")

    def __init__(self, n_values: int) -> None:
        if n_values < 1:
            raise ValueError("n_values must be at least 1")
        self.n_values = int(n_values)
        self._s: dict[int, IntArray] = {}
        self._units_by_m: dict[int, int] = {}
        self._marginals: IntArray = np.zeros(self.n_values, dtype=np.int64)
        self._o_cache: FloatArray | None = None

    @property
    def o(self) -> FloatArray:
        """VxV float64 coincidence matrix (read-only view, cached until the next change)."""
        if self._o_cache is None:
            o = np.zeros((self.n_values, self.n_values), dtype=np.float64)
            # Sorted order makes the float result identical for equal states built differently.
            for m in sorted(self._s):
                o += self._s[m] / float(m - 1)
            o.setflags(write=False)
            self._o_cache = o
        return self._o_cache

    @property
    def marginals(self) -> IntArray:
        """Exact integer marginals n_c (values of each category in pairable units)."""
        return self._marginals.copy()

    @property
    def n_units(self) -> int:
        """Units with at least one value currently counted."""
        return sum(self._units_by_m.values())

    @property
    def n_pairable_units(self) -> int:
        """Units with m_u >= 2."""
        return sum(k for m, k in self._units_by_m.items() if m >= 2)

    @property
    def n_pairs(self) -> float:
        """Sum over pairable units of m_u (m_u - 1) / 2, the bootstrap's M."""
        return float(sum(k * m * (m - 1) // 2 for m, k in self._units_by_m.items()))

    def is_empty(self) -> bool:
        """True when no unit holds any value."""
        return not self._units_by_m

    def update(self, counts: npt.ArrayLike) -> None:
        """Add a unit with value counts `counts`."""
        self._apply(_as_counts(counts, self.n_values), +1)

    def revert(self, counts: npt.ArrayLike) -> None:
        """Remove a unit previously added with these counts."""
        vec = _as_counts(counts, self.n_values)
        self._check_revertible(vec)
        self._apply(vec, -1)

    def replace(self, old: npt.ArrayLike, new: npt.ArrayLike) -> None:
        """A unit changed from `old` to `new` counts (either may be all zeros); O(V^2)."""
        old_vec = _as_counts(old, self.n_values)
        new_vec = _as_counts(new, self.n_values)
        # Validate before touching anything so a bad revert leaves the state unchanged.
        self._check_revertible(old_vec)
        self._apply(old_vec, -1)
        self._apply(new_vec, +1)

    def apply(self, delta: UnitDelta) -> None:
        """Apply a prepared unit change (the hot path: no re-validation of the vectors)."""
        if delta.old.shape[0] != self.n_values:
            raise ValueError(f"delta has {delta.old.shape[0]} values, window has {self.n_values}")
        if delta.old_m:
            self._check_held(delta.old_m)
        self._add_fast(delta.old, delta.old_m, delta.old_block, -1)
        self._add_fast(delta.new, delta.new_m, delta.new_block, +1)

    def _check_held(self, m: int) -> None:
        if self._units_by_m.get(m, 0) < 1:
            raise ValueError(f"cannot revert a unit with {m} values: none is counted")

    def _add_fast(self, vec: IntArray, m: int, block: IntArray | None, sign: int) -> None:
        if m == 0:
            return
        held = self._units_by_m.get(m, 0) + sign
        if block is not None:
            s = self._s.get(m)
            if s is None:
                self._s[m] = block * sign
            elif sign > 0:
                s += block  # each window owns its arrays (copy() deep-copies), so in place is safe
            else:
                s -= block
            if held == 0:
                if self._s[m].any():
                    raise ValueError(f"inconsistent revert: units of size {m} do not cancel")
                del self._s[m]
            self._marginals += vec if sign > 0 else -vec
        self._set_units(m, held)
        self._o_cache = None

    def get(self, scale: npt.ArrayLike, level: Level) -> AlphaResult:
        """Alpha of the window on `scale` at `level`."""
        # The integer counter (not a float compare on O) decides "no pairable unit".
        return alpha_from_parts(
            self.o,
            self._marginals.astype(np.float64),
            scale,
            level,
            pairable=self.n_pairable_units > 0,
        )

    def _check_revertible(self, vec: IntArray) -> None:
        m = int(vec.sum())
        if m > 0 and self._units_by_m.get(m, 0) < 1:
            raise ValueError(f"cannot revert a unit with {m} values: none is counted")
        if m >= 2 and (self._marginals < vec).any():
            raise ValueError("cannot revert counts that were never added")

    def _apply(self, vec: IntArray, sign: int) -> None:
        m = int(vec.sum())
        if m == 0:
            return  # a unit with no value is not counted at all
        held = self._units_by_m.get(m, 0) + sign
        block = self._next_block(m, sign * _pair_block(vec), held) if m >= 2 else None
        # Everything that can fail ran above; commit only now so errors leave the state intact.
        self._set_units(m, held)
        if m >= 2:
            self._store_block(m, block)
            self._marginals += sign * vec
        self._o_cache = None

    def _next_block(self, m: int, block: IntArray, held: int) -> IntArray:
        if held < 0:
            raise ValueError(f"negative number of units with {m} values")
        s = self._s.get(m)
        s = block.copy() if s is None else s + block
        # Exact integers: with no unit of size m left, S_m must be exactly zero.
        if held == 0 and s.any():
            raise ValueError(f"inconsistent revert: units of size {m} do not cancel")
        return s

    def _store_block(self, m: int, s: IntArray | None) -> None:
        if s is None or m not in self._units_by_m:
            self._s.pop(m, None)
        else:
            self._s[m] = s

    def _set_units(self, m: int, held: int) -> None:
        if held < 0:
            raise ValueError(f"negative number of units with {m} values")
        if held == 0:
            self._units_by_m.pop(m, None)
        else:
            self._units_by_m[m] = held

    def _combine(self, other: Coincidence, sign: int) -> Coincidence:
        if other.n_values != self.n_values:
            raise ValueError(f"cannot merge windows of {self.n_values} and {other.n_values} values")
        out = self.copy()
        for m, k in other._units_by_m.items():
            out._set_units(m, out._units_by_m.get(m, 0) + sign * k)
        for m, s in other._s.items():
            held = out._units_by_m.get(m, 0)
            out._store_block(m, out._next_block(m, sign * s, held))
        out._marginals = out._marginals + sign * other._marginals
        return out

    def __add__(self, other: object) -> Coincidence:
        if not isinstance(other, Coincidence):
            return NotImplemented
        return self._combine(other, +1)

    def __sub__(self, other: object) -> Coincidence:
        if not isinstance(other, Coincidence):
            return NotImplemented
        return self._combine(other, -1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Coincidence):
            return NotImplemented
        return (
            self.n_values == other.n_values
            and self._units_by_m == other._units_by_m
            and self._s.keys() == other._s.keys()
            and all(np.array_equal(s, other._s[m]) for m, s in self._s.items())
        )

    def __repr__(self) -> str:
        return (
            f"Coincidence(n_values={self.n_values}, n_units={self.n_units}, "
            f"n_pairable_units={self.n_pairable_units})"
        )

    def copy(self) -> Coincidence:
        """Independent deep copy."""
        out = Coincidence(self.n_values)
        out._s = {m: s.copy() for m, s in self._s.items()}
        out._units_by_m = dict(self._units_by_m)
        out._marginals = self._marginals.copy()
        return out

    def to_state(self) -> dict[str, object]:
        """Compact JSON-serialisable state: per unit size m, unit count and upper triangle of S_m.

        S_m holds exact integers, so the state is exact (no float repr issues) and small:
        K * V (V + 1) / 2 integers for K distinct unit sizes.
        """
        upper = np.triu_indices(self.n_values)
        by_m: list[list[object]] = []
        for m in sorted(self._units_by_m):
            tri = self._s[m][upper].tolist() if m in self._s else []
            by_m.append([m, self._units_by_m[m], tri])
        return {"version": STATE_VERSION, "n_values": self.n_values, "by_m": by_m}

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> Coincidence:
        """Rebuild a Coincidence from `to_state` output (validated)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported coincidence state version {state.get('version')!r}")
        n_values = state.get("n_values")
        by_m = state.get("by_m")
        if not isinstance(n_values, int) or not isinstance(by_m, list):
            raise ValueError("coincidence state needs int 'n_values' and list 'by_m'")
        out = cls(n_values)
        for entry in by_m:
            out._load_entry(entry)
        return out

    def _load_entry(self, entry: object) -> None:
        if not isinstance(entry, list | tuple) or len(entry) != 3:
            raise ValueError(f"bad coincidence state entry {entry!r}")
        m, units, tri = entry
        if not isinstance(m, int) or not isinstance(units, int) or m < 1 or units < 1:
            raise ValueError(f"bad unit size or count in state entry {entry!r}")
        if m in self._units_by_m:
            raise ValueError(f"duplicate unit size {m} in state")
        self._units_by_m[m] = units
        if m < 2:
            return
        s = _symmetric_from_upper(tri, self.n_values)
        self._s[m] = s
        # Row sums of S_m are sum_u n_uc (m - 1), so the marginals are recovered exactly.
        self._marginals += s.sum(axis=1) // (m - 1)


def _symmetric_from_upper(tri: object, n_values: int) -> IntArray:
    """Rebuild a symmetric integer matrix from its row-major upper triangle."""
    expected = n_values * (n_values + 1) // 2
    if not isinstance(tri, list | tuple) or len(tri) != expected:
        raise ValueError(f"upper triangle must be a list of {expected} integers")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in tri):
        raise ValueError("upper triangle must hold integers")
    s = np.zeros((n_values, n_values), dtype=np.int64)
    rows, cols = np.triu_indices(n_values)
    s[rows, cols] = tri
    s[cols, rows] = tri
    return s
