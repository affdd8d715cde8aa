"""Agreement records in memory (open windows, recent finals), tailed from the agreement topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from stream.settings import parse_duration


class AgreementView:
    """Open windows' newest records, tailed from the agreement topic so every worker can answer."""

    def __init__(self, keep_alphas: int = 20_000, keep_open: int = 50_000, keep_finals: int = 50_000) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        # finals in the order they arrived, the oldest first out past `keep_finals` (the topic
        # keeps them all: `alphawatch report` reads it)
        self.finals: dict[str, dict[str, Any]] = {}
        self.keep_finals = keep_finals
        # a window whose final never comes (its partition's records lost, a dimension renamed)
        # would stay forever: past `keep_open` records the oldest windows go first
        self.keep_open = keep_open
        # newest alpha per (dimension, window size, window start epoch) of slice `all`, finals
        # included, for batch records; bounded, oldest first out
        self.alphas: dict[tuple[str, int, int], float | None] = {}
        self.keep_alphas = keep_alphas

    def alpha_of(self, dimension: str, window_size_s: int, window_start: int) -> float | None:
        return self.alphas.get((dimension, window_size_s, window_start))

    def apply(self, value: bytes) -> None:
        record = orjson.loads(value)
        key = "|".join(str(record[f]) for f in ("dimension", "slice", "window_size_s", "window_start"))
        if record["slice"] == "all":
            start = int(datetime.fromisoformat(record["window_start"]).timestamp())
            self.alphas.pop((record["dimension"], record["window_size_s"], start), None)
            self.alphas[(record["dimension"], record["window_size_s"], start)] = record["alpha"]
            if len(self.alphas) > self.keep_alphas:
                del self.alphas[next(iter(self.alphas))]
        if record["final"]:
            self.records.pop(key, None)
            self.finals.pop(key, None)  # a final read again moves to the newest end
            self.finals[key] = record
            if len(self.finals) > self.keep_finals:
                del self.finals[next(iter(self.finals))]
        else:
            self.records[key] = record
            if len(self.records) > self.keep_open:
                self._forget_oldest()

    def _forget_oldest(self) -> None:
        """Drop the tenth of the records with the oldest windows (amortised: not one per record)."""
        by_age = sorted(self.records, key=lambda k: str(self.records[k].get("window_end", "")))
        for key in by_age[: max(1, len(by_age) // 10)]:
            del self.records[key]

    def select(self, dimension: str | None = None, query: Query | None = None) -> list[dict[str, Any]]:
        """Records of `dimension` (any when None) matching `query` (open windows when None), sorted
        by dimension, slice, window size and start."""
        q = query or Query()
        pools = {"open": [self.records], "final": [self.finals], "all": [self.records, self.finals]}
        rows = [r for pool in pools[q.state] for r in pool.values()
                if dimension in (None, r["dimension"]) and q.matches(r)]
        return sorted(rows, key=lambda r: (r["dimension"], r["slice"], r["window_size_s"],
                                           r["window_start"], r["final"]))


@dataclass(frozen=True)
class Query:
    """Filters of `GET /agreement`: state (open, final, all), slice, window size, window start range."""

    state: str = "open"
    slice: str | None = None
    window_size_s: int | None = None
    since: datetime | None = None  # window_start >= since
    until: datetime | None = None  # window_start < until

    def matches(self, record: dict[str, Any]) -> bool:
        if self.slice is not None and record["slice"] != self.slice:
            return False
        if self.window_size_s is not None and record["window_size_s"] != self.window_size_s:
            return False
        if self.since is None and self.until is None:
            return True
        start = datetime.fromisoformat(record["window_start"])
        return (self.since is None or start >= self.since) and (self.until is None or start < self.until)


STATES = ("open", "final", "all")


def query_from(params: Mapping[str, str]) -> Query:
    """A Query from `?state=&slice=&window=&from=&to=`; ValueError naming the bad parameter."""
    state = params.get("state", "open")
    if state not in STATES:
        raise ValueError(f"state must be one of {list(STATES)}, not {state!r}")
    window = params.get("window")
    try:
        size = None if window is None else int(window) if window.isdigit() else parse_duration(window)
    except ValueError:
        raise ValueError(f"window must be seconds or a duration such as 1h or 24h, not {window!r}") from None
    return Query(state=state, slice=params.get("slice"), window_size_s=size,
                 since=_instant(params, "from"), until=_instant(params, "to"))


def _instant(params: Mapping[str, str], name: str) -> datetime | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 time with a zone, not {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{name} must carry a zone (e.g. 2026-11-01T00:00:00Z), not {text!r}")
    return value
