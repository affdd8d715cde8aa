"""Unit stage: per-unit answers in a table, partial window matrices per partition, window closing."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import faust
import orjson
from pydantic import TypeAdapter

from schemas.events import AnnotationEvent, PairwiseEvent, RatingEvent, RetractionEvent
from stream.agents.ingest import TICK_PREFIX
from stream.aggregate import PartitionAgg, UnitSpec, partial_item, partials_message
from stream.units import PAIRWISE_SCALE, answer_of, apply, new_state
from stream.windows import SourceProgress, Tumbling

if TYPE_CHECKING:
    from stream.app import Context

_EVENT: TypeAdapter[Any] = TypeAdapter(AnnotationEvent)


def tick(progress: SourceProgress, raw: bytes, partition: int) -> float:
    """Apply one of ingest's progress ticks (`T{...}`); returns the partition's watermark."""
    message = orjson.loads(raw[1:])
    return progress.tick(partition, int(message["src"]), float(message["wm"]), bool(message["idle"]))


def unit_specs(ctx: Context) -> dict[str, UnitSpec]:
    dims = ctx.settings.dimensions
    return {
        "c": UnitSpec(tuple(dims), len(ctx.settings.scale)),
        "p": UnitSpec(tuple(f"pairwise.{d}" for d in dims), len(PAIRWISE_SCALE), nominal=True),
    }


class UnitStage:
    """Holds one PartitionAgg per owned partition; the units table is the source of truth."""

    def __init__(self, ctx: Context, units: Any, closures: Any):
        self.ctx = ctx
        self.units = units
        self.closures = closures
        self.specs = unit_specs(ctx)
        s = ctx.settings
        self.windows = [Tumbling(size, s.grace_s) for size in s.window_seconds]
        self.aggs: dict[int, PartitionAgg] = {}
        self.n_values = {k: spec.n_values for k, spec in self.specs.items()}
        self.progress = SourceProgress(s.partitions)

    def agg_for(self, partition: int) -> tuple[PartitionAgg, bool]:
        """The partition's aggregate, rebuilt from the tables the first time after assignment."""
        agg = self.aggs.get(partition)
        if agg is not None:
            return agg, False
        agg = PartitionAgg(partition, self.specs, self.ctx.settings.slices, self.windows)
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
        event = _EVENT.validate_json(raw)
        assert isinstance(event, RatingEvent | PairwiseEvent | RetractionEvent)
        state = self.units.get(key) or new_state(event, partition)
        if state["s"][0] is None and not isinstance(event, RetractionEvent):
            state = {**state, "s": new_state(event, partition)["s"]}
        answer = None if isinstance(event, RetractionEvent) else answer_of(
            event, self.ctx.settings.dimensions, self.ctx.settings.score_min)
        submitted = event.submitted_at.timestamp()
        outcome = apply(state, event.event_id, event.annotator_id, submitted, answer,
                        self.n_values[state["k"]])
        outcome_name = outcome.status
        if outcome.status == "applied":
            self.units[key] = outcome.state
            if agg.apply(outcome.state, outcome.changes, produced_at):
                outcome_name = "late"
            self.ctx.metrics.latency.observe(max(0.0, time.time() - submitted))
        self.ctx.metrics.units.labels(event.kind, outcome_name).inc()

    def tick(self, raw: bytes, partition: int) -> float:
        """Record an input partition's progress; returns this partition's watermark."""
        return tick(self.progress, raw, partition)

    def closing_messages(self, partition: int, agg: PartitionAgg, moved: dict[int, int]) -> list[bytes]:
        """Per window size that closed further: the closure with its windows' final partials,
        in one message, so the merge stage never sees a closure without its data."""
        closed = list(agg.pop_closed())
        return [orjson.dumps({"t": "closed", "p": partition, "w": size, "through": through,
                              "late": agg.take_late(size),
                              "items": [partial_item(k, w) for k, w in closed if k[2] == size]})
                for size, through in sorted(moved.items())]

    def persist_closure(self, partition: int, agg: PartitionAgg, moved: dict[int, int]) -> None:
        saved = self.closures.get(str(partition)) or {}
        prev = {str(s): int(saved.get("through", {}).get(str(s), 0)) for s in moved}
        self.closures[str(partition)] = {
            "through": {str(s): t for s, t in agg.closed_through.items()},
            "prev": {**saved.get("prev", {}), **prev}, "wm": agg.watermark,
        }

    def sweep(self, partition: int, watermark: float) -> int:
        """Forget units older than the retention: their windows are final and late answers are moot."""
        horizon = watermark - self.ctx.settings.retention_s
        old = [k for k, v in self.units.items() if v["p"] == partition and v["t"] < horizon]
        for key in old:
            del self.units[key]
        return len(old)


def register(app: faust.App, ctx: Context) -> None:
    settings, topics = ctx.settings, ctx.topics
    units = app.Table("units", default=None, partitions=settings.partitions)
    closures = app.Table("closures", default=None, partitions=settings.partitions)
    stage = UnitStage(ctx, units, closures)
    app.alphawatch_units = stage  # type: ignore[attr-defined]

    @app.agent(topics.valid, name="units")
    async def units_agent(stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            agg, rebuilt = stage.agg_for(partition)
            raw: bytes = event.value
            if raw[:1] == TICK_PREFIX:
                moved = agg.advance(stage.tick(raw, partition))
            else:
                stage.on_event(event.key.decode(), raw, partition, agg, event.message.timestamp or 0.0)
                moved = {}
            if rebuilt:  # re-announce closures: the merge stage ignores what it already has
                moved = {s: t for s, t in agg.closed_through.items() if t} | moved
            if moved:
                for message in stage.closing_messages(partition, agg, moved):
                    await topics.partials.send(value=message)
                stage.persist_closure(partition, agg, moved)
                stage.sweep(partition, agg.watermark)
            ctx.metrics.watermark.labels(str(partition)).set(agg.watermark)

    @app.timer(settings.snapshot_interval_s)
    async def send_snapshots() -> None:
        for partition, agg in list(stage.aggs.items()):
            dirty = agg.take_dirty()
            if dirty:
                await topics.partials.send(value=orjson.dumps(partials_message(partition, dirty)))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget(sender: Any, revoked: Any, **_: Any) -> None:
        # another worker rebuilds these from the units table; stale snapshots must stop now
        for tp in revoked:
            if tp.topic == topics.valid.get_topic_name():
                stage.aggs.pop(tp.partition, None)
                stage.progress.forget(tp.partition)
