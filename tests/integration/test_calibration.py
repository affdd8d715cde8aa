"""The issue's calibration scenario through the real broker and Redis, with a worker killed mid-stream:
careless annotators never qualify, drifting ones reach retraining within K gold answers, no good
annotator leaves qualified, final gold agreements equal the offline replay, Redis equals the topic."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from schemas.gold import GoldKeyRow
from stream.io.produce import produce
from stream.qualification.calibration import Replay, judge, plan, scenario
from stream.qualification.goldkey import publish_gold_key
from stream.qualification.rules import STATES
from stream.settings import Settings
from tests.integration.helpers import Worker, alive, read_topic, wait_until, worker_env

pytestmark = pytest.mark.integration
N_ANNOTATIONS = 30_000  # bench/calibration.py runs the full 100,000


def redis_gold(r: redis.Redis, prefix: str, annotators: list[str]) -> dict[str, Any]:
    return {a: orjson.loads(r.hget(f"{prefix}annotator:{a}", "gold") or "null") for a in annotators}


def expected_gold(replay: Replay, settings: Settings, rows: list[dict[str, Any]]) -> dict[str, Any]:
    from stream.qualification.calibration import compile_key

    finals = replay.final_agreements(compile_key(rows, settings))
    return {a: {d: {"agreement": g.value, "n": int(g.n)} for d, g in dims.items() if g.n}
            for a, dims in finals.items()}


def test_calibration_scenario_survives_a_worker_kill(kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path)
    settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"],
                        broker_url=kafka_url, redis_url=redis_url)
    campaign = scenario(seed=3, n_annotations=N_ANNOTATIONS, n_annotators=20)
    events, rows, replay, truth = plan(campaign, settings)
    reference = judge(replay.transitions, replay.gold_times, truth)
    assert reference.ok(settings.gold_window) and not reference.good_never_qualified, reference
    asyncio.run(publish_gold_key(settings, [GoldKeyRow.model_validate(r) for r in rows]))
    lines = [orjson.dumps(e) for e in events]
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix, annotators = f"{settings.app_id}:", sorted(replay.annotators)
    worker = Worker(env, tmp_path / "worker-1.log").start()
    try:
        wait_until(worker.ready, 90, "worker ready")
        half = len(lines) // 2
        asyncio.run(produce(kafka_url, settings.topic("annotations"), lines[:half]))
        wait_until(lambda: alive(worker) and sum(v is not None for v in
                                                 redis_gold(r, prefix, annotators).values()) >= 15,
                   120, "gold answers being scored")
        worker.kill()  # mid-stream: the first half may not be fully processed
        worker = Worker(env, tmp_path / "worker-2.log").start()
        wait_until(worker.ready, 120, "restarted worker ready")
        asyncio.run(produce(kafka_url, settings.topic("annotations"), lines[half:]))
        want = expected_gold(replay, settings, rows)
        wait_until(lambda: alive(worker) and redis_gold(r, prefix, annotators) == want, 600,
                   "every annotator's gold agreement equal to the offline replay")
    finally:
        worker.stop()

    records = [orjson.loads(m.value) for m in read_topic(kafka_url, settings.topic("annotator-status"))]
    verdict = judge(records, replay.gold_times, truth)
    assert verdict.careless_qualified == [] and verdict.good_left_qualified == []
    assert verdict.good_never_qualified == [], verdict
    detected = verdict.drift_detected_after.values()
    assert all(n is not None and n <= settings.gold_window for n in detected), verdict

    last = {rec["annotator_id"]: rec["state"] for rec in records}  # the topic's view, in offset order
    assert set(last) == set(annotators)
    assert {a: r.hget(f"{prefix}annotator:{a}", "state") for a in annotators} == last
    members = {s: r.smembers(f"{prefix}annotators:{s}") for s in STATES}
    assert members == {s: {a for a, st in last.items() if st == s} for s in STATES}
