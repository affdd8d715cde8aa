"""Offline gold-qualification replay of a simulated campaign and scoring of a run against its plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stream.campaign.simulate import Campaign, generate, gold_key, ground_truth
from stream.config import qualification_config
from stream.qualification.annotator import Annotator
from stream.qualification.rules import Agreement, KeyRow, Kind, encode
from stream.settings import Settings


def compile_key(rows: Iterable[Mapping[str, Any]], s: Settings) -> dict[str, KeyRow]:
    return {str(r["gold_item_id"]): KeyRow.of(r, s.dimensions, s.gold_tolerance, s.gold_tolerance_pairwise)
            for r in rows}


def _ts(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


@dataclass
class Replay:
    """The stream's reference: every gold answer applied in event-time order with the full key."""

    annotators: dict[str, Annotator]
    transitions: list[dict[str, Any]]  # annotator_id, previous_state, state, event_at (epoch s)
    gold_times: dict[str, list[float]]  # each annotator's gold answers' submitted_at

    def final_agreements(self, key: Mapping[str, KeyRow]) -> dict[str, dict[str, Agreement]]:
        return {a: ann.agreements(key) for a, ann in self.annotators.items()}


def replay(events: Iterable[Mapping[str, Any]], key: Mapping[str, KeyRow], s: Settings) -> Replay:
    cfg = qualification_config(s)
    out = Replay({}, [], {})
    for e in events:
        if not e.get("gold_item_id") or e["kind"] not in ("rating", "pairwise"):
            continue
        annotator, ts = str(e["annotator_id"]), _ts(str(e["submitted_at"]))
        ann = out.annotators.setdefault(annotator, Annotator(cfg, annotator, 0))
        kind: Kind = "c" if e["kind"] == "rating" else "p"
        answers = e["scores"] if kind == "c" else e["preferences"]
        codes = encode(kind, answers, s.dimensions)
        ann.add_gold(str(e["event_id"]), ts, str(e["gold_item_id"]), kind, codes, key)
        out.gold_times.setdefault(annotator, []).append(ts)
        out.transitions += [{"annotator_id": annotator, "previous_state": t.previous, "state": t.state,
                             "event_at": ts} for t in ann.evaluate(key, ts, ts)]
    return out


@dataclass
class Verdict:
    """The issue's acceptance figures for one run (stream or replay)."""

    careless_qualified: list[str] = field(default_factory=list)
    drift_detected_after: dict[str, int | None] = field(default_factory=dict)  # gold answers since drift
    good_left_qualified: list[str] = field(default_factory=list)
    good_never_qualified: list[str] = field(default_factory=list)

    def ok(self, window: int) -> bool:
        return (not self.careless_qualified and not self.good_left_qualified
                and all(n is not None and n <= window for n in self.drift_detected_after.values()))


def judge(transitions: Iterable[Mapping[str, Any]], gold_times: Mapping[str, list[float]],
          truth: Mapping[str, Any]) -> Verdict:
    """Transitions (AnnotatorStatus dicts or replay ones, event_at as ISO or epoch) against the plan."""
    rows = [{**t, "event_at": _epoch(t.get("event_at"))} for t in transitions]
    careless, drifting = set(truth["careless"]), dict(truth["drifting"])
    verdict = Verdict()
    verdict.careless_qualified = sorted({t["annotator_id"] for t in rows
                                         if t["annotator_id"] in careless and t["state"] == "qualified"})
    for annotator, start in drifting.items():
        t0 = _ts(start)
        hit = [t["event_at"] for t in rows if t["annotator_id"] == annotator and t["state"] == "retraining"
               and t["event_at"] is not None and t["event_at"] >= t0]
        verdict.drift_detected_after[annotator] = (
            sum(t0 <= g <= min(hit) for g in gold_times.get(annotator, [])) if hit else None)
    good = set(gold_times) - careless - set(drifting)
    verdict.good_left_qualified = sorted({t["annotator_id"] for t in rows if t["annotator_id"] in good
                                          and t["previous_state"] == "qualified"})
    qualified = {t["annotator_id"] for t in rows if t["state"] == "qualified"}
    verdict.good_never_qualified = sorted(good - qualified)
    return verdict


def _epoch(value: Any) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    return _ts(str(value))


def scenario(seed: int, n_annotations: int, n_annotators: int = 30) -> Campaign:
    """The issue's fleet: 5% gold, 3 careless annotators, 2 drifting (+2 on motion_quality) from the
    middle of the campaign."""
    n_clips = int(n_annotations * 0.95) // 3
    return Campaign(seed=seed, n_clips=n_clips, n_annotators=n_annotators, careless=3, drifting=2,
                    drift_from=n_clips // 2, gold_share=0.05)


Plan = tuple[list[dict[str, Any]], list[dict[str, Any]], Replay, dict[str, Any]]


def plan(c: Campaign, s: Settings) -> Plan:
    """Events, key rows, the offline replay and the planted ground truth of one campaign."""
    events = list(generate(c))
    rows = gold_key(c)
    return events, rows, replay(events, compile_key(rows, s), s), ground_truth(c)
