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
    last_at: float | None = None  # Kafka timestamp (producer's clock) of the newest committed record

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
    last = await committed_times(reader, committed)
    return [TopicStatus(topic, stages, sum(ends[tp] for tp in tps if tp.topic == topic),
                        sum(committed[tp] for tp in tps if tp.topic == topic),
                        max((at for tp, at in last.items() if tp.topic == topic), default=None))
            for topic, stages in inputs.items()]


async def committed_times(reader: AIOKafkaConsumer, committed: dict[TopicPartition, int],
                          timeout_s: float = 3.0) -> dict[TopicPartition, float]:
    """Per partition, the Kafka timestamp of the last record the group committed (one fetch each):
    when the newest record a stage has handled was produced."""
    wanted = {tp: offset - 1 for tp, offset in committed.items() if offset > 0}
    if not wanted:
        return {}
    reader.assign(sorted(wanted))
    for tp, offset in wanted.items():
        reader.seek(tp, offset)
    found: dict[TopicPartition, float] = {}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(found) < len(wanted) and asyncio.get_running_loop().time() < deadline:
        missing = [tp for tp in wanted if tp not in found]
        batch = await reader.getmany(*missing, timeout_ms=300, max_records=50)
        for tp, messages in batch.items():
            # an offset gone to compaction yields a later record: only committed ones count
            taken = [m.timestamp for m in messages if m.offset <= wanted[tp]]
            if taken and tp not in found:
                found[tp] = max(taken) / 1000
    return found


def worker_watermark(settings: Settings, timeout_s: float = 2.0) -> float | None:
    """The event-time watermark of the worker serving these settings' web port (/metrics, units
    stage): the oldest over its partitions, the event time up to which all of its input is in.
    None when no worker answers there or it has no watermark yet."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::") else settings.web_host
    try:
        with urllib.request.urlopen(f"http://{host}:{settings.web_port}/metrics", timeout=timeout_s) as resp:
            text = resp.read().decode()
    except (OSError, ValueError):
        return None
    marks = [sample.value for family in text_string_to_metric_families(text) for sample in family.samples
             if sample.name == "alphawatch_watermark_seconds" and sample.value > 0]
    return min(marks) if marks else None


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
