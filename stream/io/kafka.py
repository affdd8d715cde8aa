"""Kafka client helpers shared by workers, the CLI, tests and benches: servers, topic tails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from stream.io.security import aiokafka_auth
from stream.settings import Settings

log = logging.getLogger(__name__)


async def start(client: Any) -> None:
    """Start an aiokafka client; one that fails to start is closed (aiokafka leaves it open, and
    its "Unclosed AIOKafkaProducer" warning buries the error)."""
    try:
        await client.start()
    except BaseException:
        await client.stop()
        raise


def bootstrap_servers(broker_url: str) -> str:
    """aiokafka's bootstrap list from Faust's broker URL (`kafka://a:9092;kafka://b:9092`)."""
    return ",".join(part.split("://", 1)[-1] for part in broker_url.split(";"))


def apply_safely(apply: Callable[[bytes], None], value: bytes, on_bad: Callable[[Exception], None]) -> bool:
    """Apply one tailed record; a record that cannot be read is reported and skipped. Tails start
    at the earliest offset (and some topics are compacted), so a raise here would stop the worker
    again on every restart."""
    try:
        apply(value)
    except Exception as exc:  # any malformed record: JSON, shape, types
        on_bad(exc)
        return False
    return True


async def tail_topic(settings: Settings, topic: str, apply: Callable[[bytes], None],
                     on_bad: Callable[[Exception], None] | None = None) -> None:
    """Read `topic` from the beginning and on, outside the consumer group, into an in-memory view
    (every worker answers the web views); `on_bad` hears of each record skipped as malformed."""
    def skipped(exc: Exception) -> None:
        log.warning("skipped a malformed record on %s: %r", topic, exc)
        if on_bad is not None:
            on_bad(exc)

    consumer = AIOKafkaConsumer(topic, group_id=None, auto_offset_reset="earliest",
                                bootstrap_servers=bootstrap_servers(settings.broker_url),
                                **aiokafka_auth(settings))
    while True:  # the topic may not exist yet on a fresh cluster
        with contextlib.suppress(Exception):
            await consumer.start()
            break
        await asyncio.sleep(1.0)
    try:
        async for message in consumer:
            apply_safely(apply, message.value, skipped)
    finally:
        await consumer.stop()


async def load_and_tail(settings: Settings, topic: str, apply: Callable[[bytes | None, bytes | None], None],
                        ready: asyncio.Event, on_ready: Callable[[], None] | None = None) -> None:
    """Read every partition of `topic` from its beginning and go on tailing it; `ready` is set (and
    `on_ready` called) once everything present at the start was read, so nothing is judged
    against a half-loaded view."""
    consumer = await _tail_consumer(settings, topic)
    try:
        tps = await _partitions(consumer, topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # Tansu reports the last batch's base offset + 1: a position at or past it has read that batch
        end = await consumer.end_offsets(tps)
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    apply(message.key, message.value)
            if not ready.is_set() and all([await consumer.position(tp) >= end[tp] for tp in tps]):
                ready.set()
                if on_ready is not None:
                    on_ready()
    finally:
        await consumer.stop()


async def _tail_consumer(settings: Settings, topic: str) -> AIOKafkaConsumer:
    """A started consumer for a tail; a broker that does not answer is tried again with backoff
    (a tail task that raised would crash the whole worker, also on a blip during its start)."""
    delay = 0.5
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(settings.broker_url), group_id=None,
                                    enable_auto_commit=False, fetch_max_wait_ms=settings.fetch_max_wait_ms,
                                    **aiokafka_auth(settings))
        try:
            await start(consumer)
            return consumer
        except KafkaError as exc:
            log.warning("tail of %s not started, trying again in %.1f s: %r", topic, delay, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def _partitions(consumer: AIOKafkaConsumer, name: str) -> list[TopicPartition]:
    while True:  # the worker declares the topic at startup; wait until metadata shows it
        await consumer.topics()
        found = consumer.partitions_for_topic(name)
        if found:
            return [TopicPartition(name, p) for p in sorted(found)]
        await asyncio.sleep(1.0)


Progress = Callable[[int, int], None]  # (records read, records to read)


async def read_to_end(broker_url: str, topic: str, auth: dict[str, Any] | None = None,
                      timeout_s: float = 30.0, progress: Progress | None = None) -> list[ConsumerRecord]:
    """Every record on `topic` from the beginning to its end, outside any consumer group.

    To the end offsets seen at the start, then on until a fetch brings nothing: Tansu 0.6 reports
    an end offset at the base of the last record batch, short of the records in it. Gives up (with
    what it read) after `timeout_s`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker_url), group_id=None,
                                enable_auto_commit=False, fetch_max_bytes=16 * 1024**2,
                                max_partition_fetch_bytes=16 * 1024**2, **(auth or {}))
    await start(consumer)
    try:
        await consumer.topics()  # metadata of a topic this client has not seen yet
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        return await _drain(consumer, end, time.monotonic() + timeout_s, progress)
    finally:
        await consumer.stop()


async def _drain(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int], deadline: float,
                 progress: Progress | None) -> list[ConsumerRecord]:
    total = sum(end.values())
    out: list[ConsumerRecord] = []
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=1000)
        for messages in batches.values():
            out += messages
        if progress is not None:
            progress(len(out), max(total, len(out)))
        if not batches and all([await consumer.position(tp) >= offset for tp, offset in end.items()]):
            break
    return out
