"""The annotator stage's state: gold answers and counts applied to annotators' records, mirrored to Redis."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from redis.exceptions import RedisError

from stream.io.retry import Breaker
from stream.metrics import Metrics
from stream.qualification.annotator import Annotator, Config
from stream.qualification.goldkey import GoldKeyView
from stream.qualification.rules import STATES, Transition
from stream.qualification.store import AnnotatorStore

log = logging.getLogger(__name__)
KNOWN_TRANSITIONS = (("none", "qualifying"), ("qualifying", "qualified"), ("qualified", "retraining"),
                     ("retraining", "qualified"))


class AnnotatorStage:
    """Decodes the annotator-keyed messages and applies them to the annotators' records."""

    def __init__(self, cfg: Config, metrics: Metrics, table: Any, key: GoldKeyView, store: AnnotatorStore):
        self.metrics = metrics
        self.table = table
        self.key = key
        self.store = store
        self.cfg = cfg
        self.owned: set[int] = set()
        self.dirty: set[str] = set()  # annotators whose Redis hash is behind the table
        self.rechecking = False
        self.forgetting: dict[str, float] = {}  # asked to be forgotten (when), not yet handled
        self.pushing = False  # a Redis write in flight: a forget now could be overwritten by it
        # after a failed write, Redis is left alone this long: a blackholed Redis costs a timeout
        # per call, and the agent waiting on it would fill its buffer and stop Faust's one consumer
        self.redis = Breaker(5.0)  # Redis failed just now: the flush timer tries again after this

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
        if not (changed or transitions):
            return None, transitions
        ann.seen = now
        return ann, transitions

    def _apply(self, ann: Annotator, msg: dict[str, Any]) -> tuple[bool, float | None]:
        metrics = self.metrics.gold_answers
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
                self.metrics.gold_agreement.labels(dim).observe(agreement.value)

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

    def _idle(self, state: dict[str, Any], now: float) -> bool:
        """Idle past the retention and not qualified: a qualified annotator stays (the ranking and
        the batches count their votes by the qualified set; the pool of them is vetted and small),
        one who never qualified or is retraining starts over when they come back."""
        seen = float(state.get("seen", state["since"]))
        return state["st"] != "qualified" and seen < now - self.cfg.retention_s

    def expired(self, now: float) -> list[str]:
        """Owned annotators to forget, not asked about in the last minute: the flush asks the agent
        to forget them (Faust tables change only inside an agent's event; the ask is not acked)."""
        out = [a for a, s in self.owned_records()
               if now - self.forgetting.get(a, 0.0) > 60.0 and self._idle(s, now)]
        self.forgetting.update(dict.fromkeys(out, now))
        return out

    async def forget(self, annotator_id: str, now: float) -> bool:
        """In order with the annotator's messages: Redis first, then the table row, so a Redis
        failure keeps the row and a later flush asks again. False if it answered again meanwhile."""
        self.forgetting.pop(annotator_id, None)
        state = self.table.get(annotator_id)
        if state is None or not self._idle(state, now) or self.redis.tripped or self.pushing:
            return False
        try:
            await self.store.forget(annotator_id)
        except RedisError as exc:
            self.metrics.annotator_store_errors.inc()
            self.redis.trip()
            log.warning("idle annotator not forgotten in Redis (asked again later): %r", exc)
            return False
        del self.table[annotator_id]
        self.dirty.discard(annotator_id)
        self.metrics.annotators_forgotten.inc()
        return True

    async def push(self, annotator_ids: list[str]) -> None:
        """Write records to Redis in one pipeline; on failure they stay dirty and are retried."""
        if self.redis.tripped:
            self.dirty.update(annotator_ids)
            return
        self.pushing = True
        try:
            await self._push(annotator_ids)
        finally:
            self.pushing = False

    async def _push(self, annotator_ids: list[str]) -> None:
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
            self.metrics.annotator_store_errors.inc()
            self.redis.trip()
            self.dirty.update(annotator_ids)
            log.warning("annotator status not written to Redis (retried): %r", exc)

    def report_states(self) -> None:
        counts = Counter(state["st"] for _, state in self.owned_records())
        for state in STATES:
            self.metrics.annotators.labels(state).set(counts.get(state, 0))
