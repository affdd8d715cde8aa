"""Annotator qualification over HTTP: GET /annotators and /annotators/{id}, answered from Redis."""

from __future__ import annotations

from typing import Any

import faust

from stream.context import Context
from stream.io.rediskeys import RedisKeys
from stream.io.security import redis_client
from stream.qualification.rules import STATES
from stream.qualification.store import AnnotatorStore


def register(app: faust.App, ctx: Context) -> None:
    """GET /annotators/{id} and GET /annotators[?state=...], answered from Redis on every worker."""
    store = AnnotatorStore(redis_client(ctx.settings), RedisKeys(ctx.settings.app_id))

    @app.page("/annotators/{annotator_id}")
    async def annotator(web: Any, request: Any, annotator_id: str) -> Any:
        found = await store.get(annotator_id)
        if found is None:
            return web.json({"annotator_id": annotator_id, "error": "unknown annotator "
                             "(treated as qualifying)"}, status=404)
        return web.json(found)

    @app.page("/annotators")
    async def annotators(web: Any, request: Any) -> Any:
        state = request.query.get("state")
        if state is None:
            return web.json({"counts": await store.counts()})
        if state not in STATES:
            return web.json({"error": f"state must be one of {list(STATES)}"}, status=400)
        members = await store.members(state)
        return web.json({"state": state, "count": len(members), "annotators": members})
