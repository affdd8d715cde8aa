"""Producers' batching: JSON arrays of events per record, and what never goes into one."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from stream.batches.rules import BatchClock
from stream.core.validate import elements
from stream.io.produce import Group, closing_watermark, default_partitioner, last_batch_closed_by
from stream.settings import Settings


def _event(i: int) -> bytes:
    return orjson.dumps({"kind": "rating", "clip_id": f"clip-{i}", "event_id": f"e{i}"})


def test_events_travel_as_arrays_that_ingest_splits_back() -> None:
    group = Group(size=3, max_bytes=10_000)
    records = [r for i in range(7) for r in group.add(_event(i))] + group.take()
    assert [count for _, _, _, count in records] == [3, 3, 1]
    assert records[0][:2] == (0, None) and records[2][:2] == (None, b"clip-6")  # a lone event stays keyed
    split = [value for _, _, raw, _ in records for value, _ in elements(raw)]
    assert [orjson.loads(v) for v in split] == [orjson.loads(_event(i)) for i in range(7)]
    assert [index for value, index in elements(records[0][2])] == [0, 1, 2]


def test_a_units_events_stay_in_its_keys_partition_in_order() -> None:
    partition = default_partitioner([0, 1, 2, 3])
    group = Group(size=4, max_bytes=10_000, partition_of=partition)
    lines = [_event(i % 5) for i in range(40)]  # 5 units, 8 answers each
    records = [r for line in lines for r in group.add(line)] + group.take()
    order: dict[int, list[bytes]] = {}
    for p, _, value, _ in records:
        for item, _ in elements(value):
            assert item is not None
            key = orjson.loads(item)["clip_id"].encode()
            assert p is None or p == partition(key)
            order.setdefault(partition(key), []).append(item)
    for p, items in order.items():
        assert items == [line for line in lines if partition(orjson.loads(line)["clip_id"].encode()) == p]


def test_lines_that_are_not_events_go_alone_and_in_order() -> None:
    group = Group(size=10, max_bytes=10_000)
    out = group.add(_event(0)) + group.add(b"{not json") + group.add(b'{"kind": "watermark"}')
    assert [(value, count) for _, _, value, count in out] == [
        (_event(0), 1), (b"{not json", 1), (b'{"kind": "watermark"}', 1)]


def test_arrays_stay_under_the_byte_limit_and_one_per_record_is_plain() -> None:
    group = Group(size=1000, max_bytes=200)
    records = [r for i in range(20) for r in group.add(_event(i))] + group.take()
    assert all(len(value) <= 200 for _, _, value, _ in records) and sum(c for *_, c in records) == 20
    single = Group(size=1, max_bytes=10_000)
    assert single.add(_event(1)) == [(None, b"clip-1", _event(1), 1)]
    assert elements(b"[1, {") == [(b"[1, {", None)]  # a broken array: one record, not_json later


def _at(stamp: str) -> bytes:
    return orjson.dumps({"kind": "rating", "submitted_at": stamp})


def test_closing_watermark_closes_the_batch_once_its_end_has_passed() -> None:
    settings = Settings()  # weekly batches, 1h/24h windows, 10m grace
    lines = [_at("2026-11-20T00:00:00+00:00"), _at("2026-11-20T08:00:00+00:00")]
    after = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    mark = datetime.fromisoformat(closing_watermark(lines, settings, batches=True, now=after)).timestamp()
    clock = BatchClock(settings.batch_length_s, settings.grace_s)
    batch = clock.start_of(datetime(2026, 11, 20, 8, tzinfo=UTC).timestamp())
    # the batch stage's rule (stage._close_batches): the watermark closes batches up to this start
    assert clock.start_of(mark - clock.length_s - clock.grace_s) == batch
    assert last_batch_closed_by(datetime.fromtimestamp(mark, UTC).isoformat(), settings) == "2026-W47"
    windows_only = closing_watermark(lines, settings)
    assert windows_only == "2026-11-21T08:10:00+00:00"  # newest + 24h window + grace
    assert clock.start_of(datetime.fromisoformat(windows_only).timestamp() - clock.length_s
                          - clock.grace_s) < batch


def test_closing_watermark_never_runs_ahead_of_the_wall_clock_for_a_batch() -> None:
    settings = Settings()
    lines = [_at("2026-11-20T08:00:00+00:00")]
    during = datetime(2026, 11, 21, 12, tzinfo=UTC).timestamp()  # the week is not over yet
    assert closing_watermark(lines, settings, batches=True, now=during) == closing_watermark(lines, settings)
