"""Publish annotation events (JSONL lines or dicts) to Kafka with aiokafka."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from stream.batches.rules import BatchClock
from stream.io.kafka import bootstrap_servers, start
from stream.settings import Settings


@dataclass
class ProduceStats:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0


def key_of(raw: bytes) -> bytes | None:
    """Key by clip_id or pair_id as the input contract asks; None for anything unparsable."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    unit = event.get("clip_id") or event.get("pair_id") or event.get("unit_id")
    return str(unit).encode() if unit else None


Schedule = Callable[[int, bytes], float]  # seconds after the start at which to send line i


# events per record when producers batch (`alphawatch produce`/`replay` default); ingest splits
# each array and validates (and dead-letters) every element on its own
PER_RECORD = 500


async def produce(broker_url: str, topic: str, lines: Iterable[bytes], rate: float | None = None,
                  max_request_size: int = 4 * 1024**2, auth: dict[str, Any] | None = None,
                  schedule: Schedule | None = None,
                  progress: Callable[[int], None] | None = None, per_record: int = 1) -> ProduceStats:
    """Send every line; `rate` caps events per second (None = as fast as the broker takes them),
    `schedule` paces otherwise (see replay_schedule); `progress` gets the count sent so far.
    With `per_record` > 1, up to that many JSON objects travel as one array per record (sent
    early when the pacing waits; a line that is not a JSON object always goes alone)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), linger_ms=5,
                                max_request_size=max_request_size, acks="all", **(auth or {}))
    await start(producer)
    partitions = sorted(await producer.partitions_for(topic)) if per_record > 1 else [0]
    stats = ProduceStats()
    group = Group(per_record, max_request_size // 2, default_partitioner(partitions))
    started = time.perf_counter()
    futures: list[asyncio.Future[object]] = []

    async def send(records: list[Record]) -> None:
        for partition, key, value, count in records:
            futures.append(await producer.send(topic, value, key=key, partition=partition))
            stats.sent += count
        if len(futures) >= 5000 or (records and per_record > 1):
            stats.failed += await _settle(futures)
        if progress is not None and records:
            progress(stats.sent)

    try:
        async for raw in _paced(lines, schedule or rate_schedule(rate), lambda: send(group.take())):
            await send(group.add(raw))
        await send(group.take())
        await producer.flush()
        stats.failed += await _settle(futures)
        if progress is not None:
            progress(stats.sent)
    finally:
        await producer.stop()
    stats.seconds = time.perf_counter() - started
    return stats


Record = tuple[int | None, bytes | None, bytes, int]  # partition, key, value, events in it


class Group:
    """Lines gathered into JSON-array records of up to `size` events and `max_bytes` bytes, one
    array per input partition: every event goes to the partition its unit key would pick, so a
    unit's events stay in one partition, in file order, as the input contract asks."""

    def __init__(self, size: int, max_bytes: int, partition_of: Callable[[bytes], int] | None = None):
        self.size, self.max_bytes = size, max_bytes
        self.partition_of = partition_of or (lambda key: 0)
        self.open: dict[int, tuple[list[bytes], int]] = {}

    def add(self, raw: bytes) -> list[Record]:
        """Records ready to send."""
        key = key_of(raw) if raw.lstrip().startswith(b"{") else None
        if self.size <= 1 or key is None:
            return [*self.take(), (None, key, raw, 1)]  # alone, keyed as the input contract asks
        partition = self.partition_of(key)
        items, size = self.open.get(partition, ([], 2))
        out = [self._pack(partition, items)] if items and size + len(raw) + 1 > self.max_bytes else []
        if out:
            items, size = [], 2
        items.append(raw)
        self.open[partition] = (items, size + len(raw) + 1)
        if len(items) >= self.size:
            out.append(self._pack(partition, items))
            del self.open[partition]
        return out

    def take(self) -> list[Record]:
        out = [self._pack(p, items) for p, (items, _) in sorted(self.open.items())]
        self.open.clear()
        return out

    def _pack(self, partition: int, items: list[bytes]) -> Record:
        if len(items) == 1:
            return (None, key_of(items[0]), items[0], 1)
        return (partition, None, b"[" + b",".join(items) + b"]", len(items))


def default_partitioner(partitions: list[int]) -> Callable[[bytes], int]:
    """The partition Kafka's default (murmur2) partitioner gives a key: keyed and batched events
    of one unit land in the same partition."""
    partitioner = DefaultPartitioner()
    return lambda key: int(partitioner(key, partitions, partitions))


async def _settle(futures: list[asyncio.Future[object]]) -> int:
    results = await asyncio.gather(*futures, return_exceptions=True)
    futures.clear()
    return sum(isinstance(r, Exception) for r in results)


def rate_schedule(rate: float | None) -> Schedule:
    """A fixed rate; no rate means as fast as the broker takes them."""
    return (lambda index, raw: index / rate) if rate else (lambda index, raw: 0.0)


def replay_schedule(speed: float) -> Schedule:
    """Keeps the events' own spacing in event time, `speed` times faster; events older than ones
    already sent (late deliveries) go out at once, in file order, as they would have live."""
    first: list[float] = []

    def at(index: int, raw: bytes) -> float:
        try:
            stamp = datetime.fromisoformat(orjson.loads(raw)["submitted_at"]).timestamp()
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return 0.0  # unparsable lines go at once: the ingest agent dead-letters them
        if not first:
            first.append(stamp)
        return max(0.0, (stamp - first[0]) / speed)

    return at


async def _paced(lines: Iterable[bytes], schedule: Schedule,
                 before_wait: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator[bytes]:
    started = time.perf_counter()
    for index, raw in enumerate(lines):
        delay = started + schedule(index, raw) - time.perf_counter()
        if delay > 0:
            if before_wait is not None:
                await before_wait()  # what was gathered goes out before the pause
            await asyncio.sleep(delay)
        yield raw


async def send_watermark(broker_url: str, topic: str, watermark: str, partitions: int,
                         auth: dict[str, Any] | None = None) -> None:
    """Promise that no event older than `watermark` (ISO time) follows: one marker per partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), acks="all",
                                **(auth or {}))
    await start(producer)
    try:
        value = orjson.dumps({"schema_version": 1, "kind": "watermark", "watermark": watermark})
        for partition in range(partitions):
            await producer.send_and_wait(topic, value, partition=partition)
    finally:
        await producer.stop()


def closing_watermark(lines: Iterable[bytes], settings: Settings, batches: bool = False,
                      now: float | None = None) -> str:
    """A watermark after which every window holding these events is final; with `batches`, also past
    the end (+ grace) of the newest event's batch, so that batch closes, when that time has passed
    on the wall clock (`now`): the worker refuses a watermark ahead of it (ALPHAWATCH_MAX_CLOCK_SKEW)."""
    newest = 0.0
    for raw in lines:
        with contextlib.suppress(Exception):
            stamp = orjson.loads(raw)["submitted_at"]
            newest = max(newest, datetime.fromisoformat(stamp).timestamp())
    mark = newest + max(settings.window_seconds) + settings.grace_s
    if batches:
        clock = BatchClock(settings.batch_length_s, settings.grace_s)
        closes = clock.closes_at(clock.start_of(newest))
        if closes <= (time.time() if now is None else now):
            mark = max(mark, closes)
    return datetime.fromtimestamp(mark, tz=UTC).isoformat()


def last_batch_closed_by(mark: str, settings: Settings) -> str:
    """Id of the newest batch a watermark closes (the batch stage's rule: end + grace passed)."""
    clock = BatchClock(settings.batch_length_s, settings.grace_s)
    return clock.batch_id(clock.start_of(datetime.fromisoformat(mark).timestamp() - clock.length_s
                                         - clock.grace_s))


def count_lines(path: Path) -> int:
    """Non-empty lines of a file (the progress bar's total)."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


async def send_file(settings: Settings, path: Path, topic: str, schedule: Schedule,
                    close_windows: bool = False, progress: Callable[[int], None] | None = None,
                    per_record: int = PER_RECORD) -> tuple[ProduceStats, str | None]:
    """Publish a JSONL file paced by `schedule`; with `close_windows`, then a watermark past every
    window of the file and its last batch (returned), so every window emits its final and the
    batch closes (see closing_watermark)."""
    from stream.agreement.offline import read_lines
    from stream.io.security import aiokafka_auth

    auth = aiokafka_auth(settings)
    stats = await produce(settings.broker_url, topic, read_lines(path), auth=auth, schedule=schedule,
                          progress=progress, per_record=per_record)
    if not close_windows:
        return stats, None
    mark = closing_watermark(read_lines(path), settings, batches=True)
    await send_watermark(settings.broker_url, topic, mark, settings.partitions, auth=auth)
    return stats, mark
