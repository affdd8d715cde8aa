"""Merge-stage interval figures and the refresh of live replicates."""

from __future__ import annotations

import numpy as np
import pytest

from stream.agreement.merge import MergeConfig, Merger, _percentile
from stream.stats import Coincidence


@pytest.mark.parametrize("n", [1, 2, 3, 200, 1000, 1001])
def test_percentile_equals_numpy_linear(n: int) -> None:
    reps = np.random.default_rng(n).normal(0.7, 0.05, size=n)
    ordered = np.sort(reps)
    for q in (2.5, 50.0, 97.5):
        assert _percentile(ordered, q) == pytest.approx(float(np.percentile(reps, q)), abs=1e-12)


def test_interval_equals_percentiles_and_shares_below() -> None:
    config = MergeConfig(n_partitions=1, scales={"m": [1, 2, 3]}, levels={"m": "ordinal"}, threshold=0.7,
                         n_boot=1000, seed=1, margin=0.05)
    reps = np.random.default_rng(3).normal(0.7, 0.05, size=1000)
    low, high, below, recovery = Merger(config, {}).interval(("m", "all", 3600, 0), reps, 0.7)
    assert (low, high) == pytest.approx(tuple(np.percentile(reps, [2.5, 97.5])), abs=1e-12)
    assert below == float(np.mean(reps < 0.7))
    assert recovery == float(np.mean(reps < 0.75))


def test_live_replicates_refresh_after_one_percent_growth_and_a_second() -> None:
    config = MergeConfig(n_partitions=1, scales={"m": [0, 1]}, levels={"m": "nominal"}, threshold=0.7,
                         n_boot=1000, seed=None, n_boot_live=50, refresh=0.01, refresh_s=1.0)
    now = [100.0]
    merger = Merger(config, {}, clock=lambda: now[0])
    key, scale = ("m", "all", 3600, 0), np.array([0.0, 1.0])

    def matrix(units: int) -> Coincidence:
        out = Coincidence(2)
        for u in range(units):
            out.update((2, 0) if u % 3 else (1, 1))
        return out

    first = merger.replicates(key, matrix(100), scale, "nominal", final=False)
    assert first is not None and len(first) == 50
    assert merger.replicates(key, matrix(200), scale, "nominal", final=False) is first  # < 1 s
    assert key in merger.held  # grown past them: too stale to rule a flag out
    now[0] += 1.0
    assert merger.replicates(key, matrix(101), scale, "nominal", final=False) is first  # < 1%
    assert key not in merger.held
    fresh = merger.replicates(key, matrix(200), scale, "nominal", final=False)
    assert fresh is not first and fresh is not None and key not in merger.held
    final = merger.replicates(key, matrix(200), scale, "nominal", final=True)  # never cached
    assert final is not None and len(final) == 1000
