"""Bootstrap interval for alpha from the coincidence matrix alone (KALPHA algorithm)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from stream.stats.alpha import alpha_from_parts, as_square, matrix_marginals
from stream.stats.distance import FloatArray, Level, distance_matrix

REASON_NO_PAIRS = "no pairs to resample (n_pairs rounds to 0)"

# Caps the multinomial draw buffer (replicates x cells) so large scales do not blow up memory.
_MAX_DRAW_CELLS = 2_000_000


@dataclass(frozen=True)
class BootstrapResult:
    """95% percentile interval of alpha and the share of replicates below `threshold`."""

    ci_low: float | None
    ci_high: float | None
    p_below: float | None
    threshold: float
    n_boot: int
    reason: str | None


@cache
def _upper(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray]:
    """Upper-triangle indices of an n x n matrix and each cell's pair factor (1 diagonal, 2 off);
    cached: np.triu_indices cost as much as the rest of a small matrix's cell setup."""
    rows, cols = np.triu_indices(n)
    return rows, cols, np.where(rows == cols, 1.0, 2.0)


def _pair_cells(o: FloatArray, d: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Probabilities of the distinct pair distances, and those distances.

    A pair falls in an upper-triangle cell with probability o_cc / n or 2 o_ck / n; cells of
    equal distance are merged, which leaves the distribution of a replicate's summed distance
    unchanged (a multinomial's merged categories are multinomial) and makes the draw cheaper: a
    nominal draw becomes one binomial, an interval one five categories on a 1-5 scale.
    """
    rows, cols, factor = _upper(o.shape[0])
    # Float residues can leave -1e-17 in cells that should be 0; multinomial needs p >= 0.
    weights = np.clip(factor * o[rows, cols], 0.0, None)
    distances, index = np.unique(d[rows, cols], return_inverse=True)
    merged = np.bincount(index, weights=weights, minlength=len(distances))
    keep = merged > 0
    return merged[keep] / merged[keep].sum(), distances[keep]


def _replicate_disagreements(
    probs: FloatArray, d_cells: FloatArray, n_draws: int, n_boot: int, rng: np.random.Generator
) -> FloatArray:
    """Sum of d over n_draws sampled pairs, per replicate; O(n_boot * V^2), not O(units)."""
    totals = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, _MAX_DRAW_CELLS // probs.shape[0])
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        draws = rng.multinomial(n_draws, probs, size=size)
        totals[start : start + size] = draws @ d_cells
    return totals


def bootstrap_replicates(
    o: npt.ArrayLike,
    scale: npt.ArrayLike,
    level: Level,
    n_pairs: float,
    *,
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
) -> tuple[FloatArray | None, str | None]:
    """The n_boot replicates alpha* (clamped at -1), or (None, reason) when alpha is undefined.

    alpha* = 1 - sum(d of M drawn pairs) / (M D_e) with M = round(n_pairs), the number of
    pairable pairs, and D_e held at the window's expected disagreement.
    """
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    matrix = as_square(o)
    marginals = matrix_marginals(matrix)
    point = alpha_from_parts(matrix, marginals, scale, level, pairable=float(marginals.sum()) > 1.0)
    if point.alpha is None or point.expected_disagreement is None:
        return None, point.reason
    n_draws = round(n_pairs)
    if n_draws < 1:
        return None, REASON_NO_PAIRS
    generator = rng if rng is not None else np.random.default_rng()
    probs, d_cells = _pair_cells(matrix, distance_matrix(level, scale, marginals))
    totals = _replicate_disagreements(probs, d_cells, n_draws, n_boot, generator)
    # D_e stays the window's value: the KALPHA algorithm resamples observed disagreement only.
    replicates: FloatArray = np.maximum(
        1.0 - totals / (n_draws * point.expected_disagreement), -1.0
    )
    return replicates, None


def bootstrap_alpha(
    o: npt.ArrayLike,
    scale: npt.ArrayLike,
    level: Level,
    n_pairs: float,
    *,
    threshold: float = 0.667,
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
) -> BootstrapResult:
    """95% percentile interval of alpha and p_below = share of replicates below `threshold`.

    Pass a seeded `rng` for reproducible results; undefined alpha gives all None and a reason.
    """
    replicates, reason = bootstrap_replicates(o, scale, level, n_pairs, n_boot=n_boot, rng=rng)
    if replicates is None:
        return BootstrapResult(None, None, None, threshold, n_boot, reason)
    low, high = np.percentile(replicates, [2.5, 97.5])
    p_below = float(np.mean(replicates < threshold))
    return BootstrapResult(float(low), float(high), p_below, threshold, n_boot, None)
