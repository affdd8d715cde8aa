"""Offline agreement with bootstrap intervals: the pilot-study ranking and the report's offline series."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from stream.agreement.offline import GroupKey, OfflineResult, collect, matrices
from stream.flags.policy import Policy, rarest_share
from stream.settings import Settings
from stream.stats import Coincidence, bootstrap_alpha

# Krippendorff (2004): 0.800 for conclusions that rely on the data, 0.667 for tentative ones
BARS = (0.667, 0.800)


def scale_of(dimension: str, settings: Settings) -> np.ndarray:
    return np.asarray(settings.scale_for(dimension), float)


def with_interval(key: GroupKey, matrix: Coincidence, settings: Settings, seed: int = 0) -> dict[str, Any]:
    """Alpha of one group with the stream's bootstrap (same draws, replicates and threshold)."""
    dim, name, size, start = key
    level = settings.level_for(dim)
    scale = scale_of(dim, settings)
    point = matrix.get(scale, level)
    draws = matrix.n_pairable_units if settings.bootstrap_draws == "units" else matrix.n_pairs
    boot = bootstrap_alpha(matrix.o, scale, level, draws, threshold=settings.threshold_for(dim),
                           n_boot=max(1, settings.bootstrap_samples), rng=np.random.default_rng(seed))
    return {"dimension": dim, "slice": name, "window_size_s": size, "window_start": start,
            "level": level, "alpha": point.alpha, "alpha_reason": point.reason,
            "ci_low": boot.ci_low, "ci_high": boot.ci_high, "p_below_threshold": boot.p_below,
            "threshold": settings.threshold_for(dim), "n_units": matrix.n_units,
            "n_pairable_values": point.n_pairable_values,
            "min_pairable_values": minimum_sample(settings, settings.threshold_for(dim), len(scale),
                                                  matrix.marginals)}


def intervals(result: OfflineResult, settings: Settings, by_slice: bool = False,
              window_s: int | None = None) -> list[dict[str, Any]]:
    """Every group's alpha and interval, sorted by dimension, slice and window."""
    groups = matrices(result, settings, by_slice, window_s)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][3] or 0))
    return [with_interval(key, matrix, settings, seed) for seed, (key, matrix) in enumerate(ordered)]


def minimum_sample(settings: Settings, threshold: float, n_values: int, marginals: Any) -> float:
    """Pairable values a verdict needs: the flags' rule (Krippendorff's minimum for the rarest
    value present, or ALPHAWATCH_FLAG_MIN_PAIRABLE)."""
    policy = Policy(threshold, settings.flag_confidence, settings.flag_margin, max(2, n_values),
                    settings.flag_min_pairable, settings.flag_look_growth, settings.flag_min_share)
    return policy.minimum(rarest_share(marginals))


def judged(row: dict[str, Any]) -> str:
    """The verdict, or "too few pairable values" below the minimum sample."""
    if row["alpha"] is not None and row["n_pairable_values"] < row["min_pairable_values"]:
        return (f"too few pairable values ({row['n_pairable_values']:.0f} of "
                f"{row['min_pairable_values']:.0f} needed)")
    return verdict(row)


def verdict(row: dict[str, Any]) -> str:
    """Which bar the dimension reaches with 95% confidence (the interval's low end), if any."""
    low = row["ci_low"]
    if low is None:
        return "undefined" if row["alpha"] is None else "no interval"
    reached = [bar for bar in BARS if low >= bar]
    if reached:
        return f">= {max(reached):.3f}"
    return "below 0.667" if row["ci_high"] is not None and row["ci_high"] < BARS[0] else "inconclusive"


def rank(lines: Iterable[bytes], settings: Settings) -> list[dict[str, Any]]:
    """Pilot study: candidate dimensions (whole file, slice all) ranked by alpha, with CIs and the
    bars they reach; a dimension whose interval straddles a bar needs more pilot data."""
    rows = intervals(collect(lines, settings), settings)
    for row in rows:
        row["verdict"] = judged(row)
        row["reaches"] = {f"{bar:.3f}": _reaches(row, bar) for bar in BARS}
    return sorted(rows, key=lambda r: -np.inf if r["alpha"] is None else -r["alpha"])


def _reaches(row: dict[str, Any], bar: float) -> bool | None:
    """True when the whole interval is at or above the bar, False when below it, None in between."""
    low, high = row["ci_low"], row["ci_high"]
    if low is None or high is None:
        return None
    return True if low >= bar else False if high < bar else None
