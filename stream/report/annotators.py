"""Per-annotator gold and peer agreement for the report, from events (and the stream's status records)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stream.qualification.calibration import compile_key, replay
from stream.qualification.peers import UnitCache
from stream.qualification.rules import Kind, encode
from stream.settings import Settings


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def peer_shares(events: Iterable[Mapping[str, Any]], settings: Settings) -> dict[str, float]:
    """Share of pairs with the co-raters of the same non-gold units that agree within the gold
    tolerance, over the whole file (the stream weights recent pairs; the report sums them all)."""
    cache = UnitCache(10**9, {"c": settings.gold_tolerance, "p": settings.gold_tolerance_pairwise})
    agree: dict[str, int] = {}
    pairs: dict[str, int] = {}
    for event in events:
        if event.get("gold_item_id") or event.get("kind") not in ("rating", "pairwise"):
            continue
        kind: Kind = "c" if event["kind"] == "rating" else "p"
        unit = event["clip_id"] if kind == "c" else event["pair_id"]
        answers = event["scores"] if kind == "c" else event["preferences"]
        for one, other, _, ok in cache.add(str(unit), kind, str(event["annotator_id"]),
                                           encode(kind, answers, settings.dimensions)):
            for who in (one, other):
                agree[who] = agree.get(who, 0) + int(ok)
                pairs[who] = pairs.get(who, 0) + 1
    return {who: agree[who] / n for who, n in pairs.items()}


def offline_gold(events: Sequence[Mapping[str, Any]], key_rows: list[dict[str, Any]],
                 settings: Settings) -> dict[str, tuple[float | None, str | None]]:
    """Gold agreement (mean over dimensions) and final state per annotator, replayed as the stream does."""
    key = compile_key(key_rows, settings)
    result = replay(events, key, settings)
    out: dict[str, tuple[float | None, str | None]] = {}
    for annotator, agreements in result.final_agreements(key).items():
        state = result.annotators[annotator].qual.get()
        out[annotator] = (_mean(a.value for a in agreements.values()), state)
    return out


def points(events: Sequence[Mapping[str, Any]], settings: Settings,
           status: Mapping[str, Mapping[str, Any]] | None = None,
           key_rows: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One point per annotator: gold agreement and state from the stream's newest status record
    when there is one, else from an offline replay against the key; peer agreement from events."""
    peers = peer_shares(events, settings)
    gold = offline_gold(events, key_rows, settings) if key_rows else {}
    rows = []
    for annotator in sorted(set(peers) | set(gold) | set(status or {})):
        record = (status or {}).get(annotator)
        if record is not None:
            value, state = _mean(record["gold_agreement"].values()), record["state"]
        else:
            value, state = gold.get(annotator, (None, None))
        rows.append({"annotator_id": annotator, "gold": value, "peer": peers.get(annotator),
                     "state": state or "unknown"})
    return rows
