"""Annotator qualification over HTTP: GET /annotators and /annotators/{id}, answered from Redis."""

from __future__ import annotations

from typing import Any

import faust

from stream.context import Context
from stream.io.rediskeys import RedisKeys
from stream.io.security import redis_client
from stream.qualification.rules import STATES
from stream.qualification.store import AnnotatorStore

# a pool of 10,000 annotators is one request's worth of ids at most; pages walk the rest
DEFAULT_PAGE, MAX_PAGE = 1000, 10_000


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
        page = _page(request.query)
        if page is None:
            return web.json({"error": f"limit must be 1-{MAX_PAGE} and offset >= 0"}, status=400)
        offset, limit = page
        members = await store.members(state)
        shown = members[offset:offset + limit]
        following = offset + limit if offset + limit < len(members) else None
        return web.json({"state": state, "count": len(members), "offset": offset, "limit": limit,
                         "next_offset": following, "annotators": shown})


def _page(query: Any) -> tuple[int, int] | None:
    """(offset, limit) of a list request, or None when they are not valid."""
    try:
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", DEFAULT_PAGE))
    except ValueError:
        return None
    return (offset, limit) if offset >= 0 and 1 <= limit <= MAX_PAGE else None
