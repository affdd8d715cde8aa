"""Incrementally maintained Krippendorff coincidence matrix of one window."""

from __future__ import annotations

import math
from collections.abc import Mapping
from operator import mul

import numpy as np
import numpy.typing as npt

from stream.stats.alpha import REASON_NO_PAIRABLE, REASON_NO_VARIATION, AlphaResult
from stream.stats.delta import (
    STATE_VERSION,
    UnitDelta,
    _layout,
    _pair_metric,
    _Side,
    _side,
)
from stream.stats.distance import FloatArray, IntArray, Level


class Coincidence:
    """Coincidence matrix of one window: river-style update/revert/get.

    O is held exactly as integer matrices S_m = sum of (n_u n_u^T - diag n_u) over units with
    m_u = m, so O = sum_m S_m / (m - 1). Integer bookkeeping means any sequence of updates,
    reverts and merges leaves no floating residue: (a + b) - b == a bit for bit.

    For queries the blocks are also kept summed over a common denominator: with L the lcm of
    m - 1 over the unit sizes present, T = L O = sum_m S_m L / (m - 1) is an exact integer matrix
    (off-diagonal pairs only: d_cc = 0). T and L are functions of the blocks alone, whatever the
    history, and every update touches only the pairs of categories the unit uses.
    """

    __slots__ = (
        "_blocks", "_denominator", "_marginals", "_n", "_pairs", "_t", "_units_by_m", "_weights",
        "n_values",
    )

    def __init__(self, n_values: int) -> None:
        if n_values < 1:
            raise ValueError("n_values must be at least 1")
        self.n_values = int(n_values)
        self._blocks: dict[int, list[int]] = {}  # m -> upper triangle of S_m (m >= 2 only)
        self._units_by_m: dict[int, int] = {}
        self._marginals: list[int] = [0] * self.n_values
        self._n = 0  # sum of the marginals: values in pairable units
        self._pairs = _layout(self.n_values).pairs  # (c, k), c < k, in the order of _t
        self._t: list[int] = [0] * len(self._pairs)
        self._denominator = 1
        self._weights: dict[int, int] = {}  # m -> L / (m - 1)

    @property
    def o(self) -> FloatArray:
        """VxV float64 coincidence matrix (a new array at each call)."""
        v = self.n_values
        o = np.zeros((v, v), dtype=np.float64)
        upper = np.triu_indices(v)
        # Sorted order makes the float result identical for equal states built differently.
        for m in sorted(self._blocks):
            o[upper] += np.array(self._blocks[m], dtype=np.float64) / float(m - 1)
        return np.triu(o, 1).T + o

    @property
    def marginals(self) -> IntArray:
        """Exact integer marginals n_c (values of each category in pairable units)."""
        return np.array(self._marginals, dtype=np.int64)

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
        self._add(self._own(_side(counts)), +1)

    def revert(self, counts: npt.ArrayLike) -> None:
        """Remove a unit previously added with these counts."""
        side = self._own(_side(counts))
        self._check_removable(side)
        self._add(side, -1)

    def replace(self, old: npt.ArrayLike, new: npt.ArrayLike) -> None:
        """A unit changed from `old` to `new` counts (either may be all zeros)."""
        self.apply(UnitDelta.of(old, new))

    def apply(self, delta: UnitDelta) -> None:
        """Apply a prepared unit change (the hot path: O(pairs of categories the unit uses))."""
        if delta.old.n_values != self.n_values:
            raise ValueError(f"delta has {delta.old.n_values} values, window has {self.n_values}")
        # Validate before touching anything so a bad revert leaves the state unchanged.
        self._check_removable(delta.old)
        self._add(delta.old, -1)
        self._add(delta.new, +1)

    def _own(self, side: _Side) -> _Side:
        if side.n_values != self.n_values:
            raise ValueError(f"counts have {side.n_values} values, window has {self.n_values}")
        return side

    def _check_removable(self, side: _Side) -> None:
        m = side.m
        if m == 0:
            return
        held = self._units_by_m.get(m, 0)
        if held < 1:
            raise ValueError(f"cannot revert a unit with {m} values: none is counted")
        if m < 2:
            return
        marginals = self._marginals
        for _, c, x, _ in side.diagonal:
            if marginals[c] < x:
                raise ValueError("cannot revert counts that were never added")
        # Exact integers: with no unit of size m left, S_m must be exactly zero.
        if held == 1 and self._blocks[m] != side.dense_block():
            raise ValueError(f"inconsistent revert: units of size {m} do not cancel")

    def _add(self, side: _Side, sign: int) -> None:
        """Add (sign +1) or remove (sign -1) one unit; removals are checked by the caller."""
        m = side.m
        if m == 0:
            return  # a unit with no value is not counted at all
        units = self._units_by_m
        held = units.get(m, 0) + sign
        if held:
            units[m] = held
        else:
            del units[m]
        if m < 2:
            return
        block = self._blocks.get(m)
        if block is None:
            block = self._blocks[m] = [0] * (self.n_values * (self.n_values + 1) // 2)
            self._set_denominator()
        marginals = self._marginals
        for i, c, x, v in side.diagonal:
            block[i] += sign * v
            marginals[c] += sign * x
        t, weight = self._t, sign * self._weights[m]
        for i, p, v in side.off_diagonal:
            block[i] += sign * v
            t[p] += weight * v
        self._n += sign * m
        if not held:
            del self._blocks[m]
            self._set_denominator()

    def _set_denominator(self) -> None:
        """Keep L = lcm(m - 1 over present sizes), rescaling T exactly when it changes."""
        new = math.lcm(*(m - 1 for m in self._blocks))
        old = self._denominator
        if new > old:
            self._t = [x * (new // old) for x in self._t]  # new is a multiple of old
        elif new < old:
            # Every remaining S_m carries the factor L / (m - 1), a multiple of old // new.
            self._t = [x // (old // new) for x in self._t]
        self._denominator = new
        self._weights = {m: new // (m - 1) for m in self._blocks}

    def get(self, scale: npt.ArrayLike, level: Level) -> AlphaResult:
        """Alpha of the window on `scale` at `level`.

        alpha = 1 - D_o / D_e with D_o = sum(o d) / n and D_e = sum(n_c n_k d) / (n (n - 1)).
        Both sums run over the pairs c < k (d_cc = 0) on exact integers for the ordinal and
        nominal levels and for interval on an integral scale, so only the final divisions round.
        """
        level, metric = _pair_metric(level, scale, self.n_values)
        n = self._n
        if n == 0:  # no pairable unit: each one adds at least 2 values
            return AlphaResult(None, REASON_NO_PAIRABLE, level, 0.0, None, None)
        marginals, pairs = self._marginals, self._pairs
        x: float
        y: float
        if metric is None:
            # Ordinal: d_ck = (q_k - q_c)^2 / 4 where q_c / 2 = n_0 + .. + n_{c-1} + n_c / 2 is the
            # mid-rank of c. Since sum_c n_c q_c = n^2, sum_{c<k} n_c n_k (q_k - q_c)^2 reduces to
            # n (sum_c n_c q_c^2 - n^3): O(V) for the expected part, all in exact integers.
            factor = 4
            q: list[int] = []
            below = sum_q2 = 0
            for n_c in marginals:  # a plain loop beats accumulate/zip for small V
                q_c = 2 * below + n_c
                q.append(q_c)
                sum_q2 += n_c * q_c * q_c
                below += n_c
            x = sum(map(mul, self._t, [(q[k] - q[c]) ** 2 for c, k in pairs]))
            y = n * (sum_q2 - n * n * n)
        else:
            factor = 1
            x = sum(map(mul, self._t, metric))
            y = sum(map(mul, [marginals[c] * marginals[k] for c, k in pairs], metric))
        # sum_{c,k} o_ck d_ck = 2 x / (L factor) and sum_{c,k} n_c n_k d_ck = 2 y / factor.
        observed = 2 * x / (self._denominator * factor * n)
        # y is a sum of terms >= 0 (exact integers but for float scales): "no variation" is exactly 0.
        if y <= 0:
            return AlphaResult(None, REASON_NO_VARIATION, level, float(n), observed, 0.0)
        expected = 2 * y / (factor * n * (n - 1))
        alpha = 1.0 - (n - 1) * x / (self._denominator * y)
        return AlphaResult(alpha, None, level, float(n), observed, expected)

    def _combine(self, other: Coincidence, sign: int) -> Coincidence:
        if other.n_values != self.n_values:
            raise ValueError(f"cannot merge windows of {self.n_values} and {other.n_values} values")
        units = dict(self._units_by_m)
        blocks = {m: list(s) for m, s in self._blocks.items()}
        for m, k in other._units_by_m.items():
            held = units.get(m, 0) + sign * k
            if held < 0:
                raise ValueError(f"negative number of units with {m} values")
            if held:
                units[m] = held
            else:
                units.pop(m, None)
        size = self.n_values * (self.n_values + 1) // 2
        for m, s in other._blocks.items():
            blocks[m] = [a + sign * b for a, b in zip(blocks.get(m, [0] * size), s, strict=True)]
            if m not in units:
                if any(blocks[m]):
                    raise ValueError(f"inconsistent revert: units of size {m} do not cancel")
                del blocks[m]
        return Coincidence._from_blocks(self.n_values, units, blocks)

    @classmethod
    def _from_blocks(cls, n_values: int, units: dict[int, int], blocks: dict[int, list[int]]) -> Coincidence:
        """A window from its exact state; marginals, T and L are derived from the blocks."""
        out = cls(n_values)
        out._units_by_m = units
        out._blocks = blocks
        out._set_denominator()  # T is still all zeros: only L and the weights are set
        layout = _layout(n_values)
        for m, s in blocks.items():
            row_sums = [0] * n_values
            for c in range(n_values):
                for k in range(c, n_values):
                    x = s[layout.upper_row[c] + k]
                    row_sums[c] += x
                    if k != c:
                        row_sums[k] += x
            # Row sums of S_m are sum_u n_uc (m - 1), so the marginals are recovered exactly.
            for c, row_sum in enumerate(row_sums):
                out._marginals[c] += row_sum // (m - 1)
            for p, (c, k) in enumerate(layout.pairs):
                out._t[p] += out._weights[m] * s[layout.upper_row[c] + k]
        out._n = sum(out._marginals)
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
            and self._blocks == other._blocks
        )

    def __repr__(self) -> str:
        return (
            f"Coincidence(n_values={self.n_values}, n_units={self.n_units}, "
            f"n_pairable_units={self.n_pairable_units})"
        )

    def copy(self) -> Coincidence:
        """Independent deep copy."""
        out = Coincidence(self.n_values)
        out._blocks = {m: list(s) for m, s in self._blocks.items()}
        out._units_by_m = dict(self._units_by_m)
        out._marginals = list(self._marginals)
        out._n = self._n
        out._t = list(self._t)
        out._denominator = self._denominator
        out._weights = dict(self._weights)
        return out

    def to_state(self) -> dict[str, object]:
        """Compact JSON-serialisable state: per unit size m, unit count and upper triangle of S_m.

        S_m holds exact integers, so the state is exact (no float repr issues) and small:
        K * V (V + 1) / 2 integers for K distinct unit sizes.
        """
        by_m: list[list[object]] = []
        for m in sorted(self._units_by_m):
            by_m.append([m, self._units_by_m[m], list(self._blocks.get(m, []))])
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
        units: dict[int, int] = {}
        blocks: dict[int, list[int]] = {}
        for entry in by_m:
            if not isinstance(entry, list | tuple) or len(entry) != 3:
                raise ValueError(f"bad coincidence state entry {entry!r}")
            m, held, tri = entry
            if not isinstance(m, int) or not isinstance(held, int) or m < 1 or held < 1:
                raise ValueError(f"bad unit size or count in state entry {entry!r}")
            if m in units:
                raise ValueError(f"duplicate unit size {m} in state")
            units[m] = held
            if m >= 2:
                blocks[m] = _upper_triangle(tri, n_values)
        return cls._from_blocks(n_values, units, blocks)


def _upper_triangle(tri: object, n_values: int) -> list[int]:
    """Validate a symmetric integer matrix's row-major upper triangle from a state."""
    expected = n_values * (n_values + 1) // 2
    if not isinstance(tri, list | tuple) or len(tri) != expected:
        raise ValueError(f"upper triangle must be a list of {expected} integers")
    out: list[int] = []
    for x in tri:
        if not isinstance(x, int) or isinstance(x, bool):
            raise ValueError("upper triangle must hold integers")
        out.append(x)
    return out
