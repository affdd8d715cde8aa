"""Offline replay of the flag policy: the stream's pure stages without a broker, many campaigns fast.

Run from the repo root: `python bench/flag_policy.py --annotations 1000000`. Events go through the
same unit rules, partition aggregates, merge and flag decision as the worker; a live snapshot is
taken every `--snapshot-events` events (the snapshot interval times the event rate) and windows
close on the event-time watermark. Counts false flags on stationary campaigns and, with
`--onset`, annotations from the onset to the flag. Prints figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from pydantic import TypeAdapter

from schemas.events import AnnotationEvent, PairwiseEvent, RatingEvent, RetractionEvent, unit_key
from stream.agreement.aggregate import PartitionAgg, partial_item, partials_message
from stream.agreement.merge import Key, Merger
from stream.campaign.simulate import Campaign, generate
from stream.config import flag_policies, merge_config, unit_specs
from stream.core.units import UnitState, answer_from, step
from stream.core.windows import Tumbling
from stream.flags.flagger import Flagger
from stream.flags.store import MemoryFlagStore
from stream.metrics import Metrics
from stream.settings import Settings

_EVENT: TypeAdapter[Any] = TypeAdapter(AnnotationEvent)


class Replay:
    """One partition, one merge stage and the merge stage's own Flagger on an in-memory store."""

    def __init__(self, settings: Settings):
        self.settings = settings
        config = dataclasses.replace(merge_config(settings), n_partitions=1)
        specs = unit_specs(settings)
        self.flagger = Flagger(flag_policies(settings), settings.bootstrap_samples, Metrics(),
                               MemoryFlagStore())
        self.loop = asyncio.new_event_loop()
        windows = [Tumbling(size, settings.grace_s) for size in settings.window_seconds]
        self.agg = PartitionAgg(0, specs, settings.slices, windows)
        self.merger = Merger(config, {})
        self.units: dict[str, UnitState] = {}
        self.flags: list[dict[str, Any]] = []
        self.per_record: set[Key] = set()  # windows a test of every record at the confidence would flag
        self.index = 0
        self.n_values = {k: spec.n_values for k, spec in specs.items()}

    def event(self, raw: dict[str, Any]) -> None:
        event = _EVENT.validate_json(orjson.dumps(raw))
        assert isinstance(event, RatingEvent | PairwiseEvent | RetractionEvent)
        key = unit_key(event)
        answer = answer_from(event, self.settings.dimensions, self.settings.score_min)
        submitted = answer.submitted
        outcome = step(self.units.get(key), answer, 0, self.n_values)
        if outcome.status == "applied":
            self.units[key] = outcome.state
            self.agg.apply(outcome.state, outcome.changes, float(self.index))
        self.index += 1
        moved = self.agg.advance(submitted)  # ingest's progress: the newest event time seen
        if moved:
            self.close(moved)

    def snapshot(self) -> None:
        dirty = self.agg.take_dirty()
        if dirty:
            for key in self.merger.on_partials(partials_message(0, dirty)):
                self.check(key, final=False)

    def close(self, moved: dict[int, int]) -> None:
        closed = list(self.agg.pop_closed())
        for size, through in sorted(moved.items()):
            msg = {"t": "closed", "p": 0, "w": size, "through": through, "late": {},
                   "items": [partial_item(k, w) for k, w in closed if k[2] == size]}
            for key in self.merger.on_closed(msg):
                self.check(key, final=True)
                self.merger.finish(key)
        horizon = self.agg.watermark - self.settings.retention_s  # as the stage's sweep
        self.units = {k: v for k, v in self.units.items() if v["t"] >= horizon}

    def check(self, key: Key, final: bool) -> None:
        record = self.merger.record(key, final=final)
        policy = self.flagger.policies[key[0]]
        enough = policy.look(record.n_pairable_values, policy.minimum(record.rarest_share)) is not None
        if enough and (record.p_below_threshold or 0.0) >= policy.confidence:
            self.per_record.add(key)
        flag = self.loop.run_until_complete(self.flagger.evaluate(record, key, self.merger))
        if flag is not None and flag.kind == "agreement_low":
            self.flags.append({**flag.model_dump(mode="json"), "at_event": self.index})


def replay(campaign: Campaign, settings: Settings, every: int) -> Replay:
    r = Replay(settings)
    for i, raw in enumerate(generate(campaign)):
        r.event(raw)
        if (i + 1) % every == 0:
            r.snapshot()
    r.snapshot()
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=200_000, help="annotations per campaign (seed)")
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--snapshot-events", type=int, default=150,
                        help="events between live snapshots (0.25 s at 600 events/s)")
    parser.add_argument("--onset", type=int, default=0, metavar="SEEDS",
                        help="onset campaigns (6,000 stationary, then text_alignment ambiguous) instead")
    parser.add_argument("--noise", type=float, nargs=2, default=(0.5, 0.8), metavar=("LOW", "HIGH"),
                        help="annotators' noise sd range (0.5-0.8: alpha about 0.8; 0.7-1.0: about 0.7)")
    args = parser.parse_args()
    settings = Settings()
    if args.onset:
        onset(settings, args.onset, args.snapshot_events)
        return
    started, flags, done, per_record = time.monotonic(), 0, 0, 0
    for index in range(max(1, args.annotations // args.chunk)):
        c = Campaign(seed=args.seed + index, n_clips=args.chunk // 3, noise_sd=tuple(args.noise))
        r = replay(c, settings, args.snapshot_events)
        flags += len(r.flags)
        per_record += len(r.per_record)
        done += args.chunk
        for f in r.flags:
            print("false flag:", {k: f[k] for k in ("dimension", "slice", "window_size_s", "window_start",
                                                     "alpha", "ci_low", "ci_high", "n_pairable_values",
                                                     "final")})
        print(f"campaign {index + 1} (seed {args.seed + index}): {done:,} annotations, {flags} false flags "
              f"(testing every record at the confidence instead: {per_record} windows), "
              f"{time.monotonic() - started:.0f} s", flush=True)


def onset(settings: Settings, seeds: int, every: int, before: int = 6_000, after: int = 3_000) -> None:
    """Annotations from the onset to the first text_alignment flag, per seed (as bench/detection.py)."""
    for seed in range(202, 202 + seeds):
        c = Campaign(seed=seed, n_clips=(before + after) // 3, ambiguous_dimension="text_alignment",
                     ambiguous_from=before // 3)
        r = replay(c, settings, every)
        early = [f for f in r.flags if f["at_event"] <= before]
        hits = [f["at_event"] - before for f in r.flags
                if f["at_event"] > before and f["dimension"] == "text_alignment"]
        later = sorted({(f["dimension"], f["slice"], f["window_size_s"]) for f in r.flags if f not in early})
        print(f"onset seed {seed}: flagged {min(hits) if hits else None} annotations after the onset; "
              f"{len(early)} flags before it; flags after: {later}")


if __name__ == "__main__":
    main()
