"""Units agent: per-unit answers and partial window matrices per partition; closes windows."""

from __future__ import annotations

import time
from typing import Any

import faust

from stream.agreement.aggregate import snapshot_messages
from stream.agreement.stage import UnitStage
from stream.config import units_config
from stream.context import Context
from stream.core.envelope import items_of
from stream.core.ticks import is_tick
from stream.io.outbox import Outbox, guarded
from stream.io.tables import WriteBehind, by_partition


def register(app: faust.App, ctx: Context) -> None:
    """Reads `valid` (events and ticks); writes `partials` (closures on watermark moves, live
    snapshots every `ALPHAWATCH_SNAPSHOT_INTERVAL_S`). Owns tables `units` and `closures`."""
    settings, topics = ctx.settings, ctx.topics
    # unit states written once per touched unit per batch, after the batch's closures are delivered
    units = WriteBehind(app.Table("units", default=None, partitions=settings.partitions))
    closures = app.Table("closures", default=None, partitions=settings.partitions)
    stage = ctx.stages.units = UnitStage(units_config(settings), ctx.metrics, units, closures)

    @app.agent(topics.valid, name="units")
    async def units_agent(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        async for batch in ctx.batches(stream, "units"):
            async with guarded(ctx.fatal, "units", ctx.work):
                closed = [(events[-1], await apply(partition, events, outbox))
                          for partition, events in by_partition(batch)]
                await outbox.flush()  # the closures are on the broker before they are recorded
                units.flush()
                if any(moved for _, moved in closed):
                    # the units a closure covers are durable before the closure is recorded: a
                    # restart must never find a window closed and the answers in it missing
                    await app.producer.flush()
                for event, moved in closed:
                    if moved:
                        units.at(event)  # the sweep's deletes belong to this partition
                        partition = event.message.partition
                        agg = stage.aggs[partition]
                        stage.persist_closure(partition, agg, moved)
                        stage.sweep(partition, agg.watermark)
                units.flush()

    async def apply(partition: int, events: list[Any], outbox: Outbox) -> dict[int, int]:
        """One partition's share of a batch; returns how far each window size closed."""
        units.at(events[-1])
        closed: dict[int, int] = {}
        for event in events:
            agg, rebuilt = stage.agg_for(partition)
            raw: bytes = event.value
            if is_tick(raw):
                moved = agg.advance(stage.tick(raw, partition))
            else:
                for key, value, produced in items_of(raw, event.key, event.message.timestamp):
                    stage.on_event(key.decode(), value, partition, agg, produced)
                moved = {}
            if rebuilt:  # re-announce closures: the merge stage ignores what it already has
                moved = {s: t for s, t in agg.closed_through.items() if t} | moved
            if moved:  # sent now, so later answers of this batch find the windows closed
                for message in stage.closing_messages(partition, agg, moved):
                    await outbox.send(topics.partials, value=message)
                closed |= moved
        stage.aggs[partition].flush()  # the batch's queued answers reach the window matrices
        watermark = stage.aggs[partition].watermark
        ctx.metrics.watermark.labels(str(partition)).set(watermark)
        if watermark > 0:
            ctx.metrics.watermark_lead.labels(str(partition)).set(watermark - time.time())
        return closed

    @app.timer(settings.snapshot_interval_s)
    async def send_snapshots() -> None:
        for partition, agg in list(stage.aggs.items()):
            dirty = agg.take_dirty()
            for message in snapshot_messages(partition, dirty):
                await topics.partials.send(value=message)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget(sender: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            if tp.topic == topics.valid.get_topic_name():
                stage.forget(tp.partition)
