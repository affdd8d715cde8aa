"""End-offset probe on the real broker: a changelog's end covers every record of its last batch."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.io.endoffsets import probe, to_probe
from stream.io.kafka import bootstrap_servers
from tests.integration.helpers import unique

pytestmark = pytest.mark.integration


async def _send_batches(servers: str, topic: str, batches: int, per_batch: int) -> None:
    """`batches` record batches of `per_batch` records each on partition 0 (one flush per batch)."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=50, acks="all")
    await producer.start()
    try:
        for b in range(batches):
            futures = [await producer.send(topic, f"{b}-{i}".encode(), partition=0)
                       for i in range(per_batch)]
            await producer.flush()
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _ends(servers: str, topic: str) -> tuple[int, dict[TopicPartition, int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=100)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        reported = (await consumer.end_offsets([tp]))[tp]
        return reported, await probe(consumer, {tp: reported}, to_probe({tp: reported}))
    finally:
        await consumer.stop()


def test_probe_finds_every_record_of_the_last_batch(kafka_url: str) -> None:
    servers, topic = bootstrap_servers(kafka_url), unique("aw-probe") + "-units-changelog"
    asyncio.run(_send_batches(servers, topic, batches=3, per_batch=40))
    reported, exact = asyncio.run(_ends(servers, topic))
    # Tansu reports the last batch's base offset + 1 (81); Apache Kafka reports 120
    assert reported in (81, 120)
    assert exact == {TopicPartition(topic, 0): 120}
