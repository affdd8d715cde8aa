"""Ingest on the real broker: valid events forwarded once, every malformed one dead-lettered."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from stream.campaign.simulate import Campaign, generate
from stream.core.envelope import Item, is_envelope, unpack
from stream.io.produce import produce
from tests.integration.helpers import Worker, metric, read_topic, wait_until, worker_env

pytestmark = pytest.mark.integration


def _valid(n: int) -> list[dict[str, object]]:
    events = list(generate(Campaign(seed=11, n_clips=n // 3 + 1)))[:n]
    assert len(events) == n
    return events


def _mutate(base: dict[str, object], i: int) -> list[tuple[str, bytes | None]]:
    """One malformed message of every kind, each with its expected dead-letter reason."""
    def js(**changes: object) -> bytes:
        return orjson.dumps({**base, "event_id": f"bad-{i}", **changes})

    scores = dict(base["scores"])  # type: ignore[call-overload]
    no_annotator = {k: v for k, v in base.items() if k != "annotator_id"}
    return [
        ("not_json", b'{"schema_version": 1, "kind": "rating", ' + str(i).encode()),
        ("not_utf8", b'{"event_id": "\xff\xfe' + str(i).encode() + b'"}'),
        ("not_an_object", orjson.dumps(f"a string, {i}")),
        ("unknown_kind", js(kind="review")),
        ("naive_timestamp", js(submitted_at="2026-11-20T14:03:11")),
        ("score_out_of_scale", js(scores={**scores, "motion_quality": 7})),
        ("unknown_dimension", js(scores={**scores, "sharpness": 3})),
        ("missing_field", orjson.dumps({**no_annotator, "event_id": f"bad-{i}"})),
        ("missing_field", js(event_id="")),
        ("invalid_field", js(scores={**scores, "motion_quality": "4"})),
        ("unsupported_schema_version", js(schema_version=2)),
        ("unexpected_field", js(reviewer="x")),
        ("not_json", None),  # a null (tombstone) value
        ("future_timestamp", js(submitted_at="2099-01-01T00:00:00Z")),
        # local time written with a Z: an hour ahead of the clock
        ("future_timestamp", js(submitted_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())),
    ]


def _oversized(base: dict[str, object], i: int) -> tuple[str, bytes]:
    clip = dict(base["clip"])  # type: ignore[call-overload]
    clip["prompt"] = "x" * (2 * 1024 * 1024)
    return "oversized", orjson.dumps({**base, "event_id": f"big-{i}", "clip": clip})


def test_valid_forwarded_once_malformed_dead_lettered(kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path)
    prefix, app_id = env["ALPHAWATCH_TOPIC_PREFIX"], env["ALPHAWATCH_APP_ID"]
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        wait_until(worker.ready, 120, "worker to join its group")
        valid = _valid(1000)
        ratings = [e for e in valid if e["kind"] == "rating"]
        bad = [m for i in range(16) for m in _mutate(ratings[i], i)]
        bad += [_oversized(ratings[0], i) for i in range(3)]
        assert len(bad) >= 200
        messages = [orjson.dumps(e) for e in valid[:500]] + [m for _, m in bad] + [
            orjson.dumps(e) for e in valid[500:]]
        stats = asyncio.run(_send(kafka_url, prefix + "annotations", messages))
        assert stats == (len(messages), 0)

        valid_topic = f"{prefix}{app_id}-annotations-valid"
        wait_until(lambda: len(_forwarded(kafka_url, valid_topic)) >= 1000, 120, "1000 forwarded events")
        dead = wait_until(lambda: (d := read_topic(kafka_url, prefix + "annotations-dlq")) and
                          len(d) >= len(bad) and d, 120, "dead letters")

        forwarded = Counter(orjson.loads(m.value)["event_id"] for m in _forwarded(kafka_url, valid_topic))
        assert forwarded == Counter(e["event_id"] for e in valid)  # every valid event exactly once

        records = [orjson.loads(m.value) for m in dead]
        assert Counter(r["reason"] for r in records) == Counter(reason for reason, _ in bad)
        _check_origin(records, bad)
        assert worker.alive()
        _still_flows(kafka_url, prefix, valid_topic, valid)
        _arrays_split(kafka_url, prefix, valid_topic, valid)
        _tails_skip_malformed(kafka_url, prefix, worker)
    finally:
        worker.stop()


def _tails_skip_malformed(broker: str, prefix: str, worker: Worker) -> None:
    """Malformed records on the output topics every worker tails are counted and skipped; the
    worker keeps serving (these tails start at the earliest offset: a crash would repeat forever)."""
    for topic in ("agreement", "model-rankings"):
        asyncio.run(produce(broker, prefix + topic, [b"not json", b"{}"]))
    for topic in ("agreement", "model-rankings"):
        wait_until(lambda t=topic: metric(worker.metrics(), "alphawatch_tail_records_skipped_total",
                                          topic=prefix + t) == 2, 60, f"malformed records on {topic} skipped")
    assert worker.alive() and worker.get("/agreement") is not None


def _arrays_split(broker: str, prefix: str, valid_topic: str, valid: list[dict[str, object]]) -> None:
    """A record holding a JSON array: each element validated, forwarded or dead-lettered on its own,
    with the array's offset and the element's index."""
    batch = [{**valid[1], "event_id": "in-array-0"}, {**valid[1], "event_id": "in-array-1", "kind": "review"},
             {**valid[2], "event_id": "in-array-2"}]
    asyncio.run(produce(broker, prefix + "annotations", [orjson.dumps(batch)]))
    wanted = {"in-array-0", "in-array-2"}
    wait_until(lambda: wanted <= {orjson.loads(m.value)["event_id"] for m in _forwarded(broker, valid_topic)},
               60, "the array's valid elements")
    def indexed() -> list[dict[str, object]]:
        records = [orjson.loads(m.value) for m in read_topic(broker, prefix + "annotations-dlq")]
        return [r for r in records if r["source_index"] is not None]

    dead = wait_until(indexed, 60, "its dead letter")
    (record,) = dead
    assert record["reason"] == "unknown_kind" and record["source_index"] == 1
    assert orjson.loads(base64.b64decode(record["payload_b64"]))["event_id"] == "in-array-1"


async def _send(broker: str, topic: str, messages: list[bytes | None]) -> tuple[int, int]:
    from aiokafka import AIOKafkaProducer

    from stream.io.kafka import bootstrap_servers

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker),
                                max_request_size=8 * 1024**2, acks="all")
    await producer.start()
    failed = 0
    try:
        for value in messages:
            try:
                # a null value needs a key (a tombstone); the rest go unkeyed, spread over partitions
                await producer.send_and_wait(topic, value, key=b"tombstone" if value is None else None)
            except Exception:
                failed += 1
    finally:
        await producer.stop()
    return len(messages) - failed, failed


def _forwarded(broker: str, topic: str) -> list[Item]:
    """The events on the valid topic, out of their envelopes (ticks start with 'T')."""
    return [item for m in read_topic(broker, topic) if is_envelope(m.value) for item in unpack(m.value)]


def _check_origin(records: list[dict[str, object]], bad: list[tuple[str, bytes | None]]) -> None:
    """Each dead letter names its source partition/offset and keeps (a hash of) the original bytes."""
    by_hash = {hashlib.sha256(m or b"").hexdigest(): (reason, m) for reason, m in bad}
    for record in records:
        assert record["source_topic"].endswith("annotations")  # type: ignore[union-attr]
        assert record["source_offset"] >= 0 and record["source_partition"] >= 0  # type: ignore[operator]
        reason, original = by_hash[record["payload_sha256"]]  # type: ignore[index]
        assert record["reason"] == reason and record["detail"]
        kept = base64.b64decode(record["payload_b64"])  # type: ignore[arg-type]
        if record["payload_truncated"]:
            assert reason == "oversized" and original is not None and original.startswith(kept)
        else:
            assert kept == (original or b"")
    offsets = {(r["source_partition"], r["source_offset"]) for r in records}
    assert len(offsets) == len(records)  # one dead letter per input message


def _still_flows(broker: str, prefix: str, valid_topic: str, valid: list[dict[str, object]]) -> None:
    extra = {**valid[0], "event_id": "after-the-storm"}
    asyncio.run(produce(broker, prefix + "annotations", [orjson.dumps(extra)]))
    wait_until(lambda: any(orjson.loads(m.value)["event_id"] == "after-the-storm"
                           for m in _forwarded(broker, valid_topic)), 60, "a valid event after bad input")
