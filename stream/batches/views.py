"""Closed RLHF batches over HTTP: GET /batches, tailed from rlhf-batch-manifests on every worker."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from stream.context import Context
from stream.web import tail_view

# the manifest fields a batch list shows; checksums and per-type details stay on the topic
SUMMARY = ("batch_id", "batch_start", "batch_end", "revision", "record_counts", "answers_received",
           "answers_included", "exclusions", "alpha", "closed_at")
DEFAULT_LIMIT, MAX_LIMIT = 20, 500


class BatchView:
    """The newest revision of each batch's manifest, at most `keep` batches (the oldest go first)."""

    def __init__(self, keep: int = 1000) -> None:
        self.manifests: dict[str, dict[str, Any]] = {}
        self.keep = keep

    def apply(self, value: bytes) -> None:
        manifest = orjson.loads(value)
        summary = {field: manifest[field] for field in SUMMARY}
        known = self.manifests.get(summary["batch_id"])
        if known is not None and known["revision"] > summary["revision"]:
            return  # an older revision read after a newer one
        self.manifests[summary["batch_id"]] = summary
        if len(self.manifests) > self.keep:
            del self.manifests[min(self.manifests, key=lambda b: str(self.manifests[b]["batch_start"]))]

    def select(self, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        """The `limit` newest batches by start, each with its state: closed, or revised once a
        late partition summary changed it."""
        newest = sorted(self.manifests.values(), key=lambda m: str(m["batch_start"]), reverse=True)
        return [{**m, "state": "revised" if m["revision"] > 1 else "closed"} for m in newest[:limit]]


def limit_from(query: Any) -> int | None:
    """`?limit=` of GET /batches, or None when it is not 1..MAX_LIMIT."""
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        return None
    return limit if 1 <= limit <= MAX_LIMIT else None


def register(app: faust.App, ctx: Context) -> None:
    """GET /batches[?limit=] on every worker, from the rlhf-batch-manifests topic."""
    view = BatchView()
    tail_view(app, ctx, ctx.topics.manifests, view.apply)

    @app.page("/batches")
    async def batches(web: Any, request: Any) -> Any:
        limit = limit_from(request.query)
        if limit is None:
            return web.json({"error": f"limit must be 1-{MAX_LIMIT}"}, status=400)
        return web.json({"batches": view.select(limit), "batch_length": ctx.settings.batch_length})
