"""Event-time tumbling windows as explicit objects: assignment, end and close time."""

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
