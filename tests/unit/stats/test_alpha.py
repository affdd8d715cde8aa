"""Published Krippendorff's alpha test vectors and the small / undefined cases."""

from __future__ import annotations

import numpy as np
import pytest

from stream.stats import (
    LEVELS,
    REASON_NO_PAIRABLE,
    REASON_NO_VARIATION,
    Coincidence,
    Level,
    alpha_from_matrix,
    distance_matrix,
    unit_contribution,
)

NAN = np.nan
SCALE_1_5 = np.arange(1.0, 6.0)

# Krippendorff (2011), 4 observers x 12 units.
CANONICAL = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)
CANONICAL_ALPHA: dict[Level, float] = {
    "nominal": 0.743421052631579,
    "ordinal": 0.8153875037548814,
    "interval": 0.8491071428571428,
    "ratio": 0.7974027747116121,
}
CANONICAL_PUBLISHED: dict[Level, float] = {
    "nominal": 0.743,
    "ordinal": 0.815,
    "interval": 0.849,
    "ratio": 0.797,
}

# Wikipedia example, 3 coders x 15 units.
WIKIPEDIA = np.array(
    [
        [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
        [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
    ]
)
WIKIPEDIA_ALPHA: dict[Level, float] = {
    "nominal": 0.691358024691358,
    "ordinal": 0.8067214199413153,
    "interval": 0.8108448928121059,
    "ratio": 0.8089436707842471,
}


def unit_counts(data: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Units x V count matrix from coders x units reliability data (nan = missing)."""
    return (data.T[:, :, None] == scale[None, None, :]).sum(axis=1).astype(np.int64)


def window(data: np.ndarray, scale: np.ndarray) -> Coincidence:
    coincidence = Coincidence(len(scale))
    for counts in unit_counts(data, scale):
        coincidence.update(counts)
    return coincidence


@pytest.mark.parametrize("level", LEVELS)
def test_canonical_full_precision(level: Level) -> None:
    result = window(CANONICAL, SCALE_1_5).get(SCALE_1_5, level)
    assert result.alpha is not None and result.reason is None
    assert result.alpha == pytest.approx(CANONICAL_ALPHA[level], abs=1e-9)
    assert round(result.alpha, 3) == CANONICAL_PUBLISHED[level]
    assert result.level == level
    assert result.n_pairable_values == 40


@pytest.mark.parametrize("level", LEVELS)
def test_canonical_from_matrix_matches_incremental(level: Level) -> None:
    coincidence = window(CANONICAL, SCALE_1_5)
    direct = sum(unit_contribution(c) for c in unit_counts(CANONICAL, SCALE_1_5))
    np.testing.assert_allclose(coincidence.o, direct, rtol=0, atol=1e-12)
    result = alpha_from_matrix(direct, SCALE_1_5, level)
    assert result.alpha == pytest.approx(CANONICAL_ALPHA[level], abs=1e-9)


def test_canonical_marginals_diagonal_and_counters() -> None:
    coincidence = window(CANONICAL, SCALE_1_5)
    np.testing.assert_array_equal(coincidence.marginals, [9, 13, 10, 5, 3])
    np.testing.assert_allclose(coincidence.o.sum(axis=1), [9, 13, 10, 5, 3], atol=1e-12)
    np.testing.assert_allclose(np.diag(coincidence.o), [7, 10, 8, 4, 3], atol=1e-12)
    assert coincidence.o[0, 1] == pytest.approx(4 / 3, abs=1e-12)
    assert coincidence.o[1, 2] == pytest.approx(4 / 3, abs=1e-12)
    np.testing.assert_allclose(coincidence.o, coincidence.o.T, atol=0)
    # Unit 12 has a single value: counted, but not pairable.
    assert coincidence.n_units == 12
    assert coincidence.n_pairable_units == 11
    # 8 units of 4 values (6 pairs), 2 of 3 (3 pairs), 1 of 2 (1 pair).
    assert coincidence.n_pairs == 8 * 6 + 2 * 3 + 1


@pytest.mark.parametrize("level", LEVELS)
def test_wikipedia(level: Level) -> None:
    scale = np.arange(1.0, 5.0)
    coincidence = window(WIKIPEDIA, scale)
    result = coincidence.get(scale, level)
    assert result.alpha == pytest.approx(WIKIPEDIA_ALPHA[level], abs=1e-9)
    # Unit 2 and unit 14 are empty, unit 1 and 8 have two values, so 13 units are counted.
    assert coincidence.n_units == 13
    assert coincidence.n_pairable_units == 12


def test_two_by_two_nominal_is_minus_half() -> None:
    scale = np.array([1.0, 2.0])
    result = window(np.array([[1, 2], [2, 1]], dtype=float), scale).get(scale, "nominal")
    assert result.alpha == pytest.approx(-0.5, abs=1e-12)


@pytest.mark.parametrize("level", LEVELS)
def test_single_pairable_unit_with_two_values_is_zero(level: Level) -> None:
    coincidence = Coincidence(5)
    coincidence.update([0, 1, 0, 1, 0])
    result = coincidence.get(SCALE_1_5, level)
    assert result.alpha == pytest.approx(0.0, abs=1e-12)
    assert result.reason is None


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_perfect_agreement_is_one(level: Level) -> None:
    scale = np.arange(1.0, 5.0)
    data = np.array([[1, 2, 3, 4]] * 3, dtype=float)
    result = window(data, scale).get(scale, level)
    assert result.alpha == pytest.approx(1.0, abs=1e-12)
    assert result.observed_disagreement == 0.0


@pytest.mark.parametrize("level", LEVELS)
def test_all_identical_is_undefined(level: Level) -> None:
    data = np.full((3, 6), 4.0)
    data[0, 0] = NAN
    result = window(data, SCALE_1_5).get(SCALE_1_5, level)
    assert result.alpha is None
    assert result.reason == REASON_NO_VARIATION
    assert result.expected_disagreement == 0.0
    assert alpha_from_matrix(window(data, SCALE_1_5).o, SCALE_1_5, level).alpha is None


@pytest.mark.parametrize("level", LEVELS)
def test_no_unit_with_two_values_is_undefined(level: Level) -> None:
    data = np.array([[1, NAN, 3], [NAN, 2, NAN]])
    coincidence = window(data, SCALE_1_5)
    assert coincidence.n_units == 3 and coincidence.n_pairable_units == 0
    result = coincidence.get(SCALE_1_5, level)
    assert result.alpha is None and result.reason == REASON_NO_PAIRABLE
    assert result.observed_disagreement is None and result.expected_disagreement is None
    assert alpha_from_matrix(np.zeros((5, 5)), SCALE_1_5, level).reason == REASON_NO_PAIRABLE


def test_empty_window_is_undefined_not_zero() -> None:
    coincidence = Coincidence(3)
    assert coincidence.is_empty()
    result = coincidence.get(np.array([0.0, 1.0, 2.0]), "nominal")
    assert result.alpha is None and result.reason == REASON_NO_PAIRABLE
    assert result.n_pairable_values == 0


def test_nominal_preference_scale() -> None:
    # A / B / tie preference labels are nominal on scale [0, 1, 2].
    scale = np.array([0.0, 1.0, 2.0])
    coincidence = Coincidence(3)
    for counts in ([2, 0, 0], [0, 2, 0], [1, 0, 1], [0, 3, 0]):
        coincidence.update(counts)
    # o = diag(2, 5, 0) + offdiag(0,2)=(2,0)=1; n = 9, n_c = [3, 5, 1].
    expected = 1 - (9 - 1) * 2 / (2 * (3 * 5 + 3 * 1 + 5 * 1))
    assert coincidence.get(scale, "nominal").alpha == pytest.approx(expected, abs=1e-12)


def test_distance_matrices() -> None:
    scale = SCALE_1_5
    marginals = np.array([9.0, 13.0, 10.0, 5.0, 3.0])
    nominal = distance_matrix("nominal", scale, marginals)
    np.testing.assert_array_equal(nominal, 1 - np.eye(5))
    interval = distance_matrix("interval", scale, marginals)
    assert interval[0, 4] == 16 and interval[4, 0] == 16
    ratio = distance_matrix("ratio", scale, marginals)
    assert ratio[0, 1] == pytest.approx((1 / 3) ** 2)
    ordinal = distance_matrix("ordinal", scale, marginals)
    # Krippendorff (2011): d(1,2) = (9/2 + 13/2)^2 = 121; d(1,3) = (9/2 + 13 + 10/2)^2.
    assert ordinal[0, 1] == pytest.approx(121.0)
    assert ordinal[0, 2] == pytest.approx((4.5 + 13 + 5) ** 2)
    for d in (nominal, interval, ratio, ordinal):
        np.testing.assert_array_equal(np.diag(d), 0)
        np.testing.assert_array_equal(d, d.T)


def test_ratio_with_zero_on_scale() -> None:
    d = distance_matrix("ratio", np.array([0.0, 1.0, 2.0]), np.ones(3))
    assert d[0, 0] == 0 and d[0, 1] == 1 and d[1, 2] == pytest.approx(1 / 9)


def test_unit_contribution() -> None:
    np.testing.assert_array_equal(unit_contribution([0, 1, 0]), np.zeros((3, 3)))
    np.testing.assert_array_equal(unit_contribution([0, 0, 0]), np.zeros((3, 3)))
    contribution = unit_contribution([2, 1, 0])
    np.testing.assert_allclose(contribution, [[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert contribution.sum() == 3  # a unit contributes m_u values
    assert contribution.dtype == np.float64


def test_bad_inputs_rejected() -> None:
    with pytest.raises(ValueError):
        distance_matrix("cardinal", SCALE_1_5, np.ones(5))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        distance_matrix("interval", np.arange(4.0), np.ones(5))
    coincidence = Coincidence(5)
    with pytest.raises(ValueError):
        coincidence.update([1, 2, 3])
    with pytest.raises(ValueError):
        coincidence.update([1, -1, 0, 0, 0])
    with pytest.raises(ValueError):
        coincidence.update([0.5, 0.5, 0, 0, 0])
    with pytest.raises(ValueError):
        coincidence.get(SCALE_1_5, "cardinal")  # type: ignore[arg-type]
