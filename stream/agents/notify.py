"""Notify agent: deliver qa-flags to the configured webhooks without ever slowing the pipeline."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from stream.context import Context
from stream.flags.notifier import Notifier


def register(app: faust.App, ctx: Context) -> None:
    """Reads `qa-flags`; posts each to `ALPHAWATCH_WEBHOOKS` from an in-memory queue. No tables."""
    s = ctx.settings
    notifier = Notifier(s.webhooks, s.webhook_secret.get_secret_value(), s.webhook_queue,
                        s.webhook_max_attempts, s.webhook_backoff_s, s.webhook_timeout_s, ctx.metrics)

    @app.agent(ctx.topics.flags, name="notify")
    async def notify_agent(stream: Any) -> None:
        async for raw in stream:
            if s.webhooks:
                notifier.submit(orjson.loads(raw))

    @app.task
    async def deliver() -> None:
        if s.webhooks:
            await notifier.run()
