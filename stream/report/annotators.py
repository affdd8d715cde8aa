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
                 settings: Settings) -> dict[str, tuple[dict[str, float | None], str | None]]:
    """Gold agreement per dimension and final state per annotator, replayed as the stream does."""
    key = compile_key(key_rows, settings)
    result = replay(events, key, settings)
    out: dict[str, tuple[dict[str, float | None], str | None]] = {}
    for annotator, agreements in result.final_agreements(key).items():
        state = result.annotators[annotator].qual.get()
        out[annotator] = ({d: a.value for d, a in agreements.items() if a.n}, state)
    return out


def gold_fields(by_dimension: Mapping[str, float | None]) -> dict[str, Any]:
    """Per dimension, the mean, and the lowest dimension: qualification judges each dimension
    on its own, so a mean can sit at the threshold while one dimension is below it."""
    known = {d: v for d, v in sorted(by_dimension.items()) if v is not None}
    lowest = min(known, key=lambda d: (known[d], d)) if known else None
    return {"gold_by_dimension": known, "gold": _mean(known.values()),
            "gold_lowest": known[lowest] if lowest else None, "gold_lowest_dimension": lowest}


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
            values, state = dict(record.get("gold_agreement") or {}), record.get("state")
        else:
            values, state = gold.get(annotator, ({}, None))
        rows.append({"annotator_id": annotator, **gold_fields(values), "peer": peers.get(annotator),
                     "state": state or "unknown"})
    return rows


def outside_pack(rows: Sequence[Mapping[str, Any]], gold_threshold: float, spread: float = 4.0,
                 floor: float = 0.02) -> list[str]:
    """Annotators to name on the scatter: retraining, a dimension below the gold threshold, or
    gold or peer agreement further than `spread` robust deviations (MAD, at least `floor`) from
    the median of everyone plotted."""
    plotted = [r for r in rows if r.get("gold_lowest") is not None and r.get("peer") is not None]
    far: set[str] = set()
    for field in ("gold_lowest", "peer"):
        values = sorted(float(r[field]) for r in plotted)
        if not values:
            continue
        median = values[len(values) // 2]
        mad = max(floor, sorted(abs(v - median) for v in values)[len(values) // 2])
        far |= {str(r["annotator_id"]) for r in plotted if abs(float(r[field]) - median) > spread * mad}
    return sorted(str(r["annotator_id"]) for r in plotted
                  if r["state"] == "retraining" or float(r["gold_lowest"]) < gold_threshold
                  or r["annotator_id"] in far)
