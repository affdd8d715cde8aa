"""Envelopes: many validated events bound for one partition of the valid topic in one Kafka record."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import NamedTuple

ENVELOPE_PREFIX = b"E"  # like ticks, never '{': a single event on the topic stays readable
_HEAD = struct.Struct("<HId")  # key length, value length, producer timestamp (s)
MAX_ITEMS = 4096  # bounds an envelope's item index, which ranking positions count in
POSITION_SPAN = MAX_ITEMS + 1  # a record's offset times this, plus the item index: a total order


class Item(NamedTuple):
    key: bytes
    value: bytes
    timestamp: float


def is_envelope(raw: bytes) -> bool:
    return raw[:1] == ENVELOPE_PREFIX


def partition_of(key: bytes, partitions: int) -> int:
    """The valid-topic partition of a unit key: stable across workers, restarts and versions."""
    return zlib.crc32(key) % partitions


def pack(items: list[Item]) -> bytes:
    parts = [ENVELOPE_PREFIX]
    for key, value, timestamp in items:
        parts += (_HEAD.pack(len(key), len(value), timestamp), key, value)
    return b"".join(parts)


def unpack(raw: bytes) -> Iterator[Item]:
    """The items of an envelope, in the order they were added (per unit: the input order)."""
    view, at, size = memoryview(raw), 1, _HEAD.size
    while at < len(raw):
        key_len, value_len, timestamp = _HEAD.unpack_from(view, at)
        at += size
        key = raw[at:at + key_len]
        at += key_len
        yield Item(key, raw[at:at + value_len], timestamp)
        at += value_len


class Packer:
    """Collects a batch's events per destination partition; `take` returns envelopes of at most
    `max_bytes` (a record under the broker's message limit) and `MAX_ITEMS` events each."""

    def __init__(self, partitions: int, max_bytes: int):
        self.partitions, self.max_bytes = partitions, max_bytes
        self._open: dict[int, tuple[list[Item], int]] = {}
        self._full: list[tuple[int, bytes]] = []

    def add(self, key: bytes, value: bytes, timestamp: float) -> int:
        """Queue one event; returns its partition."""
        partition = partition_of(key, self.partitions)
        items, size = self._open.get(partition, ([], 1))
        grown = size + _HEAD.size + len(key) + len(value)
        if items and (grown > self.max_bytes or len(items) >= MAX_ITEMS):
            self._full.append((partition, pack(items)))
            items, grown = [], 1 + _HEAD.size + len(key) + len(value)
        items.append(Item(key, value, timestamp))
        self._open[partition] = (items, grown)
        return partition

    def take(self) -> list[tuple[int, bytes]]:
        """Every envelope queued so far, per partition in the order its events came."""
        out = self._full + [(p, pack(items)) for p, (items, _) in sorted(self._open.items())]
        self._full, self._open = [], {}
        return out


def items_of(raw: bytes, key: bytes | None, timestamp: float | None) -> Iterator[Item]:
    """The events of one record on the valid topic: an envelope's, or the record itself (a single
    event, as producers before envelopes sent them)."""
    if is_envelope(raw):
        yield from unpack(raw)
    else:
        yield Item(key or b"", raw, timestamp or 0.0)
