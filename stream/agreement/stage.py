"""The unit stage's state: per-unit answers in a table, one partition aggregate per owned partition."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, cast

import orjson

from stream.agreement.aggregate import (
    MAX_MESSAGE_BYTES,
    PartitionAgg,
    UnitSpec,
    chunks,
    partial_item,
    with_items,
)
from stream.core.ticks import tick
from stream.core.units import read_answer, step
from stream.core.windows import SourceProgress, Tumbling
from stream.core.wire import ClosureState, UnitState
from stream.metrics import Metrics


@dataclass(frozen=True)
class UnitsConfig:
    """What the unit stage reads of the settings (built by `stream.config.units_config`)."""

    specs: dict[str, UnitSpec]
    windows: list[Tumbling]
    slices: list[str]
    partitions: int
    dimensions: list[str]
    score_min: int
    retention_s: int


class UnitStage:
    """Holds one PartitionAgg per owned partition; the units table is the source of truth."""

    def __init__(self, config: UnitsConfig, metrics: Metrics, units: MutableMapping[str, Any],
                 closures: MutableMapping[str, Any]):
        self.config = config
        self.metrics = metrics
        self.units = units
        self.closures = closures
        self.specs = config.specs
        self.windows = config.windows
        self.aggs: dict[int, PartitionAgg] = {}
        self.n_values = {k: spec.n_values for k, spec in self.specs.items()}
        self.progress = SourceProgress(config.partitions)

    def agg_for(self, partition: int) -> tuple[PartitionAgg, bool]:
        """The partition's aggregate, rebuilt from the tables the first time after assignment."""
        agg = self.aggs.get(partition)
        if agg is not None:
            return agg, False
        agg = PartitionAgg(partition, self.specs, self.config.slices, self.windows)
        saved = self.closures.get(str(partition)) or {}
        # reopen the windows closed by the last advance: their final may not have been delivered
        agg.closed_through = {w.size_s: int(saved.get("prev", {}).get(str(w.size_s), 0))
                              for w in self.windows}
        agg.rebuild(v for v in self.units.values() if v["p"] == partition)
        agg.closed_through = {w.size_s: int(saved.get("through", {}).get(str(w.size_s), 0))
                              for w in self.windows}
        agg.watermark = float(saved.get("wm", 0.0))
        self.aggs[partition] = agg
        return agg, True

    def on_event(self, key: str, raw: bytes, partition: int, agg: PartitionAgg,
                 produced_at: float = 0.0) -> None:
        """Apply one valid event to its unit and to the partition's open windows."""
        answer = read_answer(orjson.loads(raw), self.config.dimensions, self.config.score_min)
        stored: UnitState | None = self.units.get(key)  # whose answers the windows hold now
        outcome = step(stored, answer, partition, self.n_values)
        outcome_name = outcome.status
        if outcome.status == "applied":
            self.units[key] = outcome.state
            if not agg.is_late(outcome.state):
                agg.queue(key, stored, outcome.state, outcome.changes, produced_at)
            else:
                agg.flush()
                if agg.apply(outcome.state, outcome.changes, produced_at):
                    outcome_name = "late"
            self.metrics.latency.observe(max(0.0, time.time() - answer.submitted))
        self.metrics.units.labels(answer.event_kind, outcome_name).inc()

    def tick(self, raw: bytes, partition: int) -> float:
        """Record an input partition's progress; returns this partition's watermark."""
        return tick(self.progress, raw, partition)

    def closing_messages(self, partition: int, agg: PartitionAgg, moved: dict[int, int],
                         limit: int = MAX_MESSAGE_BYTES) -> list[bytes]:
        """Per window size that closed further: the windows' final partials, then the closure.
        Partials that do not fit one message go ahead in messages that close nothing (`through`
        0, no late counts); the last one moves `through`, so the merge stage never sees a
        closure before all of its data."""
        closed = list(agg.pop_closed())
        out = []
        for size, through in sorted(moved.items()):
            runs = chunks([orjson.dumps(partial_item(k, w)) for k, w in closed if k[2] == size], limit)
            head = {"t": "closed", "p": partition, "w": size, "through": 0, "late": {}}
            out += [with_items(head, run) for run in runs[:-1]]
            out.append(with_items({**head, "through": through, "late": agg.take_late(size)}, runs[-1]))
        return out

    def persist_closure(self, partition: int, agg: PartitionAgg, moved: dict[int, int]) -> None:
        saved = cast(ClosureState, self.closures.get(str(partition)) or {})
        prev = {str(s): int(saved.get("through", {}).get(str(s), 0)) for s in moved}
        state: ClosureState = {
            "through": {str(s): t for s, t in agg.closed_through.items()},
            "prev": {**saved.get("prev", {}), **prev}, "wm": agg.watermark,
        }
        self.closures[str(partition)] = state

    def sweep(self, partition: int, watermark: float) -> int:
        """Forget units older than the retention: their windows are final and late answers are moot."""
        horizon = watermark - self.config.retention_s
        old = [k for k, v in self.units.items() if v["p"] == partition and v["t"] < horizon]
        for key in old:
            del self.units[key]
        return len(old)

    def forget(self, partition: int) -> None:
        """Another worker rebuilds the partition from the units table; stale snapshots stop now."""
        self.aggs.pop(partition, None)
        self.progress.forget(partition)
