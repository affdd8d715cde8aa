"""Manifest stage (one partition): partitions' batch summaries into one manifest per closed batch."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import faust
import orjson

from schemas.batches import BatchManifest
from stream.batching import BatchClock, Summary, manifest_fields
from stream.units import PAIRWISE_SCALE

if TYPE_CHECKING:
    from stream.app import Context


class ManifestStage:
    """Table `manifests`: 'through' -> {partition: newest batch start it closed}, and 'b:<start>' ->
    {"parts": {partition: summary}, "rev": revision sent, "sent": hash of the parts sent}. A batch's
    manifest goes out once every partition has closed it; a changed part raises the revision."""

    def __init__(self, ctx: Context, table: Any, clock: BatchClock):
        s = ctx.settings
        self.ctx, self.table, self.clock, self.partitions = ctx, table, clock, s.partitions
        self.scales: dict[str, tuple[Sequence[int], str]] = {
            d: (s.scale, s.level_for(d)) for d in s.dimensions}
        self.scales.update({f"pairwise.{d}": (PAIRWISE_SCALE, "nominal") for d in s.dimensions})

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
            self.ctx.metrics.batch.closed.inc()
        return out

    def manifest(self, start: int, parts: dict[str, Any], revision: int) -> BatchManifest:
        total = Summary.empty()
        for part in parts.values():
            total = total + Summary.from_state(part)
        if revision == 1:  # a revision repeats the batch: count it once
            self.ctx.metrics.batch.included.inc(total.included)
            for reason, count in total.exclusions.items():
                self.ctx.metrics.batch.exclusions.labels(reason).inc(count)
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


def register_manifests(app: faust.App, ctx: Context) -> None:
    from stream.agents.batches import policy_of

    table = app.Table("manifests", default=None, partitions=1)
    stage = ManifestStage(ctx, table, policy_of(ctx).clock)
    app.alphawatch_manifests = stage  # type: ignore[attr-defined]

    @app.agent(ctx.topics.batch_partials, name="manifests")
    async def manifests_agent(stream: Any) -> None:
        async for raw in stream:
            for key, value in stage.on_closing(orjson.loads(raw)):
                await ctx.topics.manifests.send(key=key, value=value)
