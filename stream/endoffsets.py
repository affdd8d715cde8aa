"""Exact end offsets for table recovery on brokers that report them short (Tansu 0.6)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.security import aiokafka_auth
from stream.settings import Settings
from stream.web import bootstrap_servers

log = logging.getLogger(__name__)


async def probe(consumer: AIOKafkaConsumer, reported: Mapping[Any, int]) -> dict[Any, int]:
    """End offsets corrected by reading from the reported end - 1: a fetch returns the whole record
    batch holding that offset, so its last record shows the true end. Apache Kafka's reported end
    is already right, and the probe then finds nothing past it."""
    tps = [tp for tp, end in reported.items() if end > 0]
    if not tps:
        return dict(reported)
    plain = [TopicPartition(tp.topic, tp.partition) for tp in tps]
    consumer.assign(plain)
    for tp, key in zip(plain, tps, strict=True):
        consumer.seek(tp, reported[key] - 1)
    found: dict[TopicPartition, int] = {}
    for _ in range(5):  # a few short fetches: a partition with nothing new answers empty
        batches = await consumer.getmany(*plain, timeout_ms=200)
        for tp, messages in batches.items():
            if messages:
                found[tp] = max(found.get(tp, -1), messages[-1].offset)
        if len(found) == len(plain):
            break
    out = dict(reported)
    for tp, key in zip(plain, tps, strict=True):
        out[key] = max(reported[key], found.get(tp, -1) + 1)
    return out


def probe_end_offsets(settings: Settings) -> None:
    """Make Faust's recovery read every changelog record. Tansu 0.6 answers a ListOffsets request
    with the base offset of the last record batch + 1, so recovery stopped before the records of
    the last batch and a restarted worker lost those table writes (seen in the batch kill test)."""
    from faust.transport.drivers import aiokafka as driver

    thread = driver.AIOKafkaConsumerThread
    original = getattr(thread, "_alphawatch_highwaters", thread._highwaters)

    async def highwaters(self: Any, partitions: list[Any]) -> Mapping[Any, int]:
        reported = await original(self, partitions)
        if self.consumer.in_transaction or not any(end > 0 for end in reported.values()):
            return reported
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(settings.broker_url),
                                    group_id=None, enable_auto_commit=False, **aiokafka_auth(settings))
        try:
            await asyncio.wait_for(consumer.start(), 30)
            return await asyncio.wait_for(probe(consumer, reported), 30)
        except Exception as exc:  # never block recovery on the probe: fall back to what was reported
            log.warning("end-offset probe failed (%r); using the broker's end offsets", exc)
            return reported
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    thread._alphawatch_highwaters = original  # type: ignore[attr-defined]
    thread._highwaters = highwaters  # type: ignore[method-assign]
