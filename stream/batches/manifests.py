"""The manifest stage's state: partitions' batch summaries into one manifest per closed batch."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.batches import BatchManifest
from stream.batches.rules import BatchClock, Summary, manifest_fields
from stream.metrics import Metrics

Scales = dict[str, tuple[Sequence[int], str]]  # dimension -> (scale values, level of measurement)


class ManifestStage:
    """Table `manifests`: 'through' -> {partition: newest batch start it closed}, and 'b:<start>' ->
    {"parts": {partition: summary}, "rev": revision sent, "sent": hash of the parts sent}. A batch's
    manifest goes out once every partition has closed it; a changed part raises the revision."""

    def __init__(self, clock: BatchClock, partitions: int, scales: Scales, metrics: Metrics, table: Any):
        self.table, self.clock, self.partitions = table, clock, partitions
        self.scales, self.metrics = scales, metrics

    def on_closing(self, message: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        """Record one partition's closing message; returns the manifests (key, value) now due."""
        partition = str(message["p"])
        through = dict(self.table.get("through") or {})
        through[partition] = max(int(message["through"]), int(through.get(partition, -1)))
        self.table["through"] = through
        for start, summary in message["batches"].items():
            entry = dict(self.table.get(f"b:{start}") or {"parts": {}, "rev": 0, "sent": ""})
            entry["parts"] = {**entry["parts"], partition: summary}
            self.table[f"b:{start}"] = entry
        return self.due(through)

    def due(self, through: dict[str, int]) -> list[tuple[bytes, bytes]]:
        if len(through) < self.partitions:
            return []  # a partition that never reported may still hold units of any batch
        closed = min(through.values())
        out = []
        for key in sorted(k for k in list(self.table.keys()) if k.startswith("b:")):
            entry = self.table[key]
            start = int(key[2:])
            digest = _digest(entry["parts"])
            if start > closed or digest == entry["sent"]:
                continue
            manifest = self.manifest(start, entry["parts"], entry["rev"] + 1)
            self.table[key] = {**entry, "rev": entry["rev"] + 1, "sent": digest}
            out.append((manifest.batch_id.encode(), manifest.model_dump_json().encode()))
            self.metrics.batch.closed.inc()
        return out

    def manifest(self, start: int, parts: dict[str, Any], revision: int) -> BatchManifest:
        total = Summary.empty()
        for part in parts.values():
            total = total + Summary.from_state(part)
        if revision == 1:  # a revision repeats the batch: count it once
            self.metrics.batch.included.inc(total.included)
            for reason, count in total.exclusions.items():
                self.metrics.batch.exclusions.labels(reason).inc(count)
        return BatchManifest(
            batch_id=self.clock.batch_id(start), batch_start=_iso(start),
            batch_end=_iso(start + self.clock.length_s), revision=revision,
            partitions=self.partitions, closed_at=_iso(time.time()),
            **manifest_fields(total, self.scales),
        )


def _digest(parts: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
