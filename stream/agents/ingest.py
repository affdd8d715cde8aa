"""Ingest agent: validate raw annotation messages; forward valid ones by unit, dead-letter the rest."""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TP

from schemas.events import WatermarkEvent, unit_key
from stream.context import Context
from stream.core.ticks import Progress, tick_message
from stream.core.validate import Invalid, dead_letter
from stream.io.outbox import Outbox, guarded


def register(app: faust.App, ctx: Context) -> None:
    """Reads `annotations`; writes `valid` (keyed by unit, plus progress ticks to every partition
    every `ALPHAWATCH_TICK_INTERVAL_S`) and `annotations-dlq`. Stateless: no tables."""
    topics, metrics, settings = ctx.topics, ctx.metrics, ctx.settings
    valid_counter = metrics.ingest.labels("valid", "")
    progress = Progress()

    async def announce(outbox: Outbox, source: int, watermark: float, idle: bool = False) -> None:
        # sent after the forwards it covers, by the same producer: each partition sees them in order
        tick = tick_message(watermark, source, idle)
        for partition in range(settings.partitions):
            await outbox.send(topics.valid, value=tick, partition=partition)

    @app.agent(topics.annotations, name="ingest")
    async def ingest(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        async for batch in stream.take_events(settings.batch_max_events, within=settings.batch_wait_s):
            async with guarded(ctx.fatal, "ingest", ctx.work):
                for event in batch:
                    await take(event.message, outbox)
                await outbox.flush()  # delivered before take_events acks the batch

    async def take(message: Any, outbox: Outbox) -> None:
        result = ctx.validator(message.value)
        if isinstance(result, Invalid):
            metrics.ingest.labels("invalid", result.reason).inc()
            await outbox.send(topics.dlq, key=message.key, value=dead_letter(
                message.value, message.key, result, message.topic, message.partition,
                message.offset, settings.dlq_max_payload_bytes,
            ))
            progress.touch(message.partition, message.offset)
        elif isinstance(result, WatermarkEvent):
            valid_counter.inc()
            progress.observe(message.partition, result.watermark.timestamp(), message.offset)
            for source, watermark in progress.due():
                await announce(outbox, source, watermark)
        else:
            valid_counter.inc()
            # keep the producer's timestamp: flag latency is measured from it
            await outbox.send(topics.valid, key=unit_key(result).encode(), value=message.value,
                              timestamp=message.timestamp)
            progress.observe(message.partition, result.submitted_at.timestamp(), message.offset)

    @app.timer(settings.tick_interval_s)
    async def send_ticks() -> None:
        outbox = Outbox(ctx.fatal)
        for source, watermark in progress.due():
            await announce(outbox, source, watermark)
        for source in await caught_up(progress.quiet(settings.idle_timeout_s)):
            await announce(outbox, source, progress.seen.get(source, 0.0), idle=True)
        await outbox.flush()

    async def caught_up(sources: list[int]) -> list[int]:
        """Quiet sources with nothing left to read: truly idle, not just slow to be ingested."""
        if not sources:
            return []
        name = topics.annotations.get_topic_name()
        highwaters = await app.consumer.highwaters(*(TP(name, s) for s in sources))
        return [s for s in sources
                if highwaters.get(TP(name, s), 0) <= progress.offset.get(s, -1) + 1
                or s not in progress.offset]

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def watch(sender: Any, assigned: Any, **_: Any) -> None:
        for tp in assigned:
            if tp.topic == topics.annotations.get_topic_name():
                progress.assign(tp.partition)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget(sender: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            if tp.topic == topics.annotations.get_topic_name():
                progress.forget(tp.partition)
