"""Alpha of a researcher table per dimension, with the stream's statistics, bootstrap and minimum sample."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from stream.agreement.pilot import judged, minimum_sample
from stream.agreement.tables import Table, TableError, values_of
from stream.settings import Settings
from stream.stats import Coincidence, bootstrap_alpha
from stream.stats.distance import Level


def domain(values: list[str]) -> tuple[list[str], np.ndarray, bool]:
    """The distinct values in scale order, their numbers, and whether they are numeric."""
    distinct = sorted(set(values))
    try:
        numbers = {v: float(v) for v in distinct}
    except ValueError:
        return distinct, np.arange(len(distinct), dtype=float), False
    if not all(np.isfinite(list(numbers.values()))):
        raise TableError(f"values must be finite numbers or labels, not {distinct}")
    ordered = sorted(distinct, key=lambda v: numbers[v])
    return ordered, np.asarray([numbers[v] for v in ordered]), True


def matrix_of(table: Table, dimension: str) -> tuple[Coincidence, np.ndarray, bool]:
    """The dimension's coincidence matrix over its own value domain."""
    units = list(values_of(table, dimension))
    codes, scale, numeric = domain([v for unit in units for v in unit])
    index = {v: i for i, v in enumerate(codes)}
    matrix = Coincidence(len(codes))
    for unit in units:
        counts = np.zeros(len(codes), dtype=np.int64)
        for value in unit:
            counts[index[value]] += 1
        matrix.update(counts)
    return matrix, scale, numeric


def row(table: Table, dimension: str, level: Level, settings: Settings, ci: bool) -> dict[str, Any]:
    """One dimension's alpha at `level`, its interval with --ci, and the pilot verdict."""
    matrix, scale, numeric = matrix_of(table, dimension)
    if level != "nominal" and not numeric:
        raise TableError(f"dimension {dimension!r}: {level} alpha needs numeric values (found labels "
                         f"such as {sorted(set(v for u in values_of(table, dimension) for v in u))[:3]});"
                         " use --level nominal")
    point = matrix.get(scale, level)
    out: dict[str, Any] = {
        "dimension": dimension, "level": level, "alpha": point.alpha, "alpha_reason": point.reason,
        "n_units": len(table.answers[dimension]), "n_pairable_units": matrix.n_pairable_units,
        "n_pairable_values": point.n_pairable_values, "values": len(scale),
        "ci_low": None, "ci_high": None,
    }
    if ci:
        boot = bootstrap_alpha(matrix.o, scale, level, matrix.n_pairable_units,
                               threshold=settings.alpha_threshold,
                               n_boot=max(1, settings.bootstrap_samples), rng=np.random.default_rng(0))
        out |= {"ci_low": boot.ci_low, "ci_high": boot.ci_high}
    out["min_pairable_values"] = minimum_sample(settings, settings.alpha_threshold, len(scale),
                                                matrix.marginals)
    verdict = judged(out)
    out["verdict"] = verdict if ci or verdict.startswith("too few") else "-"  # a verdict needs --ci
    return out


def rows(table: Table, level: Callable[[str], Level], settings: Settings, ci: bool) -> list[dict[str, Any]]:
    """Every dimension's row; `level` names each dimension's level."""
    return [row(table, dim, level(dim), settings, ci) for dim in sorted(table.answers)]
