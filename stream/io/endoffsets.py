"""Exact end offsets for table recovery on brokers that report them short (Tansu 0.6)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.io.kafka import bootstrap_servers
from stream.io.security import aiokafka_auth
from stream.settings import Settings

log = logging.getLogger(__name__)

CHANGELOG_SUFFIX = "-changelog"  # Faust names every table's changelog topic <app>-<table>-changelog


def to_probe(reported: Mapping[Any, int]) -> list[Any]:
    """Changelog partitions with records: the ends table recovery reads up to. Other callers keep
    the broker's answer. The ingest stage asks for annotation ends every tick while a source is
    idle, and a probe there opened a connection per tick inside Faust's consumer thread: the
    restarted worker of the RocksDB store test then stopped applying events."""
    return [tp for tp, end in reported.items() if end > 0 and tp.topic.endswith(CHANGELOG_SUFFIX)]


async def probe(consumer: AIOKafkaConsumer, reported: Mapping[Any, int], tps: list[Any],
                timeout_s: float = 10.0) -> dict[Any, int]:
    """End offsets of `tps` corrected by reading from the reported end - 1: a fetch returns the
    whole record batch holding that offset, so its last record shows the true end. Apache Kafka's
    reported end is already right, and the probe then finds the record just before it."""
    plain = [TopicPartition(tp.topic, tp.partition) for tp in tps]
    consumer.assign(plain)
    for tp, key in zip(plain, tps, strict=True):
        consumer.seek(tp, reported[key] - 1)
    found: dict[TopicPartition, int] = {}
    deadline = asyncio.get_running_loop().time() + timeout_s
    # every probed partition holds the record at end - 1, so each answers; under load a fetch
    # round may answer only some partitions, hence rounds until all did rather than a fixed count
    while len(found) < len(plain) and asyncio.get_running_loop().time() < deadline:
        batches = await consumer.getmany(*plain, timeout_ms=200)
        for tp, messages in batches.items():
            if messages:
                found[tp] = max(found.get(tp, -1), messages[-1].offset)
    missing = [tp for tp in plain if tp not in found]
    if missing:
        log.warning("end-offset probe: no answer from %s within %.0fs; using reported ends",
                    missing, timeout_s)
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
        tps = to_probe(reported)
        if self.consumer.in_transaction or not tps:
            return reported
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(settings.broker_url),
                                    group_id=None, enable_auto_commit=False,
                                    fetch_max_wait_ms=settings.fetch_max_wait_ms,
                                    **aiokafka_auth(settings))
        try:
            await asyncio.wait_for(consumer.start(), 30)
            return await asyncio.wait_for(probe(consumer, reported, tps), 30)
        except Exception as exc:  # never block recovery on the probe: fall back to what was reported
            log.warning("end-offset probe failed (%r); using the broker's end offsets", exc)
            return reported
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    thread._alphawatch_highwaters = original  # type: ignore[attr-defined]
    thread._highwaters = highwaters  # type: ignore[method-assign]
