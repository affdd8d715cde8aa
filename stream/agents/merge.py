"""Merge agent: every partition's partial windows summed into live and final agreement records and flags."""

from __future__ import annotations

import logging
from typing import Any

import faust
import orjson
from redis.exceptions import RedisError

from stream.agreement.merge import Merger
from stream.agreement.publisher import Publisher, record_key
from stream.config import flag_policies, merge_config
from stream.context import Context
from stream.flags.flagger import Flagger
from stream.flags.policy import flag_key
from stream.flags.store import FlagStore
from stream.io.rediskeys import RedisKeys
from stream.io.security import redis_client

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

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def hand_over(sender: Any, revoked: Any, **_: Any) -> None:
        if any(tp.topic == ctx.topics.partials.get_topic_name() for tp in revoked):
            flagger.release()
            publisher.pending.clear()

    @app.agent(ctx.topics.partials, name="merge")
    async def merge_agent(stream: Any) -> None:
        merger = Merger(config, table)
        async for raw in stream:
            msg = orjson.loads(raw)
            changed = merger.on_partials(msg) if msg["t"] == "partials" else []
            finals = merger.on_closed(msg) if msg["t"] == "closed" else []
            live = [k for k in publisher.select(changed) if k in merger.live and not merger.is_final(k)]
            records = [(k, merger.record(k, final=False)) for k in live]
            records += [(k, merger.record(k, final=True)) for k in finals]
            for key, record in records:
                publisher.observe(record)
                await agreement.send(key=record_key(record), value=record.model_dump_json().encode())
                try:
                    flag = await flagger.evaluate(record, key, merger)
                except RedisError as exc:
                    # no flag without the dedup store; records keep flowing, the metric alerts
                    ctx.metrics.flag_errors.inc()
                    log.warning("flag check skipped, Redis unavailable: %r", exc)
                    flag = None
                flagger.show(flag_key(record.model_dump(include={"dimension", "slice", "window_size_s"})))
                if flag is not None:
                    await qa_flags.send(key=flag.flag_id.encode(), value=flag.model_dump_json().encode())
                if record.final:
                    merger.finish(key)
