"""The tick protocol: ingest's per-input-partition event-time progress, sent on the valid topic."""

from __future__ import annotations

import time

import orjson

from stream.core.windows import SourceProgress
from stream.core.wire import TickMessage

TICK_PREFIX = b"T"  # internal control messages on the valid topic start with this byte, never '{'


def is_tick(raw: bytes) -> bool:
    return raw[:1] == TICK_PREFIX


def tick_message(watermark: float, source: int, idle: bool = False) -> bytes:
    """Input partition `source` has been forwarded up to event time `watermark`; `idle` says it
    is caught up and quiet, so the unit stage should not wait for it."""
    message: TickMessage = {"wm": watermark, "src": source, "idle": idle}
    return TICK_PREFIX + orjson.dumps(message)


def tick(progress: SourceProgress, raw: bytes, partition: int) -> float:
    """Apply one of ingest's progress ticks (`T{...}`); returns the partition's watermark."""
    message: TickMessage = orjson.loads(raw[1:])
    return progress.tick(partition, int(message["src"]), float(message["wm"]), bool(message["idle"]))


class Progress:
    """Ingest's side, per input partition: newest event time forwarded, last offset, and when it
    last spoke."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.announced: dict[int, float] = {}
        self.offset: dict[int, int] = {}
        self.heard: dict[int, float] = {}  # monotonic time of the last message or assignment

    def observe(self, source: int, ts: float, offset: int) -> None:
        self.seen[source] = max(ts, self.seen.get(source, 0.0))
        self.touch(source, offset)

    def touch(self, source: int, offset: int) -> None:
        """A message (valid or not) was read: the source is not idle."""
        self.offset[source] = offset
        self.heard[source] = time.monotonic()

    def assign(self, source: int) -> None:
        self.heard.setdefault(source, time.monotonic())

    def due(self) -> list[tuple[int, float]]:
        """Sources whose progress moved since the last tick, marked as announced."""
        out = [(s, ts) for s, ts in self.seen.items() if ts > self.announced.get(s, 0.0)]
        self.announced.update(out)
        return out

    def quiet(self, idle_s: float) -> list[int]:
        """Sources with no message for `idle_s` seconds: candidates to declare idle."""
        now = time.monotonic()
        return [s for s, t in self.heard.items() if now - t >= idle_s]

    def forget(self, source: int) -> None:
        for table in (self.seen, self.announced, self.offset, self.heard):
            table.pop(source, None)
