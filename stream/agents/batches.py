"""Batches agent: units' eligible answers into versioned RLHF records, closed batches into summaries."""

from __future__ import annotations

import logging
from typing import Any

import faust

from stream.batches.stage import BatchStage
from stream.config import batch_config
from stream.context import Context
from stream.core.envelope import items_of
from stream.core.ticks import is_tick, tick
from stream.io.outbox import Outbox, guarded
from stream.io.rediskeys import RedisKeys
from stream.io.security import redis_client
from stream.io.tables import WriteBehind, by_partition
from stream.qualification.store import StatusReader

log = logging.getLogger(__name__)


def register(app: faust.App, ctx: Context) -> None:
    """Reads `valid` (events and ticks) and annotator states from Redis; writes `rlhf-batches` and
    `batch-partials`. Owns tables `batchunits` and `batchclosed`."""
    settings, topics = ctx.settings, ctx.topics
    if not settings.batch_salt.get_secret_value():
        log.warning("ALPHAWATCH_BATCH_SALT is empty: hashed annotator ids in batch records are unsalted")
    # emitted versions and closed batches reach the tables only once their records are delivered
    units = WriteBehind(app.Table("batchunits", default=None, partitions=settings.partitions))
    closed = WriteBehind(app.Table("batchclosed", default=None, partitions=settings.partitions))
    status = StatusReader(redis_client(settings), RedisKeys(settings.app_id))
    stage = ctx.stages.batches = BatchStage(batch_config(settings), ctx.metrics, units, closed, status,
                                            ctx.agreement_view.alpha_of)

    @app.agent(topics.valid, name="batches")
    async def batches_agent(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        async for batch in stream.take_events(settings.batch_max_events, within=settings.batch_wait_s):
            async with guarded(ctx.fatal, "batches", ctx.work):
                for partition, events in by_partition(batch):
                    units.at(events[-1])
                    closed.at(events[-1])
                    for event in events:
                        await apply(partition, event, outbox)
                    await outbox.flush()
                    units.flush()
                    closed.flush()
                    ctx.metrics.batch.open_units.labels(str(partition)).set(
                        sum(len(keys) for keys in stage.batches[partition].values()))

    async def apply(partition: int, event: Any, outbox: Outbox) -> None:
        stage.owned(partition)
        raw: bytes = event.value
        if is_tick(raw):
            records, closing = stage.on_watermark(partition, tick(stage.progress, raw, partition))
        else:
            records, closing = [], None
            for key, value, _ in items_of(raw, event.key, None):
                records += await stage.on_event(key.decode(), value, partition)
        for key, value in records:
            await outbox.send(topics.batches, key=key, value=value)
        if closing is not None:
            await outbox.send(topics.batch_partials, value=closing)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget(sender: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            if tp.topic == topics.valid.get_topic_name():
                stage.forget(tp.partition)
