"""Merge agent: every partition's partial windows summed into live and final agreement records and flags."""

from __future__ import annotations

import logging
from typing import Any

import faust
import orjson
from redis.exceptions import RedisError

from schemas.outputs import Flag
from stream.agreement.merge import Merger
from stream.agreement.publisher import Publisher, record_key
from stream.config import flag_policies, merge_config
from stream.context import Context
from stream.flags.flagger import Flagger
from stream.flags.pending import Redelivery
from stream.flags.policy import flag_key
from stream.flags.store import FlagStore
from stream.io.outbox import Outbox, guarded
from stream.io.rediskeys import RedisKeys
from stream.io.retry import Breaker
from stream.io.security import redis_client
from stream.io.tables import WriteBehind

log = logging.getLogger(__name__)


def register(app: faust.App, ctx: Context) -> None:
    """Reads `partials` (one partition); writes `agreement` and `qa-flags`. Owns table `merge`;
    open flags and cooldowns live in Redis (`<app>:flags:*`)."""
    settings = ctx.settings
    table = app.Table("merge", default=None, partitions=1)
    config = merge_config(settings)
    publisher = ctx.stages.publisher = Publisher(settings.snapshot_interval_s, ctx.metrics)
    agreement, qa_flags = ctx.topics.agreement, ctx.topics.flags
    store = FlagStore(redis_client(settings), RedisKeys(settings.app_id), settings.flag_cooldown_s)
    flagger = ctx.stages.flagger = Flagger(flag_policies(settings), settings.bootstrap_samples,
                                           ctx.metrics, store)
    for dimension, threshold in config.thresholds.items():
        ctx.metrics.threshold.labels(dimension).set(threshold)

    # Redis failed: flag checks skipped for a while instead of each waiting out the timeout, so
    # agreement records flow at full speed through an outage
    redis_gate = Breaker(max(5.0, settings.redis_timeout_s))
    redelivery = Redelivery(store, flagger, redis_gate)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def hand_over(sender: Any, revoked: Any, **_: Any) -> None:
        if any(tp.topic == ctx.topics.partials.get_topic_name() for tp in revoked):
            flagger.release()
            publisher.pending.clear()
            redelivery.handed_over()

    @app.agent(ctx.topics.partials, name="merge")
    async def merge_agent(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        store_view = WriteBehind(table)
        merger = Merger(config, store_view)
        async for batch in ctx.batches(stream, "merge"):
            async with guarded(ctx.fatal, "merge", ctx.work):
                flags = [await send_flag(outbox, flag) for flag in await redelivery.due()]
                finals: list[Any] = []
                for event in batch:
                    store_view.at(event)
                    flags += await on_message(merger, orjson.loads(event.value), outbox, finals)
                await outbox.flush()  # records and flags on the broker before the table or Redis moves
                store_view.flush()
                for key in finals:
                    merger.finish(key)
                store_view.flush()
                await redelivery.confirm(flags)

    async def on_message(merger: Merger, msg: dict[str, Any], outbox: Outbox, finals: list[Any]) -> list[str]:
        changed = merger.on_partials(msg) if msg["t"] == "partials" else []
        closed = merger.on_closed(msg) if msg["t"] == "closed" else []
        live = [k for k in publisher.select(changed) if k in merger.live and not merger.is_final(k)]
        records = [(k, merger.record(k, final=False)) for k in live]
        records += [(k, merger.record(k, final=True)) for k in closed]
        flags = []
        for key, record in records:
            publisher.observe(record)
            await outbox.send(agreement, key=record_key(record), value=record.model_dump_json().encode())
            flag = await check(record, key, merger)
            if flag is not None:
                flags.append(await send_flag(outbox, flag))
            if record.final:
                finals.append(key)
        return flags

    async def send_flag(outbox: Outbox, flag: Flag) -> str:
        await outbox.send(qa_flags, key=flag.flag_id.encode(), value=flag.model_dump_json().encode())
        return flag.flag_id

    async def check(record: Any, key: Any, merger: Merger) -> Flag | None:
        flag = None
        if redis_gate.tripped:  # no flag without the dedup store; records flow, the metric alerts
            ctx.metrics.flag_errors.inc()
        else:
            try:
                flag = await flagger.evaluate(record, key, merger)
            except RedisError as exc:
                ctx.metrics.flag_errors.inc()
                redelivery.failed(exc, f"flag checks skipped for {redis_gate.pause_s:.0f} s")
        flagger.show(flag_key(record.model_dump(include={"dimension", "slice", "window_size_s"})))
        return flag
