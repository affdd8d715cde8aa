"""Model leaderboards over HTTP: the newest leaderboards, tailed from model-rankings on every worker."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from stream.context import Context
from stream.ranking.votes import MODALITIES, OVERALL
from stream.web import tail_view


class RankingView:
    """Newest leaderboard per modality and dimension, tailed from model-rankings on every worker."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}

    def apply(self, value: bytes) -> None:
        record = orjson.loads(value)
        self.records[(record["modality"], record["dimension"])] = record

    def select(self, modality: str) -> list[dict[str, Any]]:
        rows = [r for (m, _), r in self.records.items() if m == modality]
        return sorted(rows, key=lambda r: (r["dimension"] != OVERALL, r["dimension"]))


def register(app: faust.App, ctx: Context) -> None:
    """GET /rankings/{modality} on every worker, from the model-rankings topic."""
    view = RankingView()
    tail_view(app, ctx, ctx.topics.model_rankings, view.apply)

    @app.page("/rankings/{modality}")
    async def rankings(web: Any, request: Any, modality: str) -> Any:
        if modality not in MODALITIES:
            return web.json({"error": f"modality must be one of {list(MODALITIES)}"}, status=404)
        return web.json(view.select(modality))
