"""Publish annotation events (JSONL lines or dicts) to Kafka with aiokafka."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from stream.settings import Settings
from stream.web import bootstrap_servers


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


async def produce(broker_url: str, topic: str, lines: Iterable[bytes], rate: float | None = None,
                  max_request_size: int = 4 * 1024**2, auth: dict[str, Any] | None = None) -> ProduceStats:
    """Send every line; `rate` caps events per second (None = as fast as the broker takes them)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), linger_ms=5,
                                max_request_size=max_request_size, acks="all", **(auth or {}))
    await producer.start()
    stats = ProduceStats()
    started = time.perf_counter()
    futures = []
    try:
        async for index, raw in _paced(lines, rate):
            futures.append(await producer.send(topic, raw, key=key_of(raw)))
            stats.sent += 1
            if index % 5000 == 4999:
                stats.failed += await _settle(futures)
        await producer.flush()
        stats.failed += await _settle(futures)
    finally:
        await producer.stop()
    stats.seconds = time.perf_counter() - started
    return stats


async def _settle(futures: list[asyncio.Future[object]]) -> int:
    results = await asyncio.gather(*futures, return_exceptions=True)
    futures.clear()
    return sum(isinstance(r, Exception) for r in results)


async def _paced(lines: Iterable[bytes], rate: float | None) -> AsyncIterator[tuple[int, bytes]]:
    started = time.perf_counter()
    for index, raw in enumerate(lines):
        if rate:
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        yield index, raw


async def send_watermark(broker_url: str, topic: str, watermark: str, partitions: int,
                         auth: dict[str, Any] | None = None) -> None:
    """Promise that no event older than `watermark` (ISO time) follows: one marker per partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), acks="all",
                                **(auth or {}))
    await producer.start()
    try:
        value = orjson.dumps({"schema_version": 1, "kind": "watermark", "watermark": watermark})
        for partition in range(partitions):
            await producer.send_and_wait(topic, value, partition=partition)
    finally:
        await producer.stop()


def closing_watermark(lines: Iterable[bytes], settings: Settings) -> str:
    """A watermark after which every window holding these events is final."""
    newest = 0.0
    for raw in lines:
        with contextlib.suppress(Exception):
            stamp = orjson.loads(raw)["submitted_at"]
            newest = max(newest, datetime.fromisoformat(stamp).timestamp())
    mark = newest + max(settings.window_seconds) + settings.grace_s
    return datetime.fromtimestamp(mark, tz=UTC).isoformat()
