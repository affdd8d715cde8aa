"""Manifests agent (one partition): partitions' batch summaries into one manifest per closed batch."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from stream.batches.manifests import ManifestStage
from stream.config import batch_policy, manifest_scales
from stream.context import Context


def register(app: faust.App, ctx: Context) -> None:
    """Reads `batch-partials` (one partition); writes `rlhf-batch-manifests`. Owns table `manifests`."""
    settings = ctx.settings
    table = app.Table("manifests", default=None, partitions=1)
    stage = ctx.stages.manifests = ManifestStage(batch_policy(settings).clock, settings.partitions,
                                                 manifest_scales(settings), ctx.metrics, table)

    @app.agent(ctx.topics.batch_partials, name="manifests")
    async def manifests_agent(stream: Any) -> None:
        async for raw in stream:
            for key, value in stage.on_closing(orjson.loads(raw)):
                await ctx.topics.manifests.send(key=key, value=value)
