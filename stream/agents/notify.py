"""Notify: deliver qa-flags to the configured webhooks without ever slowing the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust
import orjson

from stream.notify import Notifier

if TYPE_CHECKING:
    from stream.app import Context


def register(app: faust.App, ctx: Context) -> None:
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
