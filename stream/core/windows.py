"""Event-time tumbling windows as explicit objects, and the watermark that closes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Tumbling:
    """Fixed, non-overlapping event-time windows aligned to the epoch; closed at end + grace."""

    size_s: int
    grace_s: int

    def start_of(self, ts: float) -> int:
        return int(ts // self.size_s) * self.size_s

    def end_of(self, start: int) -> int:
        return start + self.size_s

    def closes_at(self, start: int) -> int:
        """Watermark at which the window is final: no event older than this is expected any more."""
        return start + self.size_s + self.grace_s

    def is_closed(self, start: int, watermark: float) -> bool:
        return watermark >= self.closes_at(start)

    def closed_through(self, watermark: float) -> int:
        """End of the newest window closed at this watermark (windows ending at or before it are final)."""
        return int((watermark - self.grace_s) // self.size_s) * self.size_s


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class SourceProgress:
    """Per partition of the re-keyed stream: how far in event time each input partition has been
    forwarded (ingest's progress ticks), and the watermark that follows from it."""

    def __init__(self, n_sources: int):
        self.n_sources = n_sources
        # partition -> input partition -> (event-time progress, declared idle)
        self.sources: dict[int, dict[int, tuple[float, bool]]] = {}

    def tick(self, partition: int, source: int, progress: float, idle: bool) -> float:
        """Record one tick; returns the partition's watermark."""
        sources = self.sources.setdefault(partition, {})
        previous = sources.get(source, (0.0, False))[0]
        sources[source] = (max(previous, progress), idle)
        return self.watermark(partition)

    def watermark(self, partition: int) -> float:
        """Minimum progress over input partitions: each is ingested on its own, and re-keying
        interleaves them. Sources declared idle (caught up and quiet) are not waited for; one
        never heard from is, since it may still be catching up."""
        sources = self.sources.get(partition, {})
        if len(sources) < self.n_sources:
            return 0.0
        active = [wm for wm, idle in sources.values() if not idle]
        return min(active) if active else max(wm for wm, _ in sources.values())

    def forget(self, partition: int) -> None:
        self.sources.pop(partition, None)
