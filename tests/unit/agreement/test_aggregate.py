"""Unit state, partition aggregates, rebuild and merge: pure logic, no I/O."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.agreement.aggregate import PartitionAgg, UnitSpec, partial_item
from stream.agreement.merge import MergeConfig, Merger
from stream.core.units import apply, counts_for
from stream.core.windows import Tumbling
from stream.stats import Coincidence

SPECS = {"c": UnitSpec(("q",), 5), "p": UnitSpec(("pairwise.q",), 3)}
HOUR = 3600
WINDOWS = [Tumbling(HOUR, 600), Tumbling(24 * HOUR, 600)]


def _state(t: float, category: str = "street") -> dict[str, Any]:
    return {"k": "c", "p": 0, "t": t, "s": [category, "t2v"], "a": {}}


def test_latest_answer_wins_and_duplicates_are_noops() -> None:
    s = _state(0.0)
    first = apply(s, "e1", "ann", 10.0, [3], 5)
    assert first.status == "applied" and first.changes[0].new == (0, 0, 0, 1, 0)
    assert apply(first.state, "e1", "ann", 10.0, [3], 5).status == "duplicate"
    revised = apply(first.state, "e2", "ann", 20.0, [1], 5)
    assert revised.changes[0].old == (0, 0, 0, 1, 0) and revised.changes[0].new == (0, 1, 0, 0, 0)
    # the older event replayed after the revision must not undo it
    replay = apply(revised.state, "e1", "ann", 10.0, [3], 5)
    assert replay.status == "stale" and not replay.changes and replay.state is revised.state
    assert apply(revised.state, "e0", "ann", 5.0, [4], 5).status == "stale"
    retracted = apply(revised.state, "e3", "ann", 30.0, None, 5)
    assert retracted.changes[0].new == (0, 0, 0, 0, 0)
    assert counts_for(retracted.state["a"], 0, 5) == [0, 0, 0, 0, 0]


def _ops() -> st.SearchStrategy[list[tuple[int, int, int | None]]]:
    # (unit, annotator, value or None for a retraction)
    return st.lists(st.tuples(st.integers(0, 9), st.integers(0, 6),
                              st.one_of(st.none(), st.integers(0, 4))), min_size=1, max_size=60)


@given(_ops())
@settings(max_examples=80, deadline=None)
def test_rebuild_from_unit_states_equals_incremental(ops: list[tuple[int, int, int | None]]) -> None:
    """What a restarted worker rebuilds from the units table equals what it had built live."""
    live = PartitionAgg(0, SPECS, ["all", "source_category"], WINDOWS)
    states: dict[int, dict[str, Any]] = {}
    for step, (unit, annotator, value) in enumerate(ops):
        state = states.get(unit) or _state(unit * 900.0, "street" if unit % 2 else "curated")
        answer = None if value is None else [value]
        outcome = apply(state, f"e{step}", f"a{annotator}", float(step), answer, 5)
        if outcome.status == "applied":
            states[unit] = outcome.state
            live.apply(outcome.state, outcome.changes)
    rebuilt = PartitionAgg(0, SPECS, ["all", "source_category"], WINDOWS)
    rebuilt.rebuild(states.values())
    _same_windows(rebuilt, live)


def _same_windows(got: PartitionAgg, want: PartitionAgg) -> None:
    """The same non-empty windows: matrices and contributors exactly, disagreement sums to 1e-9."""
    nonempty = {k: w for k, w in want.open.items() if not w.matrix.is_empty()}
    assert {k for k, w in got.open.items() if not w.matrix.is_empty()} == set(nonempty)
    for key, window in nonempty.items():
        assert got.open[key].matrix == window.matrix
        assert got.open[key].annotators == window.annotators
        sums = got.open[key].disagreement
        assert sums.keys() == window.disagreement.keys()
        for name, (total, pairs) in window.disagreement.items():
            assert sums[name] == pytest.approx([total, pairs], abs=1e-9)


@given(_ops(), st.sets(st.integers(0, 59)))
@settings(max_examples=80, deadline=None)
def test_queued_answers_equal_answers_applied_one_by_one(ops: list[tuple[int, int, int | None]],
                                                         flushes: set[int]) -> None:
    """A batch's answers to one unit, coalesced into one delta per window, leave the same windows
    as applying them one at a time; including retractions that move a unit's window."""
    one_by_one = PartitionAgg(0, SPECS, ["all", "source_category"], WINDOWS)
    queued = PartitionAgg(0, SPECS, ["all", "source_category"], WINDOWS)
    states: dict[int, dict[str, Any]] = {}
    for step, (unit, annotator, value) in enumerate(ops):
        stored = states.get(unit)
        state = stored or _state(unit * 900.0, "street" if unit % 2 else "curated")
        answer = None if value is None else [value]
        outcome = apply(state, f"e{step}", f"a{annotator}", float(step), answer, 5)
        if outcome.status == "applied":
            states[unit] = outcome.state
            one_by_one.apply(outcome.state, outcome.changes)
            queued.queue(str(unit), stored, outcome.state, outcome.changes, float(step))
        if step in flushes:
            queued.flush()
    queued.flush()
    _same_windows(queued, one_by_one)


def test_closed_window_counts_late_and_is_not_changed() -> None:
    agg = PartitionAgg(0, SPECS, ["all"], [Tumbling(HOUR, 600)])
    state = apply(_state(100.0), "e1", "a", 100.0, [2], 5)
    agg.apply(state.state, state.changes)
    moved = agg.advance(HOUR + 600.0)
    assert moved == {HOUR: HOUR}
    closed = dict(agg.pop_closed())
    assert list(closed) == [("q", "all", HOUR, 0)]
    second = apply(state.state, "e2", "b", 200.0, [2], 5)
    assert agg.apply(second.state, second.changes) == 1
    assert agg.take_late(HOUR) == {"q|all": 1}
    assert not agg.open


def _merger(n: int = 2) -> Merger:
    config = MergeConfig(n_partitions=n, scales={"q": [1, 2, 3, 4, 5]}, levels={"q": "ordinal"},
                         threshold=0.667, n_boot=200, seed=1)
    return Merger(config, {})


def _partial(partition: int, units: list[list[int]]) -> dict[str, Any]:
    agg = PartitionAgg(partition, SPECS, ["all"], [Tumbling(HOUR, 600)])
    for index, counts in enumerate(units):
        state = _state(10.0)
        values = [v for v, c in enumerate(counts) for _ in range(c)]
        for a, v in enumerate(values):
            out = apply(state, f"{index}-{a}", f"a{a}", 10.0 + a, [v], 5)
            state = out.state
            agg.apply(state, out.changes)
    ((key, window),) = agg.take_dirty()
    return partial_item(key, window)


def _live(partition: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"t": "partials", "p": partition, "items": [item]}


def _closed(partition: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"t": "closed", "p": partition, "w": HOUR, "through": HOUR, "late": {}, "items": items}


def test_final_waits_for_every_partition_and_sums_partials() -> None:
    merger = _merger()
    p0 = _partial(0, [[2, 0, 0, 0, 0], [0, 1, 1, 0, 0]])
    p1 = _partial(1, [[0, 0, 3, 0, 0]])
    (key,) = merger.on_partials(_live(0, _partial(0, [[2, 0, 0, 0, 0]])))
    merger.on_partials(_live(1, p1))
    assert merger.record(key, final=False).n_units == 2  # live: the snapshots so far
    assert merger.on_closed(_closed(0, [p0])) == []  # partition 1 still open
    assert merger.record(key, final=False).n_units == 3  # p0's final partial replaces its snapshot
    assert merger.on_closed(_closed(1, [p1])) == [key]
    record = merger.record(key, final=True)
    expected = Coincidence(5)
    for counts in ([2, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 3, 0, 0]):
        expected.update(np.array(counts))
    assert record.alpha == expected.get(np.arange(1, 6), "ordinal").alpha
    assert record.n_units == 3 and record.partitions_reporting == 2 and record.final
    merger.finish(key)
    assert merger.on_partials(_live(0, p0)) == []  # a late snapshot of a final window is ignored
    assert merger.on_closed(_closed(0, [p0])) == []  # a replayed closure does not re-finalize


def test_newer_partial_replaces_older_from_the_same_partition() -> None:
    merger = _merger(1)
    (key,) = merger.on_partials(_live(0, _partial(0, [[2, 0, 0, 0, 0]])))
    merger.on_partials(_live(0, _partial(0, [[2, 0, 0, 0, 0], [0, 2, 0, 0, 0]])))
    assert merger.record(key, final=False).n_units == 2


def test_attribution_ranks_the_annotator_who_disagrees() -> None:
    from stream.agreement.attribution import contributions, explain_distance
    from stream.flags.policy import top_annotators

    dist = explain_distance(5, nominal=False)
    totals: dict[str, list[float]] = {}
    for unit in range(30):
        values = {"good1": 2, "good2": 2, "careless": (unit * 3) % 5}
        for name, (s, p) in contributions(values, dist).items():
            entry = totals.setdefault(name, [0.0, 0.0])
            entry[0] += s
            entry[1] += p
    ranked = top_annotators(totals)
    assert ranked[0]["annotator_id"] == "careless"
    # every disagreeing pair involves the careless one: half of all pair-ends are theirs
    assert ranked[0]["share_of_disagreement"] == pytest.approx(0.5) and ranked[0]["pairs"] == 30
    assert [r["share_of_disagreement"] for r in ranked[1:]] == pytest.approx([0.25, 0.25])


def test_a_replayed_closure_counts_its_late_answers_once() -> None:
    merger = _merger()
    label = "q|all"
    first = {**_closed(0, []), "late": {label: 2}}
    merger.on_closed(first)
    merger.on_closed(first)  # the merge stage restarted before committing it
    assert merger.store[f"l|{label}|{HOUR}"] == 2
    merger.on_closed({**first, "late": {label: 1}})  # a units restart re-announced with new counts
    assert merger.store[f"l|{label}|{HOUR}"] == 3
    merger.on_closed({**first, "through": 2 * HOUR, "late": {label: 4}})
    merger.on_closed({**first, "late": {label: 1}})  # older than the stored progress: a replay
    assert merger.store[f"l|{label}|{HOUR}"] == 7
