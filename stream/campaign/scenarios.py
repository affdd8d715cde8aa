"""Named simulator scenarios and writing a campaign to disk: events, gold key and ground truth."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from stream.campaign.simulate import Campaign, generate, gold_key, ground_truth

SCENARIOS = ("stationary", "ambiguous-guideline", "careless-annotator", "drifting-annotator", "late-events")


def scenario(name: str, clips: int = 3000, annotators: int = 30, seed: int = 7, gold_share: float = 0.05,
             **overrides: Any) -> Campaign:
    """A campaign planting what `name` says; events of the planted change start at the middle clip."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    middle = clips // 2
    planted: dict[str, dict[str, Any]] = {
        "stationary": {},
        "ambiguous-guideline": {"ambiguous_dimension": "text_alignment", "ambiguous_from": middle},
        "careless-annotator": {"careless": 1, "careless_weight": 3.0, "careless_from": middle},
        "drifting-annotator": {"drifting": 1, "drift_from": middle},
        "late-events": {"late_share": 0.02},
    }
    return Campaign(seed=seed, n_clips=clips, n_annotators=annotators, gold_share=gold_share,
                    **{**planted[name], **overrides})


@dataclass
class Written:
    events: Path
    gold_key: Path
    truth: Path
    count: int


def paths_for(out: Path) -> Written:
    """A directory gets events.jsonl, gold-key.jsonl and ground-truth.json; a .jsonl file name gets
    the key and the truth alongside it (<stem>.gold-key.jsonl, <stem>.ground-truth.json)."""
    if out.suffix == ".jsonl":
        return Written(out, out.with_name(f"{out.stem}.gold-key.jsonl"),
                       out.with_name(f"{out.stem}.ground-truth.json"), 0)
    return Written(out / "events.jsonl", out / "gold-key.jsonl", out / "ground-truth.json", 0)


def truth_of(c: Campaign, scenario_name: str, late: list[str], counts: dict[str, int]) -> dict[str, Any]:
    """The scenario's ground truth file: what was planted, where, and what was delivered late."""
    knobs = {k: (v.isoformat() if isinstance(v, datetime) else v)
             for k, v in dataclasses.asdict(c).items()}
    return {"scenario": scenario_name, "campaign": knobs, **ground_truth(c),
            "late_event_ids": late, "late_delay_s": c.late_delay_s if late else None, "counts": counts}


def late_ids(events: Iterable[dict[str, Any]], slack_s: float = 1.0) -> Iterator[str]:
    """Ids of events delivered after an event more than `slack_s` newer. The simulator keeps event-time
    order otherwise (a gold answer follows its annotator's rating by a millisecond), so these are
    exactly the held-back ones: `late_delay_s` out of order, less near the end of the campaign."""
    newest = float("-inf")
    for event in events:
        at = datetime.fromisoformat(event["submitted_at"]).timestamp()
        if at < newest - slack_s:
            yield str(event["event_id"])
        newest = max(newest, at)


def write(c: Campaign, scenario_name: str, out: Path) -> Written:
    """Events, gold key and ground truth at `out` (see paths_for)."""
    paths = paths_for(out)
    paths.events.parent.mkdir(parents=True, exist_ok=True)
    counts = {"rating": 0, "pairwise": 0, "gold": 0}
    events: list[dict[str, Any]] = []
    with paths.events.open("wb") as handle:
        for event in generate(c):
            handle.write(orjson.dumps(event) + b"\n")
            counts[event["kind"]] += 1
            counts["gold"] += event.get("gold_item_id") is not None
            events.append({"event_id": event["event_id"], "submitted_at": event["submitted_at"]})
    paths.count = sum(counts[k] for k in ("rating", "pairwise"))
    paths.gold_key.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in gold_key(c)))
    late = list(late_ids(events)) if c.late_share else []
    truth = truth_of(c, scenario_name, late, counts)
    paths.truth.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2))
    return paths
