"""Reads alphawatch's output topics into memory: agreement, flags, annotator status, batches."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.core.validate import elements
from stream.io.kafka import bootstrap_servers, start
from stream.io.security import aiokafka_auth
from stream.settings import Settings
from stream.topics import (
    AGREEMENT,
    ANNOTATIONS,
    ANNOTATOR_STATUS,
    BATCHES,
    FLAGS,
    MANIFESTS,
    MODEL_RANKINGS,
)

OUTPUTS = (AGREEMENT, FLAGS, ANNOTATOR_STATUS, BATCHES, MANIFESTS, MODEL_RANKINGS)


def window_key(record: dict[str, Any]) -> tuple[str, str, int, str]:
    return (record["dimension"], record["slice"], int(record["window_size_s"]), record["window_start"])


@dataclass
class Observed:
    """What the output topics said so far; applying a record twice changes nothing (replays)."""

    windows: dict[tuple[str, str, int, str], dict[str, Any]] = field(default_factory=dict)
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    # batch id -> record ids (versions of one record count once)
    records_by_batch: dict[str, set[str]] = field(default_factory=dict)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    annotations: list[bytes] = field(default_factory=list)
    rankings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (modality, dimension)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, topic: str, value: bytes | None) -> None:
        """One record of one of the topics (by unprefixed name); malformed records are skipped."""
        if value is None:
            return
        if topic == ANNOTATIONS:  # a producer's array record holds many events: keep each
            self.annotations.extend(raw for raw, _ in elements(value) if raw is not None)
            return
        try:
            record = orjson.loads(value)
        except orjson.JSONDecodeError:
            return
        if isinstance(record, dict):
            handler = getattr(self, "_" + topic.replace("-", "_"), None)
            if handler is not None:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    handler(record)

    def _agreement(self, record: dict[str, Any]) -> None:
        key = window_key(record)
        stored = self.windows.get(key)
        if stored is not None and stored["final"] and not record["final"]:
            return  # a live record replayed after its final does not reopen the window
        self.windows[key] = record

    def _qa_flags(self, record: dict[str, Any]) -> None:
        self.flags[record["flag_id"]] = record

    def _annotator_status(self, record: dict[str, Any]) -> None:
        self.status[record["annotator_id"]] = record
        self.transitions.append(record)

    def _rlhf_batches(self, record: dict[str, Any]) -> None:
        self.records_by_batch.setdefault(str(record["batch_id"]), set()).add(str(record["record_id"]))

    @property
    def batch_ids(self) -> set[str]:
        return set(self.records_by_batch)

    @property
    def batch_records(self) -> set[str]:
        return set().union(*self.records_by_batch.values())

    def _rlhf_batch_manifests(self, record: dict[str, Any]) -> None:
        """A closed batch; a later revision of the same batch replaces the earlier manifest."""
        stored = self.manifests.get(record["batch_id"])
        if stored is None or int(record.get("revision", 1)) >= int(stored.get("revision", 1)):
            self.manifests[record["batch_id"]] = record

    def _model_rankings(self, record: dict[str, Any]) -> None:
        """A leaderboard refit: the newest per modality and dimension replaces the one before."""
        self.rankings[(str(record["modality"]), str(record["dimension"]))] = record

    def _annotations_dlq(self, record: dict[str, Any]) -> None:
        self.dead_letters.append(record)

    def open_flags(self) -> list[dict[str, Any]]:
        """agreement_low flags that no agreement_recovered has cleared, oldest first."""
        cleared = {f["opened_flag_id"] for f in self.flags.values() if f["kind"] == "agreement_recovered"}
        raised = [f for f in self.flags.values()
                  if f["kind"] == "agreement_low" and f["flag_id"] not in cleared]
        return sorted(raised, key=lambda f: str(f["raised_at"]))

    def series(self, dimension: str, size: int) -> list[dict[str, Any]]:
        """Newest record of each window of one dimension (slice all), oldest window first."""
        return [r for (d, name, w, _), r in sorted(self.windows.items())
                if d == dimension and name == "all" and w == size]

    def states(self) -> dict[str, list[str]]:
        """Annotators per qualification state, from each one's newest transition."""
        out: dict[str, list[str]] = {"qualifying": [], "qualified": [], "retraining": []}
        for annotator, record in sorted(self.status.items()):
            out.setdefault(record["state"], []).append(annotator)
        return out


class Reader:
    """A group-less consumer over the topics that exist; topics created later are picked up."""

    def __init__(self, settings: Settings, names: tuple[str, ...]):
        self.settings = settings
        self.by_topic = {settings.topic(n): n for n in names}
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers(settings.broker_url), group_id=None,
            enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=settings.fetch_max_wait_ms, **aiokafka_auth(settings))
        self.assigned: set[TopicPartition] = set()

    async def refresh(self) -> None:
        """Assign every partition of the topics that exist now; kept partitions keep their place."""
        # consumer.topics() fetches metadata but keeps it from the client's view of the cluster, so
        # partitions_for_topic() would never see a topic created after start: use the fresh view
        cluster: Any = await self.consumer._client.fetch_all_metadata()
        found = {TopicPartition(t, p) for t in self.by_topic for p in (cluster.partitions_for_topic(t) or ())}
        if found <= self.assigned:
            return
        kept = {tp: await self.consumer.position(tp) for tp in self.assigned}
        self.consumer.assign(sorted(found))
        for tp, offset in kept.items():
            self.consumer.seek(tp, offset)
        await self.consumer.seek_to_beginning(*(found - self.assigned))
        self.assigned = found

    async def poll(self, observed: Observed) -> int:
        """Apply whatever arrived within half a second; returns the number of records."""
        if not self.assigned:
            await asyncio.sleep(0.5)
            return 0
        batch = await self.consumer.getmany(timeout_ms=500, max_records=5000)
        count = 0
        for tp, messages in batch.items():
            name = self.by_topic[tp.topic]
            for message in messages:
                observed.apply(name, message.value)
                count += 1
        return count

    async def ends(self) -> dict[TopicPartition, int]:
        return dict(await self.consumer.end_offsets(sorted(self.assigned))) if self.assigned else {}

    async def behind(self, end: dict[TopicPartition, int]) -> bool:
        return any([await self.consumer.position(tp) < offset for tp, offset in end.items()])


async def follow(settings: Settings, observed: Observed, stop: asyncio.Event) -> None:
    """Keep `observed` current until `stop` is set (the demo's live view)."""
    reader = Reader(settings, OUTPUTS)
    await start(reader.consumer)
    try:
        refreshed = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if loop.time() - refreshed > 3.0:  # batch topics appear once that stage runs
                await reader.refresh()
                refreshed = loop.time()
            await reader.poll(observed)
    finally:
        await reader.consumer.stop()


async def read_all(settings: Settings, with_annotations: bool = True, timeout_s: float = 120.0) -> Observed:
    """Everything currently in the output topics (and the annotations topic, for the report's
    coincidence matrices), read up to the end offsets seen at the start."""
    return await read_topics(settings, (*OUTPUTS, ANNOTATIONS) if with_annotations else OUTPUTS, timeout_s)


async def read_topics(settings: Settings, names: tuple[str, ...], timeout_s: float = 120.0) -> Observed:
    """Everything currently in the topics `names` (unprefixed), read up to the end offsets seen at
    the start."""
    reader, observed = Reader(settings, names), Observed()
    await start(reader.consumer)
    try:
        await reader.refresh()
        end = await reader.ends()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while await reader.behind(end):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics not read to the end within {timeout_s:.0f}s")
            await reader.poll(observed)
    finally:
        await reader.consumer.stop()
    return observed
