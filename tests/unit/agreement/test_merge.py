"""Merge-stage interval figures: the sorted-copy percentiles equal numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from stream.agreement.merge import MergeConfig, Merger, _percentile


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
