"""Kafka client helpers shared by workers, the CLI, tests and benches: servers, topic tails."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from stream.io.security import aiokafka_auth
from stream.settings import Settings


def bootstrap_servers(broker_url: str) -> str:
    """aiokafka's bootstrap list from Faust's broker URL (`kafka://a:9092;kafka://b:9092`)."""
    return ",".join(part.split("://", 1)[-1] for part in broker_url.split(";"))


async def tail_topic(settings: Settings, topic: str, apply: Callable[[bytes], None]) -> None:
    """Read `topic` from the beginning and on, outside the consumer group, into an in-memory view
    (every worker answers the web views)."""
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
            apply(message.value)
    finally:
        await consumer.stop()
