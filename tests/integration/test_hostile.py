"""Hostile input on the real broker: 100,000 messages mixing valid annotations with every poison pill
and hypothesis-generated malformed ones. No worker crash, every invalid message dead-lettered with
its reason, and every valid answer counted exactly once in the finals (the offline reference)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.campaign.simulate import Campaign, generate
from stream.core.validate import Invalid, Validator
from stream.io.produce import produce, send_watermark
from stream.ops.accounting import expected_finals, finals_of, miscounted
from stream.settings import Settings
from tests.integration.helpers import Worker, metric, read_topic, wait_until, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]
PROGRESS = ("alphawatch_ingest_events_total", "alphawatch_unit_events_total")
N_MESSAGES = 100_000


def _poison(base: dict[str, Any], i: int) -> list[bytes]:
    """One of every poison pill the issue names, built on a valid rating."""
    def js(**changes: object) -> bytes:
        return orjson.dumps({**base, "event_id": f"poison-{i}-{len(changes)}-{sorted(changes)}", **changes})

    clip = dict(base["clip"])
    soon = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")  # local time, Z
    with_duration = js(clip={**clip, "duration_s": 4.25})
    return [
        js(submitted_at="2099-06-01T00:00:00Z"), js(submitted_at=soon),
        b'{"schema_version": 1, "kind": "watermark", "watermark": "2099-01-01T00:00:00Z"}',
        with_duration.replace(b"4.25", b"Infinity"), with_duration.replace(b"4.25", b"1e400"),
        with_duration.replace(b"4.25", b"NaN"),
        js(submitted_at="9999-12-31T23:59:59Z"), js(schema_version=1.0), js(schema_version=True),
        js(submitted_at="1795000000"), js(submitted_at=1795000000), js(annotator_id="   "),
        js(clip_id="clip\u0000x"), js(event_id=""), js(scores={}), js(scores={"realism": 3}),
        b"{not json at all", b'{"event_id": "\xff\xfe"}', b"null",
    ]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=6)


def _mutations(bases: list[dict[str, Any]], n: int) -> list[bytes]:
    """n malformed messages from hypothesis: a field replaced, dropped or added, or bytes cut."""
    out: list[bytes] = []

    @settings(max_examples=n, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(index=st.integers(0, len(bases) - 1), field=st.sampled_from(sorted(bases[0])), value=JSON,
           action=st.sampled_from(["replace", "drop", "add", "cut"]), cut=st.integers(1, 400))
    def collect(index: int, field: str, value: Any, action: str, cut: int) -> None:
        event = {**bases[index], "event_id": f"fuzz-{len(out)}"}
        if action == "replace":
            event[field] = value
        elif action == "drop":
            event.pop(field, None)
        elif action == "add":
            event[f"x_{field}"] = value
        raw = json.dumps(event).encode()  # stdlib: integers past 64 bits, Infinity
        out.append(raw[:cut] if action == "cut" else raw)

    collect()
    return out


def test_hostile_stream_crashes_nothing_and_counts_every_valid_answer_once(
        kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WINDOWS='["1h"]', ALPHAWATCH_BATCH_SALT="s")
    s = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"],
                 broker_url=kafka_url, redis_url=redis_url, windows=["1h"])
    valid = [orjson.dumps(e) for e in generate(Campaign(seed=41, n_clips=34_000, n_annotators=40))]
    bases = [orjson.loads(x) for x in valid[:200] if b'"kind":"rating"' in x]
    oversized = orjson.dumps({**bases[0], "clip": {**bases[0]["clip"], "prompt": "x" * 1_100_000}})
    hostile = [m for i, base in enumerate(bases[:150]) for m in _poison(base, i)] + _mutations(bases, 4000)
    hostile.append(oversized)
    check = Validator(s.dimensions, s.score_min, s.score_max, s.max_payload_bytes,
                      max_skew_s=s.max_clock_skew_s)
    hostile = [_as_ingest_sees(m) for m in hostile]
    hostile = [m for m in hostile if isinstance(check(m), Invalid)]  # a fuzzed one may be valid
    reasons = Counter(r.reason for r in (check(m) for m in hostile) if isinstance(r, Invalid))
    lines = valid[:N_MESSAGES - len(hostile)]
    mixed = list(lines)
    rng = random.Random(5)
    for message in hostile:  # valid events keep their order; the poison lands anywhere among them
        mixed.insert(rng.randrange(len(mixed) + 1), message)
    assert len(mixed) == N_MESSAGES and len(reasons) >= 12
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        wait_until(worker.ready, 120, "worker ready")
        pid = worker.proc.pid if worker.proc else None
        asyncio.run(produce(kafka_url, s.topic("annotations"), mixed, per_record=500))
        wait_until(lambda: metric(worker.metrics(), "alphawatch_unit_events_total") >= len(lines), 600,
                   "every valid event applied", every=2.0, detail=lambda: worker.describe(*PROGRESS))
        _close(kafka_url, s, lines)
        expected = expected_finals(lines, s)
        topic = s.topic("agreement")
        finals = wait_until(lambda: (lambda f: f if f.keys() >= expected.keys() else None)(
            finals_of(m.value for m in read_topic(kafka_url, topic))), 600, "every final",
            every=3.0, detail=lambda: worker.describe(*PROGRESS))
        problems = miscounted(finals, expected)
        problems += [f"{k}: late {r['late']}" for k, records in finals.items() for r in records if r["late"]]
        assert not problems, f"{len(problems)} wrong finals, e.g. {problems[:5]}"
        dead = [orjson.loads(m.value) for m in read_topic(kafka_url, s.topic("annotations-dlq"))]
        assert Counter(d["reason"] for d in dead) == reasons
        assert worker.alive() and worker.proc is not None and worker.proc.pid == pid  # never crashed
        assert "stopping without committing" not in worker.log.read_text()
    finally:
        worker.stop()


def _as_ingest_sees(raw: bytes) -> bytes:
    """An event that parses travels inside a producer's JSON array and reaches the validator
    re-serialised (`elements()`); one that does not travels alone, as it is."""
    try:
        return orjson.dumps(orjson.loads(raw)) if raw.lstrip().startswith(b"{") else raw
    except orjson.JSONDecodeError:
        return raw


def _close(kafka_url: str, s: Settings, lines: list[bytes]) -> None:
    newest = max(datetime.fromisoformat(orjson.loads(x)["submitted_at"]).timestamp() for x in lines)
    mark = datetime.fromtimestamp(newest + max(s.window_seconds) + s.grace_s + 1, tz=UTC)
    assert mark.timestamp() < time.time()  # the campaign lies in the past: the mark is not refused
    asyncio.run(send_watermark(kafka_url, s.topic("annotations"), mark.isoformat(), s.partitions))
