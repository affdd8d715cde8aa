"""Notify agent: qa-flags queued per webhook in Redis, delivered by one sender task per webhook."""

from __future__ import annotations

import logging
from typing import Any

import faust
import orjson

from stream.context import Context
from stream.flags.deliveries import Deliveries
from stream.flags.notifier import Notifier
from stream.io.outbox import guarded
from stream.io.rediskeys import RedisKeys
from stream.io.retry import until_done
from stream.io.security import redis_client

log = logging.getLogger(__name__)


def register(app: faust.App, ctx: Context) -> None:
    """Reads `qa-flags`; queues each flag for every `ALPHAWATCH_WEBHOOKS` URL in Redis
    (`<app>:webhook:<id>:pending`, delivered ids in `...:delivered`) before its offset is acked."""
    s = ctx.settings
    deliveries = Deliveries(redis_client(s), RedisKeys(s.app_id), s.webhooks, s.webhook_queue)
    notifier = Notifier(deliveries, s.webhook_secret.get_secret_value(), s.webhook_max_age_s,
                        s.webhook_backoff_s, s.webhook_timeout_s, ctx.metrics)

    @app.agent(ctx.topics.flags, name="notify")
    async def notify_agent(stream: Any) -> None:
        async for batch in ctx.batches(stream, "notify", 100, 0.2):
            if not s.webhooks:
                continue
            async with guarded(ctx.fatal, "notify", ctx.work):
                flags = [flag for flag in (_decode(e.value) for e in batch) if flag is not None]
                await queue(flags)
                notifier.notify()

    async def queue(flags: list[dict[str, Any]]) -> None:
        """Recorded in Redis before the batch is acked: while Redis is down, retried (only the
        qa-flags stream waits; agreement records keep flowing)."""
        def failed(exc: BaseException, delay: float) -> None:
            log.warning("flags not queued for webhooks (Redis: %r); retrying in %.1fs", exc, delay)

        for flag_id in await until_done(lambda: deliveries.enqueue(flags), failed, 30.0):
            ctx.metrics.webhook.labels("dropped").inc()
            log.warning("webhook queue full: dropped flag %s", flag_id)

    @app.task
    async def deliver() -> None:
        if s.webhooks:
            await notifier.run()


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        flag = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return flag if isinstance(flag, dict) and "flag_id" in flag else None
