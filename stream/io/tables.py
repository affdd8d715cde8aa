"""Table writes held until a batch's outputs are delivered, then written on the right partition."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

from faust import streams

_GONE = object()


def in_partition(event: Any) -> None:
    """Make `event` Faust's current event: a table write goes to the changelog partition (and the
    RocksDB partition) of the current event, and a `take_events` batch mixes partitions."""
    streams._current_event.set(weakref.ref(event))


def by_partition(batch: list[Any]) -> list[tuple[int, list[Any]]]:
    """A batch's events grouped by partition, each group in offset order."""
    groups: dict[int, list[Any]] = {}
    for event in batch:
        groups.setdefault(event.message.partition, []).append(event)
    return sorted(groups.items())


class WriteBehind(MutableMapping[Any, Any]):
    """A Faust table seen through the writes of the batch in progress.

    Reads see the pending writes; `flush` applies them to the table (one write per touched key,
    so one changelog record per key per batch) once the outputs they record are acknowledged.
    Nothing marked done reaches the table, its changelog or a recovery before that."""

    def __init__(self, table: Any):
        self.table = table
        self.pending: dict[Any, Any] = {}
        self.partition_of: dict[Any, Any] = {}  # key -> the event whose partition it is written on
        self._event: Any = None

    def at(self, event: Any) -> None:
        """Writes from now on belong to `event`'s partition (which is also made current)."""
        in_partition(event)
        self._event = event

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self.pending:
            value = self.pending[key]
            return default if value is _GONE else value
        got = self.table.get(key)
        return default if got is None else got

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key, _GONE)
        if value is _GONE:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return self.get(key, _GONE) is not _GONE

    def __setitem__(self, key: Any, value: Any) -> None:
        self.pending[key] = value
        self.partition_of[key] = self._event

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        self[key] = _GONE

    def pop(self, key: Any, default: Any = None) -> Any:
        value = self.get(key, _GONE)
        if value is _GONE:
            return default
        self[key] = _GONE
        return value

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        for key, value in list(self.table.items()):
            if key not in self.pending:
                yield key, value
        for key, value in list(self.pending.items()):
            if value is not _GONE:
                yield key, value

    def __iter__(self) -> Iterator[Any]:
        return (key for key, _ in self.items())

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def values(self) -> Iterator[Any]:  # type: ignore[override]
        return (value for _, value in self.items())

    @property
    def dirty(self) -> bool:
        return bool(self.pending)

    def flush(self) -> None:
        """Write the pending changes to the table, each on the partition it was made in."""
        pending, self.pending = self.pending, {}
        events, self.partition_of = self.partition_of, {}
        by_event: dict[int, list[tuple[Any, Any]]] = {}
        first: dict[int, Any] = {}
        for key, value in pending.items():
            event = events.get(key)
            group = -1 if event is None else event.message.partition
            first.setdefault(group, event)
            by_event.setdefault(group, []).append((key, value))
        for group, writes in sorted(by_event.items()):
            if first[group] is not None:
                in_partition(first[group])
            for key, value in writes:
                if value is _GONE:
                    self.table.pop(key, None)
                else:
                    self.table[key] = value
