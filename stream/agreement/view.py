"""Open windows' newest agreement records in memory, tailed from the agreement topic by every worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson


class AgreementView:
    """Open windows' newest records, tailed from the agreement topic so every worker can answer."""

    def __init__(self, keep_alphas: int = 20_000, keep_open: int = 50_000) -> None:
        self.records: dict[str, dict[str, Any]] = {}
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
        else:
            self.records[key] = record
            if len(self.records) > self.keep_open:
                self._forget_oldest()

    def _forget_oldest(self) -> None:
        """Drop the tenth of the records with the oldest windows (amortised: not one per record)."""
        by_age = sorted(self.records, key=lambda k: str(self.records[k].get("window_end", "")))
        for key in by_age[: max(1, len(by_age) // 10)]:
            del self.records[key]

    def select(self, dimension: str | None = None) -> list[dict[str, Any]]:
        rows = [r for r in self.records.values() if dimension in (None, r["dimension"])]
        return sorted(rows, key=lambda r: (r["dimension"], r["slice"], r["window_size_s"],
                                           r["window_start"]))
