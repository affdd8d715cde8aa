"""`alphawatch simulate`, `produce` and `replay` against the real broker: counts, keys and pacing."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from stream.cli.main import cli
from stream.core.validate import elements
from stream.io.produce import default_partitioner
from tests.integration.helpers import read_topic, unique

pytestmark = pytest.mark.integration


def _env(kafka_url: str, prefix: str) -> dict[str, str]:
    return {"ALPHAWATCH_BROKER_URL": kafka_url, "ALPHAWATCH_TOPIC_PREFIX": prefix}


def _simulate(tmp_path: Path, clips: int) -> Path:
    result = CliRunner().invoke(cli, ["simulate", "--scenario", "late-events", "--clips", str(clips),
                                      "--out", str(tmp_path / "sim")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "sim").iterdir()} == {"events.jsonl", "gold-key.jsonl",
                                                            "ground-truth.json"}
    return tmp_path / "sim" / "events.jsonl"


def test_produce_sends_every_line_keyed_by_unit(kafka_url: str, tmp_path: Path) -> None:
    events = _simulate(tmp_path, 200)
    lines = events.read_bytes().splitlines()
    prefix = unique("produce") + "."
    result = CliRunner().invoke(cli, ["produce", str(events), "--rate", "5000", "--close-windows",
                                      "--per-record", "1"], env=_env(kafka_url, prefix))
    assert result.exit_code == 0, result.output
    assert f"sent {len(lines)}, failed 0" in result.output and "sent watermark" in result.output
    messages = read_topic(kafka_url, prefix + "annotations")
    assert len(messages) == len(lines) + 4  # and one watermark per partition
    units = [m for m in messages if m.key is not None]
    assert len(units) == len(lines)
    assert all(m.key.decode() in (e.get("clip_id"), e.get("pair_id"))
               for m in units for e in [orjson.loads(m.value)])


def test_produce_batches_arrays_per_partition_in_order(kafka_url: str, tmp_path: Path) -> None:
    """The default: JSON arrays, each event in the partition its unit key picks, in file order."""
    events = _simulate(tmp_path, 200)
    lines = events.read_bytes().splitlines()
    prefix = unique("arrays") + "."
    result = CliRunner().invoke(cli, ["produce", str(events)], env=_env(kafka_url, prefix))
    assert result.exit_code == 0, result.output
    assert f"sent {len(lines)}, failed 0" in result.output
    messages = read_topic(kafka_url, prefix + "annotations")
    assert len(messages) < len(lines) / 10  # batched
    partition_of = default_partitioner(asyncio.run(_partitions(kafka_url, prefix + "annotations")))
    seen: dict[int, list[bytes]] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        for item, _ in elements(m.value):
            assert item is not None
            event = orjson.loads(item)
            assert partition_of(str(event.get("clip_id") or event.get("pair_id")).encode()) == m.partition
            seen.setdefault(m.partition, []).append(orjson.loads(item)["event_id"])
    by_file: dict[int, list[bytes]] = {}
    for line in lines:
        event = orjson.loads(line)
        by_file.setdefault(partition_of(str(event.get("clip_id") or event.get("pair_id")).encode()),
                           []).append(event["event_id"])
    assert seen == by_file  # every event once, in file order within its partition


async def _partitions(kafka_url: str, topic: str) -> list[int]:
    from aiokafka import AIOKafkaProducer

    from stream.io.kafka import bootstrap_servers

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(kafka_url))
    await producer.start()
    try:
        return sorted(await producer.partitions_for(topic))
    finally:
        await producer.stop()


def test_replay_keeps_the_events_spacing(kafka_url: str, tmp_path: Path) -> None:
    events = _simulate(tmp_path, 40)  # 40 clips x 10 s of event time
    stamps = [datetime.fromisoformat(orjson.loads(line)["submitted_at"]).timestamp()
              for line in events.read_bytes().splitlines()]
    span = max(stamps) - min(stamps)
    prefix = unique("replay") + "."
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["replay", str(events), "--speed", "100"], env=_env(kafka_url, prefix))
    took = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert span / 100 <= took < span / 100 + 20  # paced by event time, 100x faster
    sent = [item for m in read_topic(kafka_url, prefix + "annotations") for item in elements(m.value)]
    assert len(sent) == len(stamps)  # one event per record, or JSON arrays of them
