"""Krippendorff's alpha from a coincidence matrix, with explicit undefined cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream.stats.distance import FloatArray, Level, check_level, distance_matrix

REASON_NO_PAIRABLE = "no pairable unit (no unit has at least two values)"
REASON_NO_VARIATION = "no variation (expected disagreement is 0)"

# Marginals of a genuine coincidence matrix are integer counts of pairable values; float sums of
# 1/(m_u - 1) fractions leave residues far below this, weighted or scaled matrices far above it.
_SNAP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class AlphaResult:
    """Alpha of one window; alpha is None (with a reason) when undefined, never a fake 0 or 1."""

    alpha: float | None
    reason: str | None
    level: Level
    n_pairable_values: float
    observed_disagreement: float | None
    expected_disagreement: float | None


def as_square(o: npt.ArrayLike) -> FloatArray:
    """Validate a coincidence matrix as a square float64 array."""
    matrix = np.asarray(o, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"coincidence matrix must be square, got shape {matrix.shape}")
    return matrix


def matrix_marginals(o: FloatArray) -> FloatArray:
    """Row sums n_c of `o`, snapped to integers when they are integers up to float residue.

    Without the snap, a window with no variation would get D_e ~ 1e-17 instead of exactly 0
    and report a meaningless alpha instead of "undefined".
    """
    raw: FloatArray = o.sum(axis=1)
    rounded: FloatArray = np.rint(raw)
    if np.all(np.abs(raw - rounded) <= _SNAP_TOLERANCE):
        return rounded
    return raw


def alpha_from_parts(
    o: FloatArray, marginals: FloatArray, scale: npt.ArrayLike, level: Level, *, pairable: bool
) -> AlphaResult:
    """Alpha from a matrix and its marginals; `pairable` says whether any unit has m_u >= 2.

    alpha = 1 - D_o / D_e with D_o = sum(o d) / n and D_e = sum(n_c n_k d) / (n (n - 1)),
    which is Krippendorff's 1 - (n - 1) sum(o d) / sum(n_c n_k d).
    """
    level = check_level(level)
    n = float(marginals.sum())
    if not pairable:
        return AlphaResult(None, REASON_NO_PAIRABLE, level, n, None, None)
    d = distance_matrix(level, scale, marginals)
    observed = float((o * d).sum()) / n
    expected = float(marginals @ d @ marginals) / (n * (n - 1.0))
    # Every term of D_e is >= 0, so with integer marginals "no variation" gives exactly 0.0.
    if expected <= 0.0:
        return AlphaResult(None, REASON_NO_VARIATION, level, n, observed, 0.0)
    return AlphaResult(1.0 - observed / expected, None, level, n, observed, expected)


def alpha_from_matrix(o: npt.ArrayLike, scale: npt.ArrayLike, level: Level) -> AlphaResult:
    """Krippendorff's alpha of a coincidence matrix `o` on `scale` at `level`."""
    matrix = as_square(o)
    marginals = matrix_marginals(matrix)
    # A pairable unit adds at least 2 to n, so anything at or below 1 is empty (or residue).
    return alpha_from_parts(matrix, marginals, scale, level, pairable=float(marginals.sum()) > 1.0)
