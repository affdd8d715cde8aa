"""The batch stage's state: units' eligible answers into versioned RLHF records, closed batches summarized."""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from stream.batches.records import RECORD_TYPE, Answer, RecordContext, build, hash_annotator, record_id
from stream.batches.rules import (
    ANSWER_KINDS,
    BatchUnit,
    Policy,
    Summary,
    apply_answer,
    eligible,
    emission,
    mark_emitted,
    new_unit,
    seen_ids,
)
from stream.core import vocabulary
from stream.core.windows import SourceProgress
from stream.metrics import Metrics
from stream.qualification.statusview import StatusView

log = logging.getLogger(__name__)
KEEP = 4  # closed batches' summaries kept per partition for resending
AlphaOf = Callable[[str, int, int], float | None]  # (dimension, window size, window start) -> alpha


@dataclass(frozen=True)
class BatchConfig:
    """What the batch stage reads of the settings (built by `stream.config.batch_config`)."""

    policy: Policy
    partitions: int
    salt: bytes
    dimensions: list[str]
    scale: list[int]
    score_min: int
    gold_tolerance: int


class BatchStage:
    """The `batchunits` table is the source of truth; close-time heaps and batch indexes are
    derived from it per owned partition, rebuilt after every assignment."""

    def __init__(self, config: BatchConfig, metrics: Metrics, units: Any, closed: Any, status: StatusView,
                 alpha_of: AlphaOf, versions: Any | None = None):
        self.config, self.metrics, self.alpha_of = config, metrics, alpha_of
        self.units, self.closed, self.status = units, closed, status
        # unit key -> the newest version handed to the producer, durable before the record is sent
        self.versions: Any = {} if versions is None else versions
        self.policy = config.policy
        self.progress = SourceProgress(config.partitions)
        self.salt = config.salt
        self.n_values = vocabulary.n_values(config.scale)
        self.heaps: dict[int, list[tuple[float, str]]] = {}  # partition -> (unit close, key)
        self.batches: dict[int, dict[int, set[str]]] = {}  # partition -> batch start -> keys
        self.resend: set[int] = set()  # partitions whose recent summaries go out again
        # partition -> batch start -> keys of closed units kept as stubs (the event id of each
        # annotator's answer), so a repeat after the close is still known as a repeat
        self.stubs: dict[int, dict[int, set[str]]] = {}

    def owned(self, partition: int) -> None:
        """Derive the partition's indexes from the table the first time it is seen."""
        if partition in self.batches:
            return
        self.heaps[partition], self.batches[partition], self.stubs[partition] = [], {}, {}
        for key, state in list(self.units.items()):
            if state is not None and state["p"] == partition:
                self._index(partition, key, state, rebuilding=True)
        heapq.heapify(self.heaps[partition])
        self.resend.add(partition)

    def _index(self, partition: int, key: str, state: BatchUnit, rebuilding: bool = False) -> None:
        if state.get("z"):
            self.stubs[partition].setdefault(state["b"], set()).add(key)
            return
        if not state["c"]:
            entry = (state["w"], key)
            if rebuilding:
                self.heaps[partition].append(entry)
            else:
                heapq.heappush(self.heaps[partition], entry)
        self.batches[partition].setdefault(state["b"], set()).add(key)

    def forget(self, partition: int) -> None:
        self.heaps.pop(partition, None)
        self.batches.pop(partition, None)
        self.stubs.pop(partition, None)
        self.progress.forget(partition)

    def closed_through(self, partition: int) -> int:
        """Start of the newest batch this partition has closed (-1: none)."""
        saved = self.closed.get(str(partition))
        return int(saved["through"]) if saved else -1

    async def annotator_state(self, annotator: str) -> str:
        """State as `annotator-status` last said (tailed, so a Redis outage never stalls this stage)."""
        return await self.status.state(annotator)

    async def on_event(self, key: str, raw: bytes, partition: int) -> list[tuple[bytes, bytes]]:
        """Apply one valid event; returns the records (key, value) to send."""
        event = orjson.loads(raw)  # validated by ingest
        kind = ANSWER_KINDS.get(event["kind"], key[:1])
        codes = None if event["kind"] == "retraction" else vocabulary.event_codes(
            event, self.config.dimensions, self.config.score_min)
        state = self.units.get(key)
        seen: list[str] = []
        if state is not None and state.get("z"):  # the unit's batch has closed
            seen = state["s"]
            if codes is not None and event["event_id"] in seen:
                self.metrics.batch.repeats_after_close.inc()
                return []
            state = None
        if state is None:
            first = _epoch(event["submitted_at"])
            if self.policy.clock.start_of(first) <= self.closed_through(partition):
                self._after_close(event, codes)
                return []
            state = {**new_unit(kind, partition, first, self.policy), "o": seen}
            self._index(partition, key, state)
        status = "" if codes is None else await self.annotator_state(event["annotator_id"])
        state, _ = apply_answer(state, event, codes, status, self.n_values[kind])
        return self._emit_and_store(key, state)

    def _after_close(self, event: dict[str, Any], codes: list[int | None] | None) -> None:
        if codes is not None:
            self.metrics.batch.after_close.inc()
            log.warning("answer %s for a closed batch is not in any record (event time %s)",
                        event["event_id"], event["submitted_at"])

    def _emit_and_store(self, key: str, state: BatchUnit) -> list[tuple[bytes, bytes]]:
        """Write the unit and return the record if this change calls for a version (both are
        flushed before the input offset is committed)."""
        version = emission(state, self.policy)
        out = []
        if version is not None:
            # after a crash the unit may not know a version it sent: repeating it could give one
            # version two contents (answers replayed with newer annotator states), so go past it
            version = max(version, int(self.versions.get(key) or 0) + 1)
            self.versions[key] = version
            out.append(self.record(key, state, version))
            state = mark_emitted(state, version, self.policy)
            self.metrics.batch.records.labels(RECORD_TYPE[state["k"]],
                                                  "first" if version == 1 else "revision").inc()
        self.units[key] = state
        return out

    def record(self, key: str, state: BatchUnit, version: int) -> tuple[bytes, bytes]:
        s, policy = self.config, self.policy
        batch_id = policy.clock.batch_id(state["b"])
        rid = record_id(state["k"], state["m"]["project_id"], key, batch_id)
        window = policy.unit_window_start(state["t"])
        alpha_of = self.alpha_of
        ctx = RecordContext(
            rid, version, batch_id, window, policy.unit_window_s, s.dimensions, s.score_min,
            s.gold_tolerance, policy.required, lambda dim: alpha_of(dim, policy.unit_window_s, window))
        answers = [Answer(hash_annotator(self.salt, a), state["a"][a][2], state["q"][a][0], state["q"][a][3])
                   for a in eligible(state, policy)]
        record = build(state, answers, ctx, time.time())
        return rid.encode(), record.model_dump_json().encode()

    def on_watermark(self, partition: int,
                     watermark: float) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        """Close the units and batches the watermark passed: (records to send, closing message)."""
        records: list[tuple[bytes, bytes]] = []
        heap = self.heaps[partition]
        while heap and heap[0][0] <= watermark:
            _, key = heapq.heappop(heap)
            state = self.units.get(key)
            if state is not None and not state["c"]:
                records += self._emit_and_store(key, {**state, "c": True})
        return records, self._close_batches(partition, watermark)

    def _close_batches(self, partition: int, watermark: float) -> bytes | None:
        """Summarize and drop the batches the watermark closed. The newest summaries stay in the
        `batchclosed` table and are sent again after a restart, so a closing message lost in a
        crash cannot lose a batch (the manifest stage ignores a summary it already has)."""
        clock = self.policy.clock
        through = clock.start_of(watermark - clock.length_s - clock.grace_s)
        saved = self.closed.get(str(partition)) or {"through": -1, "recent": {}}
        closing = sorted(b for b in self.batches[partition] if b <= through)
        resend = partition in self.resend
        if through <= saved["through"] and not closing and not resend:
            return None
        self.resend.discard(partition)
        summaries = {str(b): self.summarize(partition, b).to_state() for b in closing}
        recent = dict(sorted({**saved["recent"], **summaries}.items(), key=lambda kv: int(kv[0]))[-KEEP:])
        for b in closing:
            for key in self.batches[partition].pop(b):
                self.units[key] = stub(self.units.get(key), partition, b)
                self.stubs[partition].setdefault(b, set()).add(key)
        for b in [b for b in self.stubs[partition] if b + clock.length_s <= through]:
            for key in self.stubs[partition].pop(b):  # a batch later, repeats are moot
                if (self.units.get(key) or {}).get("z"):
                    self.units.pop(key, None)
                    self.versions.pop(key, None)
        through = max(through, int(saved["through"]))
        self.closed[str(partition)] = {"through": through, "recent": recent}
        return orjson.dumps({"p": partition, "through": through, "batches": recent if resend else summaries})

    def summarize(self, partition: int, batch: int) -> Summary:
        s, summary = self.config, Summary.empty()
        batch_id = self.policy.clock.batch_id(batch)
        for key in sorted(self.batches[partition].get(batch, ())):
            state = self.units.get(key)
            if state is None:
                continue
            names = vocabulary.kind_dimensions(state["k"], s.dimensions)
            rid = record_id(state["k"], (state["m"] or {}).get("project_id", ""), key, batch_id)
            summary.add_unit(state, self.policy, RECORD_TYPE[state["k"]], rid, names,
                             self.n_values[state["k"]])
        return summary


def stub(state: BatchUnit | None, partition: int, batch: int) -> BatchUnit:
    """What stays of a unit after its batch closed: the event ids of the answers it counted."""
    return {"z": True, "p": partition, "b": batch, "s": seen_ids(state) if state else []}


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()
