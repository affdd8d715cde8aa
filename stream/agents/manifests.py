"""Manifests agent (one partition): partitions' batch summaries into one manifest per closed batch."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from stream.batches.manifests import ManifestStage
from stream.config import batch_policy, manifest_scales
from stream.context import Context
from stream.io.outbox import Outbox, guarded
from stream.io.tables import WriteBehind


def register(app: faust.App, ctx: Context) -> None:
    """Reads `batch-partials` (one partition); writes `rlhf-batch-manifests`. Owns table `manifests`."""
    settings = ctx.settings
    # a manifest's "sent" digest reaches the table only once the manifest is delivered
    table = WriteBehind(app.Table("manifests", default=None, partitions=1))
    stage = ctx.stages.manifests = ManifestStage(batch_policy(settings).clock, settings.partitions,
                                                 manifest_scales(settings), ctx.metrics, table)

    @app.agent(ctx.topics.batch_partials, name="manifests")
    async def manifests_agent(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        async for batch in ctx.batches(stream, "manifests"):
            async with guarded(ctx.fatal, "manifests", ctx.work):
                for event in batch:
                    table.at(event)
                    for key, value in stage.on_closing(orjson.loads(event.value)):
                        await outbox.send(ctx.topics.manifests, key=key, value=value)
                await outbox.flush()
                table.flush()
