"""Property tests: incremental coincidences agree with krippendorff after every operation."""

from __future__ import annotations

import json
import warnings

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.stats import (
    LEVELS,
    REASON_NO_PAIRABLE,
    REASON_NO_VARIATION,
    Coincidence,
    Level,
    alpha_from_matrix,
    unit_contribution,
)

SCALE = np.arange(1.0, 6.0)
V = len(SCALE)
MAX_UNITS = 6

# (kind, annotator, unit, value): "rate" is an arrival, or a revision when the annotator already
# rated the unit; "retract" removes the annotator's value (a no-op when there is none).
OPERATION = st.tuples(
    st.sampled_from(["rate", "rate", "rate", "retract"]),
    st.integers(0, 49),
    st.integers(0, MAX_UNITS - 1),
    st.integers(1, V),
)


def reference_alpha(data: np.ndarray, level: Level) -> float | None:
    """krippendorff 0.9.0 on annotators x units data; None when it raises or returns nan."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = float(
                krippendorff.alpha(
                    reliability_data=data, value_domain=SCALE, level_of_measurement=level
                )
            )
        except ValueError:
            return None
    return None if np.isnan(value) else value


def column_counts(data: np.ndarray, unit: int) -> np.ndarray:
    return np.array([(data[:, unit] == v).sum() for v in SCALE], dtype=np.int64)


def apply_operation(data: np.ndarray, op: tuple[str, int, int, int]) -> int:
    """Apply `op` to the reliability data in place; return the unit it touched."""
    kind, annotator, unit, value = op
    annotator %= data.shape[0]
    unit %= data.shape[1]
    data[annotator, unit] = float(value) if kind == "rate" else np.nan
    return unit


def check_against_reference(coincidence: Coincidence, data: np.ndarray, level: Level) -> None:
    ours = coincidence.get(SCALE, level)
    expected = reference_alpha(data, level)
    if expected is None:
        assert ours.alpha is None
        assert ours.reason in (REASON_NO_PAIRABLE, REASON_NO_VARIATION)
    else:
        assert ours.alpha is not None, ours.reason
        assert ours.reason is None
        assert abs(ours.alpha - expected) <= 1e-9


def check_counters(coincidence: Coincidence, data: np.ndarray) -> None:
    m = (~np.isnan(data)).sum(axis=0)
    assert coincidence.n_units == int((m >= 1).sum())
    assert coincidence.n_pairable_units == int((m >= 2).sum())
    assert coincidence.n_pairs == float((m * (m - 1) // 2).sum())
    assert coincidence.is_empty() == (m.sum() == 0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_annotators=st.integers(2, 50),
    n_units=st.integers(1, MAX_UNITS),
    level=st.sampled_from(LEVELS),
    operations=st.lists(OPERATION, min_size=10, max_size=40),
)
def test_incremental_matches_krippendorff_after_every_operation(
    n_annotators: int, n_units: int, level: Level, operations: list[tuple[str, int, int, int]]
) -> None:
    data = np.full((n_annotators, n_units), np.nan)
    coincidence = Coincidence(V)
    for op in operations:
        unit = op[2] % n_units
        old = column_counts(data, unit)
        apply_operation(data, op)
        # Arrival, revision and retraction are all one replace(old, new) of the unit's counts.
        coincidence.replace(old, column_counts(data, unit))
        check_against_reference(coincidence, data, level)
        check_counters(coincidence, data)


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(st.lists(st.integers(0, 4), min_size=V, max_size=V), max_size=30),
    split=st.lists(st.booleans(), min_size=30, max_size=30),
    level=st.sampled_from(LEVELS),
)
def test_merge_and_state_round_trip(
    units: list[list[int]], split: list[bool], level: Level
) -> None:
    direct, left, right = Coincidence(V), Coincidence(V), Coincidence(V)
    for counts, goes_left in zip(units, split, strict=False):
        direct.update(counts)
        (left if goes_left else right).update(counts)
    merged = left + right
    assert merged == direct
    np.testing.assert_array_equal(merged.o, direct.o)
    assert (merged - right) == left
    assert (merged - left) - right == Coincidence(V)
    assert merged.get(SCALE, level) == direct.get(SCALE, level)
    # The float matrix itself equals the sum of unit contributions (up to float rounding).
    expected_o = sum((unit_contribution(c) for c in units), np.zeros((V, V)))
    np.testing.assert_allclose(direct.o, expected_o, rtol=0, atol=1e-9)
    for state_of in (direct, left, right):
        state = state_of.to_state()
        restored = Coincidence.from_state(json.loads(json.dumps(state)))
        assert restored == state_of
        assert restored.to_state() == state
        np.testing.assert_array_equal(restored.o, state_of.o)
        np.testing.assert_array_equal(restored.marginals, state_of.marginals)
        assert restored.n_pairs == state_of.n_pairs
    ours = direct.get(SCALE, level)
    from_matrix = alpha_from_matrix(direct.o, SCALE, level)
    assert (ours.alpha is None) == (from_matrix.alpha is None)
    if ours.alpha is not None and from_matrix.alpha is not None:
        assert abs(ours.alpha - from_matrix.alpha) <= 1e-12


def test_many_update_revert_cycles_leave_no_residue() -> None:
    rng = np.random.default_rng(7)
    keep = [rng.multinomial(int(rng.integers(0, 7)), np.full(V, 1 / V)) for _ in range(300)]
    churn = [rng.multinomial(int(rng.integers(0, 7)), np.full(V, 1 / V)) for _ in range(3000)]
    coincidence, direct = Coincidence(V), Coincidence(V)
    for counts in keep:
        direct.update(counts)
    for step, counts in enumerate(churn):
        coincidence.update(counts)
        if step < len(keep):
            coincidence.update(keep[step])
    for counts in churn:
        coincidence.revert(counts)
    assert coincidence == direct
    for level in LEVELS:
        ours, expected = coincidence.get(SCALE, level), direct.get(SCALE, level)
        assert ours.alpha is not None and expected.alpha is not None
        assert abs(ours.alpha - expected.alpha) <= 1e-9


def test_no_variation_after_churn_is_exactly_undefined() -> None:
    coincidence = Coincidence(V)
    for _ in range(500):
        coincidence.update([1, 2, 0, 1, 0])
        coincidence.update([0, 0, 3, 0, 0])
        coincidence.revert([1, 2, 0, 1, 0])
    result = coincidence.get(SCALE, "interval")
    assert result.alpha is None and result.reason == REASON_NO_VARIATION
    coincidence.replace([0, 0, 3, 0, 0], [0, 0, 0, 0, 0])
    assert coincidence.n_units == 499


def test_invalid_revert_leaves_state_unchanged() -> None:
    coincidence = Coincidence(V)
    coincidence.update([2, 1, 0, 0, 0])
    before = coincidence.to_state()
    with pytest.raises(ValueError):
        coincidence.revert([0, 0, 3, 0, 0])
    with pytest.raises(ValueError):
        coincidence.replace([0, 0, 0, 1, 2], [1, 1, 1, 0, 0])
    with pytest.raises(ValueError):
        coincidence.revert([0, 0, 0, 0, 1])
    assert coincidence.to_state() == before
    with pytest.raises(ValueError):
        _ = Coincidence(V) - coincidence
    with pytest.raises(ValueError):
        _ = coincidence + Coincidence(V + 1)


@pytest.mark.parametrize(
    "state",
    [
        {"version": 2, "n_values": 5, "by_m": []},
        {"version": 1, "n_values": "5", "by_m": []},
        {"version": 1, "n_values": 2, "by_m": [[2, 1, [1, 0]]]},
        {"version": 1, "n_values": 2, "by_m": [[2, 1, [1.5, 0, 0]]]},
        {"version": 1, "n_values": 2, "by_m": [[0, 1, []]]},
        {"version": 1, "n_values": 2, "by_m": [[1, 1, []], [1, 2, []]]},
    ],
)
def test_from_state_rejects_malformed(state: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Coincidence.from_state(state)
