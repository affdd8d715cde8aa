"""Annotator stage: per-annotator gold state in a table, transitions to annotator-status and Redis."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import faust
import orjson
from redis.exceptions import RedisError

from stream.annotator_state import Annotator, Config
from stream.annotators import AnnotatorStore
from stream.goldkey import GoldKeyView
from stream.qualification import STATES, Transition
from stream.security import redis_client

if TYPE_CHECKING:
    from stream.app import Context

log = logging.getLogger(__name__)
_KNOWN_TRANSITIONS = (("none", "qualifying"), ("qualifying", "qualified"), ("qualified", "retraining"),
                      ("retraining", "qualified"))


class AnnotatorStage:
    """Decodes the annotator-keyed messages and applies them to the annotators' records."""

    def __init__(self, ctx: Context, table: Any, key: GoldKeyView, store: AnnotatorStore):
        self.ctx = ctx
        self.table = table
        self.key = key
        self.store = store
        self.cfg = Config.of(ctx.settings)
        self.owned: set[int] = set()
        self.dirty: set[str] = set()  # annotators whose Redis hash is behind the table
        self.rechecking = False

    def load(self, annotator_id: str, partition: int) -> Annotator:
        state = self.table.get(annotator_id)
        if state is None:
            return Annotator(self.cfg, annotator_id, partition)
        return Annotator.from_state(self.cfg, annotator_id, state)

    def on_message(self, msg: dict[str, Any], partition: int, now: float
                   ) -> tuple[Annotator | None, list[Transition]]:
        """The changed record (None if nothing changed) and the transitions it went through."""
        ann = self.load(str(msg["a"]), partition)
        ann.partition = partition
        changed, event_at = self._apply(ann, msg)
        transitions = ann.evaluate(self.key.rows, now, event_at)
        return (ann if changed or transitions else None), transitions

    def _apply(self, ann: Annotator, msg: dict[str, Any]) -> tuple[bool, float | None]:
        metrics = self.ctx.metrics.gold_answers
        if msg["t"] == "g":
            result = ann.add_gold(msg["e"], float(msg["ts"]), msg["g"], msg["k"], tuple(msg["v"]),
                                  self.key.rows)
            metrics.labels(result.outcome).inc()
            for gold_id in result.dropped:
                metrics.labels("dropped").inc()
                log.warning("gold answer of %s dropped: key item %r unknown and %d answers already "
                            "waiting", ann.id, gold_id, self.cfg.pending_max)
            if result.outcome == "scored":
                self.observe(ann)
            return result.outcome != "duplicate", float(msg["ts"])
        if msg["t"] == "c":
            ann.add_counts(int(msg["n"]), int(msg["ng"]), msg["peer"])
            return True, None
        resolved = ann.resolve(self.key.rows)  # "r": the key changed for this annotator
        for _, outcome in resolved:
            metrics.labels("resolved" if outcome == "scored" else outcome).inc()
        return bool(resolved), None

    def observe(self, ann: Annotator) -> None:
        for dim, agreement in ann.agreements(self.key.rows).items():
            if agreement.value is not None and agreement.n >= self.cfg.min_answers:
                self.ctx.metrics.gold_agreement.labels(dim).observe(agreement.value)

    def owned_records(self) -> list[tuple[str, dict[str, Any]]]:
        """Records of the partitions this worker owns (standby copies of others' are skipped)."""
        return [(k, v) for k, v in list(self.table.items()) if v is not None and v["p"] in self.owned]

    def affected_by(self, changed: set[str]) -> list[str]:
        """Owned annotators whose answers or waiting answers refer to changed key items."""
        out = []
        for annotator_id, state in self.owned_records():
            refs = {e[1] for e in state["g"]} | {w[1] for w in state["w"]}
            if refs & changed:
                out.append(annotator_id)
        return out

    def recheck(self) -> list[str]:
        """After a rebalance: every owned annotator, since key items may have changed meanwhile."""
        self.rechecking = False
        return [a for a, _ in self.owned_records()]

    async def push(self, annotator_ids: list[str]) -> None:
        """Write records to Redis in one pipeline; on failure they stay dirty and are retried."""
        now = time.time()
        records = [(a, s) for a in annotator_ids if (s := self.table.get(a)) is not None
                   and s["p"] in self.owned]
        try:
            async with self.store.client.pipeline(transaction=False) as pipe:
                for annotator_id, state in records:
                    if state["st"] is not None:
                        ann = Annotator.from_state(self.cfg, annotator_id, state)
                        await self.store.apply(annotator_id, ann.seq, ann.redis_fields(self.key.rows, now),
                                               pipe=pipe)
                await pipe.execute()
            self.dirty.difference_update(annotator_ids)
        except RedisError as exc:
            self.ctx.metrics.annotator_store_errors.inc()
            self.dirty.update(annotator_ids)
            log.warning("annotator status not written to Redis (retried): %r", exc)

    def report_states(self) -> None:
        counts = Counter(state["st"] for _, state in self.owned_records())
        for state in STATES:
            self.ctx.metrics.annotators.labels(state).set(counts.get(state, 0))


def register(app: faust.App, ctx: Context) -> None:
    settings, topics = ctx.settings, ctx.topics
    table = app.Table("annotators", default=None, partitions=settings.partitions)
    key = GoldKeyView(settings, on_invalid=ctx.metrics.gold_key_invalid.inc)
    stage = AnnotatorStage(ctx, table, key, AnnotatorStore(redis_client(settings), f"{settings.app_id}:"))
    app.alphawatch_annotators = stage  # type: ignore[attr-defined]
    for before, after in _KNOWN_TRANSITIONS:
        ctx.metrics.annotator_transitions.labels(before, after)

    @app.task
    async def tail_gold_key() -> None:
        await topics.gold.maybe_declare()  # compacted; auto-creation would not compact it
        await key.run()

    @app.agent(topics.annotator_events, name="annotators")
    async def annotators_agent(stream: Any) -> None:
        await key.ready.wait()  # never score against a half-loaded key
        async for event in stream.events():
            ann, transitions = stage.on_message(orjson.loads(event.value), event.message.partition,
                                                time.time())
            if ann is None:
                continue
            ann.seq += 1
            for transition in transitions:
                await send_status(ann, transition)
            table[ann.id] = ann.to_state()
            stage.dirty.add(ann.id)
            if transitions:  # eligibility changes reach Redis now, statistics with the next flush
                await stage.push([ann.id])

    async def send_status(ann: Annotator, transition: Transition) -> None:
        status = ann.status(transition, key.rows)
        # acknowledged before the table moves on: a record in the table implies one on the topic
        sent = await topics.annotator_status.send(key=ann.id.encode(),
                                                  value=status.model_dump_json().encode())
        await sent
        ctx.metrics.annotator_transitions.labels(transition.previous or "none", transition.state).inc()

    @app.timer(settings.annotator_flush_s)
    async def flush() -> None:
        changed = key.drain()
        targets = stage.recheck() if stage.rechecking else stage.affected_by(changed) if changed else []
        for annotator_id in targets:
            await topics.annotator_events.send(key=annotator_id.encode(),
                                               value=orjson.dumps({"t": "r", "a": annotator_id}))
        if stage.dirty:
            await stage.push(sorted(stage.dirty))
        stage.report_states()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def assigned(sender: Any, assigned: Any, **_: Any) -> None:
        name = topics.annotator_events.get_topic_name()
        stage.owned = {tp.partition for tp in assigned if tp.topic == name}

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def reconcile(sender: Any, **_: Any) -> None:
        # tables recovered: Redis may be behind them (a crash between the topic and Redis)
        stage.dirty.update(a for a, _ in stage.owned_records())
        stage.rechecking = True
