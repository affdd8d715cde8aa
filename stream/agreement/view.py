"""Open windows' newest agreement records in memory, tailed from the agreement topic by every worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson


class AgreementView:
    """Open windows' newest records, tailed from the agreement topic so every worker can answer."""

    def __init__(self, keep_alphas: int = 20_000) -> None:
        self.records: dict[str, dict[str, Any]] = {}
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

    def select(self, dimension: str | None = None) -> list[dict[str, Any]]:
        rows = [r for r in self.records.values() if dimension in (None, r["dimension"])]
        return sorted(rows, key=lambda r: (r["dimension"], r["slice"], r["window_size_s"],
                                           r["window_start"]))
