"""Gold agent: from the unit-keyed valid stream, gold answers and per-annotator counts keyed by annotator."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from stream.context import Context
from stream.core.envelope import items_of
from stream.core.ticks import is_tick
from stream.io.outbox import Outbox, guarded
from stream.qualification.rekey import Rekey


def register(app: faust.App, ctx: Context) -> None:
    """Reads `valid` (ticks skipped); writes `annotator-events` (gold answers now, peer counts every
    `ALPHAWATCH_ANNOTATOR_FLUSH_S`). No tables: counts wait in memory until the flush."""
    s = ctx.settings
    rekey = ctx.stages.rekey = Rekey(s.dimensions, s.peer_cache_units,
                                     {"c": s.gold_tolerance, "p": s.gold_tolerance_pairwise})
    out = ctx.topics.annotator_events

    @app.agent(ctx.topics.valid, name="gold")
    async def gold_agent(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        async for batch in ctx.batches(stream, "gold"):
            async with guarded(ctx.fatal, "gold", ctx.work):
                for event in batch:
                    raw: bytes = event.value
                    if is_tick(raw):
                        continue
                    for key, value, _ in items_of(raw, event.key, None):
                        sent = rekey.on_event(key, value)
                        if sent is not None:
                            await outbox.send(out, key=sent[0], value=sent[1])
                await outbox.flush()

    @app.timer(s.annotator_flush_s)
    async def flush_counts() -> None:
        outbox = Outbox(ctx.fatal)  # counts taken from memory: delivered, or the worker stops
        for message in rekey.counts.take():
            await outbox.send(out, key=message["a"].encode(), value=orjson.dumps(message))
        await outbox.flush()
