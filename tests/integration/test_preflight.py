"""A worker refuses to start when a topic it reads by partition has another partition count."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.io.kafka import bootstrap_servers
from stream.ops.procs import die_with_parent
from tests.integration.helpers import unique

pytestmark = pytest.mark.integration


async def _create(kafka_url: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(kafka_url))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


def test_worker_stops_with_one_line_on_a_partition_mismatch(kafka_url: str, redis_url: str,
                                                           tmp_path: Path) -> None:
    prefix = unique("preflight") + "."
    asyncio.run(_create(kafka_url, prefix + "annotations", 2))
    env = {**os.environ, "ALPHAWATCH_BROKER_URL": kafka_url, "ALPHAWATCH_REDIS_URL": redis_url,
           "ALPHAWATCH_TOPIC_PREFIX": prefix, "ALPHAWATCH_APP_ID": prefix.rstrip("."),
           "ALPHAWATCH_PARTITIONS": "4", "ALPHAWATCH_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "stream.cli.main", "worker"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    lines = [line for line in out.decode().splitlines() if line.strip()]
    assert proc.returncode == 2, out.decode()
    assert lines == [f"configuration error ALPHAWATCH_PARTITIONS=4 but topic '{prefix}annotations' has 2 "
                     f"partitions: set ALPHAWATCH_PARTITIONS=2, or use a new ALPHAWATCH_TOPIC_PREFIX"]
