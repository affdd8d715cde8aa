"""Gold re-key: from the unit-keyed valid stream, gold answers and per-annotator counts keyed by annotator."""

from __future__ import annotations

from datetime import datetime

import orjson

from stream.core.wire import GoldMessage
from stream.qualification.peers import AnnotatorCounts, UnitCache
from stream.qualification.rules import Kind, encode

_KINDS: dict[str, Kind] = {"rating": "c", "pairwise": "p"}


class Rekey:
    """Per event: a gold answer becomes a message for its annotator; any other answer is compared
    with its unit's earlier raters (peer agreement) and counted, all in memory until the flush."""

    def __init__(self, dimensions: list[str], peer_cache_units: int, tolerances: dict[Kind, int]):
        self.dimensions = dimensions
        self.cache = UnitCache(peer_cache_units, tolerances)
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
        message: GoldMessage = {"t": "g", "a": annotator, "e": event["event_id"], "g": gold_id, "k": kind,
                   "ts": _epoch(event["submitted_at"]), "v": codes}
        return annotator.encode(), orjson.dumps(message)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()
