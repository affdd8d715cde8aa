"""WriteBehind: reads see the batch's writes, the table sees them only at flush."""

from __future__ import annotations

from typing import Any

from stream.io.tables import WriteBehind, by_partition


def test_reads_see_pending_writes_and_deletes() -> None:
    table = {"a": 1, "b": 2}
    view = WriteBehind(table)
    view["a"] = 10
    view["c"] = 3
    del view["b"]
    assert view.get("a") == 10 and view["c"] == 3 and "b" not in view and view.get("b") is None
    assert dict(view.items()) == {"a": 10, "c": 3} and sorted(view) == ["a", "c"] and len(view) == 2
    assert table == {"a": 1, "b": 2}  # nothing written before the flush
    assert view.pop("c") == 3 and view.pop("c", "none") == "none"


def test_flush_writes_each_touched_key_once() -> None:
    writes: list[tuple[str, Any]] = []

    class Table(dict[str, Any]):
        def __setitem__(self, key: str, value: Any) -> None:
            writes.append((key, value))
            super().__setitem__(key, value)

    table = Table(old=0)
    view = WriteBehind(table)
    for i in range(5):
        view["k"] = i
    view.pop("old")
    assert view.dirty
    view.flush()
    assert writes == [("k", 4)] and dict(table) == {"k": 4} and not view.dirty


def test_by_partition_keeps_offset_order() -> None:
    class Message:
        def __init__(self, partition: int, offset: int):
            self.partition, self.offset = partition, offset

    class Event:
        def __init__(self, partition: int, offset: int):
            self.message = Message(partition, offset)

    batch = [Event(1, 0), Event(0, 5), Event(1, 1), Event(0, 6)]
    groups = by_partition(batch)
    assert [(p, [e.message.offset for e in events]) for p, events in groups] == [(0, [5, 6]), (1, [0, 1])]
