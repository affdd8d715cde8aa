"""Batches agent: units' eligible answers into versioned RLHF records, closed batches into summaries."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import faust

from stream.batches.stage import BatchStage
from stream.config import batch_config
from stream.context import Context
from stream.core.envelope import items_of
from stream.core.ticks import is_tick, tick
from stream.io.outbox import Outbox, guarded
from stream.io.rediskeys import RedisKeys
from stream.io.retry import until_done
from stream.io.security import redis_client
from stream.io.tables import WriteBehind, by_partition
from stream.qualification.statusview import StatusView

log = logging.getLogger(__name__)


def register(app: faust.App, ctx: Context) -> None:
    """Reads `valid` (events and ticks) and tails annotator states from `annotator-status`; writes
    `rlhf-batches` and `batch-partials`. Owns tables `batchunits`, `batchclosed` and `batchversions`."""
    settings, topics = ctx.settings, ctx.topics
    # unit states and closed batches reach their tables once the records are delivered; the version
    # handed to the producer reaches `batchversions` before the record is sent
    units = WriteBehind(app.Table("batchunits", default=None, partitions=settings.partitions))
    closed = WriteBehind(app.Table("batchclosed", default=None, partitions=settings.partitions))
    versions = WriteBehind(app.Table("batchversions", default=None, partitions=settings.partitions))
    client, keys = redis_client(settings), RedisKeys(settings.app_id)
    status_topic = topics.annotator_status.get_topic_name()
    status = StatusView(ctx.metrics.tail_skipped.labels(status_topic).inc)
    stage = ctx.stages.batches = BatchStage(batch_config(settings), ctx.metrics, units, closed, status,
                                            ctx.agreement_view.alpha_of, versions)

    @app.task
    async def tail_status() -> None:
        await topics.annotator_status.maybe_declare()  # the annotators stage may run elsewhere
        await status.run(settings, status_topic)

    @app.agent(topics.valid, name="batches")
    async def batches_agent(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        if not stage.salt:
            stage.salt = await deployment_salt(client, keys)
        await status.ready.wait()  # never judge an answer against half-loaded annotator states
        async for batch in ctx.batches(stream, "batches"):
            async with guarded(ctx.fatal, "batches", ctx.work):
                records: list[tuple[bytes, bytes]] = []
                closings: list[bytes] = []
                for partition, events in by_partition(batch):
                    for table in (units, closed, versions):
                        table.at(events[-1])
                    for event in events:
                        await apply(partition, event, records, closings)
                if records:  # the versions are durable before their records go out
                    versions.flush()
                    await app.producer.flush()
                for key, value in records:
                    await outbox.send(topics.batches, key=key, value=value)
                for closing in closings:
                    await outbox.send(topics.batch_partials, value=closing)
                await outbox.flush()
                units.flush()
                closed.flush()
                versions.flush()
                for partition in stage.batches:
                    ctx.metrics.batch.open_units.labels(str(partition)).set(
                        sum(len(keys) for keys in stage.batches[partition].values()))

    async def apply(partition: int, event: Any, records: list[tuple[bytes, bytes]],
                    closings: list[bytes]) -> None:
        stage.owned(partition)
        raw: bytes = event.value
        if is_tick(raw):
            emitted, closing = stage.on_watermark(partition, tick(stage.progress, raw, partition))
            records += emitted
            if closing is not None:
                closings.append(closing)
        else:
            for key, value, _ in items_of(raw, event.key, None):
                records += await stage.on_event(key.decode(), value, partition)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget(sender: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            if tp.topic == topics.valid.get_topic_name():
                stage.forget(tp.partition)


async def deployment_salt(client: Any, keys: RedisKeys) -> bytes:
    """Without ALPHAWATCH_BATCH_SALT, one random salt per deployment, kept in Redis and shared by
    every worker: an empty salt would let anyone recover `ann-0193` from its hash by trying every
    `ann-NNNN`. Retried while Redis is unreachable (no record may go out unsalted)."""
    async def read() -> bytes:
        await client.set(keys.batch_salt, secrets.token_hex(32), nx=True)
        value = await client.get(keys.batch_salt)
        return value if isinstance(value, bytes) else str(value).encode()

    def failed(exc: BaseException, delay: float) -> None:
        log.warning("batch salt not read from Redis (%r); retrying in %.1fs", exc, delay)

    return await until_done(read, failed, 10.0)
