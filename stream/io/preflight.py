"""Before a worker starts: its web port is free, its input topics have ALPHAWATCH_PARTITIONS partitions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from stream.io.kafka import bootstrap_servers
from stream.io.security import aiokafka_auth
from stream.settings import ConfigError, Settings

log = logging.getLogger(__name__)

# read by partition number: a count other than ALPHAWATCH_PARTITIONS leaves the watermark at 0
# (fewer) or some events in no unit partition (more), and Faust will not change an existing topic
CHECKED = ("annotations", "valid")


async def partition_counts(settings: Settings, names: tuple[str, ...] = CHECKED,
                           timeout_s: float = 10.0) -> dict[str, int]:
    """Partitions of each existing topic among `names`; {} when the broker does not answer in time
    (the worker then starts and Faust keeps retrying the connection, as before)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(settings.broker_url),
                                request_timeout_ms=int(timeout_s * 1000), **aiokafka_auth(settings))
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
        existing = await asyncio.wait_for(consumer.topics(), timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("partition check skipped, broker %s not answering: %r", settings.broker_url, exc)
        return {}
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    out = {}
    for name in names:
        topic = settings.topic(name)
        partitions = consumer.partitions_for_topic(topic) if topic in existing else None
        if partitions:
            out[topic] = len(partitions)
    return out


def check_partitions(settings: Settings, counts: dict[str, int]) -> None:
    """ConfigError when a topic the worker reads by partition has another partition count."""
    for topic, count in counts.items():
        if count != settings.partitions:
            raise ConfigError(
                f"ALPHAWATCH_PARTITIONS={settings.partitions} but topic {topic!r} has {count} "
                f"partitions: set ALPHAWATCH_PARTITIONS={count}, or use a new ALPHAWATCH_TOPIC_PREFIX")


def check_web_port(settings: Settings) -> None:
    """The web port is free: Faust would otherwise fail deep in its start with `OSError: [Errno 98]`."""
    with socket.socket(socket.AF_INET6 if ":" in settings.web_host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds it
        try:
            probe.bind((settings.web_host, settings.web_port))
        except OSError as exc:
            raise ConfigError(f"ALPHAWATCH_WEB_PORT={settings.web_port}: cannot listen on "
                              f"{settings.web_host}:{settings.web_port} ({exc.strerror}); another worker "
                              "may use it, set ALPHAWATCH_WEB_PORT to a free port") from None
