"""Ingest agent: validate raw annotation messages; forward valid ones by unit, dead-letter the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP

from schemas.events import WatermarkEvent, unit_key
from stream.context import Context
from stream.core.envelope import Packer
from stream.core.ticks import Progress, tick_message
from stream.core.validate import Invalid, dead_letter, elements
from stream.io.outbox import Outbox, guarded

# an envelope stays well under Apache Kafka's default message.max.bytes (about 1 MB)
ENVELOPE_BYTES = 512 * 1024


@dataclass
class Seen:
    """What one batch saw: (source, event time, offset) per valid event, counts."""

    observed: list[tuple[int, float, int]] = field(default_factory=list)
    valid: int = 0
    watermarks: int = 0


def register(app: faust.App, ctx: Context) -> None:
    """Reads `annotations` (an event, or a JSON array of events, per record); writes `valid`
    (envelopes of events per destination partition, plus progress ticks to every partition every
    `ALPHAWATCH_TICK_INTERVAL_S`) and `annotations-dlq`. Stateless: no tables."""
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
        async for batch in ctx.batches(stream, "ingest"):
            async with guarded(ctx.fatal, "ingest", ctx.work):
                packer, seen = Packer(settings.partitions, ENVELOPE_BYTES), Seen()
                for event in batch:
                    for value, index in elements(event.message.value):
                        await take(event.message, value, index, packer, seen, outbox)
                for partition, envelope in packer.take():
                    await outbox.send(topics.valid, value=envelope, partition=partition)
                await outbox.flush()  # delivered before take_events acks the batch
                # progress only once the forwards it covers are on the broker: a resent forward
                # can land after later messages of its partition, a tick must never precede it
                for source, ts, offset in seen.observed:
                    progress.observe(source, ts, offset)
                if seen.watermarks:
                    for source, watermark in progress.due():
                        await announce(outbox, source, watermark)
                    await outbox.flush()
                valid_counter.inc(seen.valid)

    async def take(message: Any, value: bytes | None, index: int | None, packer: Packer, seen: Seen,
                   outbox: Outbox) -> None:
        result = ctx.validator(value)
        if isinstance(result, Invalid):
            metrics.ingest.labels("invalid", result.reason).inc()
            await outbox.send(topics.dlq, key=message.key, value=dead_letter(
                value, message.key, result, message.topic, message.partition,
                message.offset, settings.dlq_max_payload_bytes, index,
            ))
            progress.touch(message.partition, message.offset)
            return
        seen.valid += 1
        if isinstance(result, WatermarkEvent):
            seen.watermarks += 1
            seen.observed.append((message.partition, result.watermark.timestamp(), message.offset))
            return
        assert value is not None
        # keep the producer's timestamp: flag latency is measured from it
        packer.add(unit_key(result).encode(), value, (message.timestamp or 0.0))
        seen.observed.append((message.partition, result.submitted_at.timestamp(), message.offset))

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
