"""Krippendorff's squared distance metrics for the four levels of measurement."""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]


def check_level(level: str) -> Level:
    """Return `level` typed as a Level, or raise ValueError for an unknown one."""
    for known in LEVELS:
        if level == known:
            return known
    raise ValueError(f"unknown level of measurement {level!r}; expected one of {LEVELS}")


def as_scale(scale: npt.ArrayLike, n_values: int) -> FloatArray:
    """Validate a scale (the numeric value of each index 0..V-1) as a float64 vector."""
    values = np.asarray(scale, dtype=np.float64)
    if values.shape != (n_values,):
        raise ValueError(f"scale must have shape ({n_values},), got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("scale values must be finite")
    return values


def _nominal(values: FloatArray) -> FloatArray:
    differ: npt.NDArray[np.bool_] = values[:, None] != values[None, :]
    return differ.astype(np.float64)


def _interval(values: FloatArray) -> FloatArray:
    diff = values[:, None] - values[None, :]
    return diff * diff


def _ratio(values: FloatArray) -> FloatArray:
    diff = values[:, None] - values[None, :]
    total = values[:, None] + values[None, :]
    # 0/0 only happens for the pair (0, 0), whose distance is 0 (as in krippendorff 0.9.0).
    ratio = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0)
    return ratio * ratio


# Index grids per scale length: built once, because a query runs at every event.
_ORDINAL_INDEX: dict[int, tuple[IntArray, IntArray]] = {}
# Distances that do not depend on the marginals, per (level, scale), shared read-only.
_FIXED: dict[tuple[str, bytes], FloatArray] = {}


def _ordinal_index(n_values: int) -> tuple[IntArray, IntArray]:
    grids = _ORDINAL_INDEX.get(n_values)
    if grids is None:
        idx = np.arange(n_values)
        lo: IntArray = np.minimum(idx[:, None], idx[None, :])
        hi: IntArray = np.maximum(idx[:, None], idx[None, :]) + 1
        grids = _ORDINAL_INDEX.setdefault(n_values, (lo, hi))
    return grids


def _ordinal(marginals: FloatArray) -> FloatArray:
    # Prefix sums turn "sum of n_g for g between c and k inclusive" into one subtraction per cell,
    # so the whole matrix is O(V^2) however the marginals changed since the last query.
    prefix = np.empty(marginals.shape[0] + 1)
    prefix[0] = 0.0
    np.cumsum(marginals, out=prefix[1:])
    lo, hi = _ordinal_index(marginals.shape[0])
    between: FloatArray = prefix[hi] - prefix[lo]
    diff: FloatArray = between - (marginals[:, None] + marginals[None, :]) / 2.0
    return diff * diff


def distance_matrix(level: Level, scale: npt.ArrayLike, marginals: npt.ArrayLike) -> FloatArray:
    """VxV matrix of squared distances d_ck for `level`.

    Ordinal distances depend on the marginals n_c (not on the scale values, only on their
    order), so callers must pass the current marginals at each query.
    """
    level = check_level(level)
    margins = np.asarray(marginals, dtype=np.float64)
    if margins.ndim != 1:
        raise ValueError(f"marginals must be a vector, got shape {margins.shape}")
    values = as_scale(scale, margins.shape[0])
    if level == "ordinal":
        return _ordinal(margins)
    key = (level, values.tobytes())
    fixed = _FIXED.get(key)
    if fixed is None:
        fixed = {"nominal": _nominal, "interval": _interval, "ratio": _ratio}[level](values)
        fixed.setflags(write=False)
        fixed = _FIXED.setdefault(key, fixed)
    return fixed
