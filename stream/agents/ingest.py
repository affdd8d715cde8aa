"""Ingest: validate raw annotation messages; forward valid ones by unit, dead-letter the rest."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import faust
import orjson
from faust.types import TP

from schemas.events import WatermarkEvent, unit_key
from schemas.outputs import DeadLetter
from stream.validate import Invalid

if TYPE_CHECKING:
    from stream.app import Context

TICK_PREFIX = b"T"  # internal control messages on the valid topic start with this byte, never '{'


def tick_message(watermark: float, source: int, idle: bool = False) -> bytes:
    """Input partition `source` has been forwarded up to event time `watermark`; `idle` says it
    is caught up and quiet, so the unit stage should not wait for it."""
    return TICK_PREFIX + orjson.dumps({"wm": watermark, "src": source, "idle": idle})


class Progress:
    """Per input partition: newest event time forwarded, last offset, and when it last spoke."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.announced: dict[int, float] = {}
        self.offset: dict[int, int] = {}
        self.heard: dict[int, float] = {}  # monotonic time of the last message or assignment

    def observe(self, source: int, ts: float, offset: int) -> None:
        self.seen[source] = max(ts, self.seen.get(source, 0.0))
        self.touch(source, offset)

    def touch(self, source: int, offset: int) -> None:
        """A message (valid or not) was read: the source is not idle."""
        self.offset[source] = offset
        self.heard[source] = time.monotonic()

    def assign(self, source: int) -> None:
        self.heard.setdefault(source, time.monotonic())

    def due(self) -> list[tuple[int, float]]:
        """Sources whose progress moved since the last tick, marked as announced."""
        out = [(s, ts) for s, ts in self.seen.items() if ts > self.announced.get(s, 0.0)]
        self.announced.update(out)
        return out

    def quiet(self, idle_s: float) -> list[int]:
        """Sources with no message for `idle_s` seconds: candidates to declare idle."""
        now = time.monotonic()
        return [s for s, t in self.heard.items() if now - t >= idle_s]

    def forget(self, source: int) -> None:
        for table in (self.seen, self.announced, self.offset, self.heard):
            table.pop(source, None)


def dead_letter(raw: bytes | None, key: bytes | None, invalid: Invalid, topic: str,
                partition: int, offset: int, keep: int) -> bytes:
    """The DLQ record: reason, origin and the original bytes (truncated past `keep`, with a hash)."""
    payload = raw or b""
    record = DeadLetter(
        reason=invalid.reason, detail=invalid.detail[:2000], source_topic=topic,
        source_partition=partition, source_offset=offset,
        source_key_b64=base64.b64encode(key).decode() if key else None,
        payload_b64=base64.b64encode(payload[:keep]).decode(), payload_size=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(), payload_truncated=len(payload) > keep,
        received_at=datetime.now(UTC),
    )
    return record.model_dump_json().encode()


def register(app: faust.App, ctx: Context) -> None:
    topics, metrics, settings = ctx.topics, ctx.metrics, ctx.settings
    valid_counter = metrics.ingest.labels("valid", "")
    progress = Progress()

    async def announce(source: int, watermark: float, idle: bool = False) -> None:
        # sent after the forwards it covers, by the same producer: each partition sees them in order
        tick = tick_message(watermark, source, idle)
        for partition in range(settings.partitions):
            await topics.valid.send(value=tick, partition=partition)

    @app.agent(topics.annotations, name="ingest")
    async def ingest(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            result = ctx.validator(message.value)
            if isinstance(result, Invalid):
                metrics.ingest.labels("invalid", result.reason).inc()
                await topics.dlq.send(key=message.key, value=dead_letter(
                    message.value, message.key, result, message.topic, message.partition,
                    message.offset, settings.dlq_max_payload_bytes,
                ))
                progress.touch(message.partition, message.offset)
            elif isinstance(result, WatermarkEvent):
                valid_counter.inc()
                progress.observe(message.partition, result.watermark.timestamp(), message.offset)
                for source, watermark in progress.due():
                    await announce(source, watermark)
            else:
                valid_counter.inc()
                # keep the producer's timestamp: flag latency is measured from it
                await topics.valid.send(key=unit_key(result).encode(), value=message.value,
                                        timestamp=message.timestamp)
                progress.observe(message.partition, result.submitted_at.timestamp(), message.offset)

    @app.timer(settings.tick_interval_s)
    async def send_ticks() -> None:
        for source, watermark in progress.due():
            await announce(source, watermark)
        for source in await caught_up(progress.quiet(settings.idle_timeout_s)):
            await announce(source, progress.seen.get(source, 0.0), idle=True)

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
