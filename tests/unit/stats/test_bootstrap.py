"""Tests of the KALPHA-style bootstrap drawn from the coincidence matrix."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from stream.stats import (
    LEVELS,
    REASON_NO_PAIRABLE,
    REASON_NO_PAIRS,
    REASON_NO_VARIATION,
    Coincidence,
    Level,
    bootstrap_alpha,
    bootstrap_replicates,
)
from stream.stats.distance import distance_matrix

SCALE = np.arange(1.0, 6.0)


def noisy_window(n_units: int, seed: int) -> Coincidence:
    """Units with 3-5 ratings on 1-5 around a true value, off by one 40% of the time."""
    rng = np.random.default_rng(seed)
    coincidence = Coincidence(len(SCALE))
    for _ in range(n_units):
        truth = rng.integers(1, 6)
        ratings = np.clip(truth + rng.choice([-1, 0, 0, 0, 1], size=rng.integers(3, 6)), 1, 5)
        coincidence.update(np.bincount(ratings - 1, minlength=len(SCALE)))
    return coincidence


@pytest.fixture(scope="module")
def large_window() -> Coincidence:
    return noisy_window(3000, seed=11)


@pytest.mark.parametrize("level", LEVELS)
def test_large_sample_centred_on_alpha(large_window: Coincidence, level: Level) -> None:
    alpha = large_window.get(SCALE, level).alpha
    assert alpha is not None
    replicates, reason = bootstrap_replicates(
        large_window.o, SCALE, level, large_window.n_pairs, rng=np.random.default_rng(3)
    )
    assert reason is None and replicates is not None
    assert replicates.shape == (2000,)
    # E[alpha*] = alpha exactly (the draws are unbiased for D_o); 2000 replicates of sd < 0.01.
    assert abs(float(replicates.mean()) - alpha) < 2e-3
    result = bootstrap_alpha(
        large_window.o, SCALE, level, large_window.n_pairs, rng=np.random.default_rng(3)
    )
    assert result.reason is None
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < alpha < result.ci_high
    assert result.ci_high - result.ci_low < 0.05
    assert result.n_boot == 2000 and result.threshold == 0.667


def test_interval_narrows_with_more_units() -> None:
    widths = []
    for n_units in (100, 2000):
        window = noisy_window(n_units, seed=5)
        result = bootstrap_alpha(
            window.o, SCALE, "interval", window.n_pairs, rng=np.random.default_rng(0)
        )
        assert result.ci_low is not None and result.ci_high is not None
        widths.append(result.ci_high - result.ci_low)
    # Width scales like 1/sqrt(M): 20x the units should give roughly 1/4.5 the width.
    assert widths[1] < widths[0] / 3


def test_seeded_results_are_reproducible(large_window: Coincidence) -> None:
    def run(seed: int) -> object:
        return bootstrap_alpha(
            large_window.o,
            SCALE,
            "ordinal",
            large_window.n_pairs,
            n_boot=500,
            rng=np.random.default_rng(seed),
        )

    assert run(42) == run(42)
    assert run(42) != run(43)


def test_p_below_threshold(large_window: Coincidence) -> None:
    alpha = large_window.get(SCALE, "interval").alpha
    assert alpha is not None and alpha > 0.8
    common = {"n_boot": 1000, "rng": np.random.default_rng(9)}
    far_below = bootstrap_alpha(
        large_window.o, SCALE, "interval", large_window.n_pairs, threshold=0.667, **common
    )
    assert far_below.p_below == 0.0
    far_above = bootstrap_alpha(
        large_window.o, SCALE, "interval", large_window.n_pairs, threshold=0.95, **common
    )
    assert far_above.p_below == 1.0
    at_alpha = bootstrap_alpha(
        large_window.o, SCALE, "interval", large_window.n_pairs, threshold=alpha, **common
    )
    assert at_alpha.p_below is not None and 0.35 < at_alpha.p_below < 0.65


def test_replicates_clamped_at_minus_one() -> None:
    # Two units in total disagreement: alpha < 0 and small M gives wild replicates.
    window = Coincidence(len(SCALE))
    window.update([1, 0, 0, 0, 1])
    window.update([0, 1, 0, 0, 0])
    window.update([1, 0, 0, 0, 0])
    window.update([0, 0, 0, 1, 1])
    replicates, _ = bootstrap_replicates(
        window.o, SCALE, "interval", window.n_pairs, n_boot=3000, rng=np.random.default_rng(1)
    )
    assert replicates is not None
    assert replicates.min() == -1.0
    assert np.all(replicates <= 1.0)


@pytest.mark.parametrize("level", LEVELS)
def test_undefined_alpha_gives_no_interval(level: Level) -> None:
    empty = Coincidence(len(SCALE))
    result = bootstrap_alpha(empty.o, SCALE, level, empty.n_pairs, rng=np.random.default_rng(0))
    assert (result.ci_low, result.ci_high, result.p_below) == (None, None, None)
    assert result.reason == REASON_NO_PAIRABLE
    constant = Coincidence(len(SCALE))
    constant.update([0, 0, 3, 0, 0])
    result = bootstrap_alpha(constant.o, SCALE, level, constant.n_pairs)
    assert (result.ci_low, result.ci_high, result.p_below) == (None, None, None)
    assert result.reason == REASON_NO_VARIATION


def test_zero_pairs_and_bad_n_boot() -> None:
    window = noisy_window(20, seed=2)
    result = bootstrap_alpha(window.o, SCALE, "nominal", 0.2)
    assert result.ci_low is None and result.reason == REASON_NO_PAIRS
    with pytest.raises(ValueError):
        bootstrap_alpha(window.o, SCALE, "nominal", window.n_pairs, n_boot=0)


def test_independent_of_unit_count_given_matrix() -> None:
    # The bootstrap only sees O and M: a window and the same window doubled share the
    # coincidence proportions, and the doubled one has a tighter interval.
    window = noisy_window(200, seed=4)
    doubled = window + window
    one = bootstrap_alpha(window.o, SCALE, "ratio", window.n_pairs, rng=np.random.default_rng(0))
    two = bootstrap_alpha(doubled.o, SCALE, "ratio", doubled.n_pairs, rng=np.random.default_rng(0))
    assert one.ci_low is not None and one.ci_high is not None
    assert two.ci_low is not None and two.ci_high is not None
    assert two.ci_high - two.ci_low < one.ci_high - one.ci_low


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_merged_distance_cells_draw_the_same_distribution_as_every_cell(level: Level) -> None:
    """Cells of equal distance are merged before the multinomial draw: the replicates must follow
    the same distribution as KALPHA's draw over every upper-triangle cell (two-sample KS test)."""
    window = noisy_window(400, seed=5)
    n_pairs = float(window.n_pairable_units)
    merged, _ = bootstrap_replicates(window.o, SCALE, level, n_pairs, n_boot=4000,
                                     rng=np.random.default_rng(11))
    o = window.o
    marginals = o.sum(axis=1)
    d = distance_matrix(level, SCALE, marginals)
    rows, cols = np.triu_indices(len(SCALE))
    weights = np.where(rows == cols, o[rows, cols], 2.0 * o[rows, cols])
    draws = np.random.default_rng(12).multinomial(round(n_pairs), weights / weights.sum(), size=4000)
    point = window.get(SCALE, level)
    assert point.alpha is not None and point.expected_disagreement is not None
    cellwise = 1.0 - (draws @ d[rows, cols]) / (round(n_pairs) * point.expected_disagreement)
    assert merged is not None
    assert np.mean(merged) == pytest.approx(np.mean(cellwise), abs=3 * np.std(cellwise) / np.sqrt(1000))
    assert ks_2samp(merged, cellwise).pvalue > 0.01
