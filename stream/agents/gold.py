"""Gold re-key: from the unit-keyed valid stream, gold answers and per-annotator counts keyed by annotator."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import faust
import orjson

from stream.agents.ingest import TICK_PREFIX
from stream.peers import AnnotatorCounts, UnitCache
from stream.qualification import Kind, encode

if TYPE_CHECKING:
    from stream.app import Context

_KINDS: dict[str, Kind] = {"rating": "c", "pairwise": "p"}


class Rekey:
    """Per event: a gold answer becomes a message for its annotator; any other answer is compared
    with its unit's earlier raters (peer agreement) and counted, all in memory until the flush."""

    def __init__(self, ctx: Context):
        s = ctx.settings
        self.dimensions = s.dimensions
        self.cache = UnitCache(s.peer_cache_units, {"c": s.gold_tolerance, "p": s.gold_tolerance_pairwise})
        self.counts = AnnotatorCounts()

    def on_event(self, key: bytes, raw: bytes) -> tuple[bytes, bytes] | None:
        """The gold message to send (key, value), if the event answers a gold item."""
        event = orjson.loads(raw)  # validated by ingest: fields are present and well-formed
        kind = _KINDS.get(event.get("kind"))
        if kind is None:
            return None  # retractions do not change gold or peer statistics
        annotator = event["annotator_id"]
        codes = encode(kind, event["scores"] if kind == "c" else event["preferences"], self.dimensions)
        gold_id = event.get("gold_item_id")
        self.counts.task(annotator, gold_id is not None)
        if gold_id is None:
            self.counts.pairs(self.cache.add(key.decode(), kind, annotator, codes), self.dimensions)
            return None
        message = {"t": "g", "a": annotator, "e": event["event_id"], "g": gold_id, "k": kind,
                   "ts": _epoch(event["submitted_at"]), "v": codes}
        return annotator.encode(), orjson.dumps(message)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def register(app: faust.App, ctx: Context) -> None:
    rekey = Rekey(ctx)
    app.alphawatch_rekey = rekey  # type: ignore[attr-defined]
    out = ctx.topics.annotator_events

    @app.agent(ctx.topics.valid, name="gold")
    async def gold_agent(stream: Any) -> None:
        async for event in stream.events():
            raw: bytes = event.value
            if raw[:1] == TICK_PREFIX:
                continue
            sent = rekey.on_event(event.key or b"", raw)
            if sent is not None:
                await out.send(key=sent[0], value=sent[1])

    @app.timer(ctx.settings.annotator_flush_s)
    async def flush_counts() -> None:
        for message in rekey.counts.take():
            await out.send(key=message["a"].encode(), value=orjson.dumps(message))
