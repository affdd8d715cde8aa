"""How far the workers are: per stage input topic, what the group committed against the topic's end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.io.endoffsets import probe
from stream.io.kafka import bootstrap_servers, start
from stream.io.security import aiokafka_auth
from stream.settings import Settings
from stream.topics import ANNOTATIONS, FLAGS


def stage_inputs(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Input topic -> the stages that read it (every agent of one app commits in one group)."""
    app = settings.app_id
    inputs = {
        ANNOTATIONS: ("ingest",),
        f"{app}-annotations-valid": ("units", "batches", "annotators", "ranking"),
        f"{app}-agreement-partials": ("merge",),
        f"{app}-annotator-events": ("annotators",),
        f"{app}-ranking-partials": ("ranking",),
        f"{app}-batch-partials": ("batches",),
        FLAGS: ("notify",),
    }
    return {settings.topic(name): tuple(s for s in stages if s in settings.agents) or stages
            for name, stages in inputs.items()}


@dataclass(frozen=True)
class TopicStatus:
    """One input topic: records up to its end, records the group committed, by partition summed."""

    topic: str
    stages: tuple[str, ...]
    end: int
    committed: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


def caught_up(rows: list[TopicStatus]) -> bool:
    """Every stage committed everything on its inputs (a topic not created yet has nothing to read)."""
    return all(row.lag == 0 for row in rows)


async def read_status(settings: Settings) -> list[TopicStatus]:
    """Ends (exact also on Tansu, which reports them short) and the group's committed offsets."""
    auth, servers = aiokafka_auth(settings), bootstrap_servers(settings.broker_url)
    reader = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                              fetch_max_wait_ms=settings.fetch_max_wait_ms, **auth)
    # only asks the group coordinator for offsets: never subscribes, so never joins the group
    group = AIOKafkaConsumer(bootstrap_servers=servers, group_id=settings.app_id, enable_auto_commit=False,
                             **auth)
    async with contextlib.AsyncExitStack() as stack:
        for client in (reader, group):
            await start(client)
            stack.push_async_callback(client.stop)
        return await _rows(settings, reader, group)


async def _rows(settings: Settings, reader: AIOKafkaConsumer, group: AIOKafkaConsumer) -> list[TopicStatus]:
    existing = await reader.topics()
    inputs = {topic: stages for topic, stages in stage_inputs(settings).items() if topic in existing}
    tps = [TopicPartition(topic, p) for topic in inputs
           for p in sorted(reader.partitions_for_topic(topic) or ())]
    if not tps:
        return []
    reported = await reader.end_offsets(tps)
    ends = await probe(reader, reported, [tp for tp in tps if reported[tp] > 0])
    committed = {tp: await group.committed(tp) or 0 for tp in tps}
    return [TopicStatus(topic, stages, sum(ends[tp] for tp in tps if tp.topic == topic),
                        sum(committed[tp] for tp in tps if tp.topic == topic))
            for topic, stages in inputs.items()]


async def wait_caught_up(settings: Settings, timeout_s: float, every_s: float = 2.0,
                         progress: Callable[[list[TopicStatus]], None] | None = None) -> list[TopicStatus]:
    """Poll until the workers have caught up or `timeout_s` passed; returns the last status."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        rows = await read_status(settings)
        if progress is not None:
            with contextlib.suppress(Exception):
                progress(rows)
        if caught_up(rows) or asyncio.get_running_loop().time() >= deadline:
            return rows
        await asyncio.sleep(every_s)
