"""Gold key lifecycle on the real broker and Redis: unknown items wait, key updates and deletions
re-score, every transition reaches annotator-status, Redis and the web views."""

from __future__ import annotations

import asyncio
import urllib.error
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from schemas.gold import GoldKeyRow
from stream.campaign.simulate import Campaign, generate
from stream.io.produce import produce
from stream.io.rediskeys import RedisKeys
from stream.io.security import redis_client
from stream.qualification.goldkey import publish_gold_key
from stream.qualification.store import StatusReader
from stream.settings import Settings
from tests.integration.helpers import Worker, metric, read_topic, wait_until, worker_env

pytestmark = pytest.mark.integration
DIMS = ("motion_quality", "visual_fidelity", "viewer_interest", "text_alignment")


def key_row(gold_id: str, score: int = 3, **extra: Any) -> GoldKeyRow:
    return GoldKeyRow(gold_item_id=gold_id, kind="rating", answers=dict.fromkeys(DIMS, score), **extra)


def answers(annotator: str, gold_ids: list[str | None]) -> list[bytes]:
    """Rating events of `annotator` answering each gold item (None: an ordinary clip) with 3 on
    every dimension."""
    template = next(e for e in generate(Campaign(n_clips=1, pairwise_share=0.0)))
    return [orjson.dumps({**template, "event_id": f"{annotator}-{i}", "annotator_id": annotator,
                          "clip_id": f"clip-{gold_id}", "gold_item_id": gold_id,
                          "submitted_at": f"2026-11-20T10:00:{i:02d}Z", "scores": dict.fromkeys(DIMS, 3)})
            for i, gold_id in enumerate(gold_ids)]


def statuses(kafka_url: str, settings: Settings, annotator: str) -> list[dict[str, Any]]:
    records = [orjson.loads(m.value) for m in read_topic(kafka_url, settings.topic("annotator-status"))]
    return [r for r in records if r["annotator_id"] == annotator]


def test_gold_key_lifecycle(kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_GOLD_WINDOW="10",
                     ALPHAWATCH_GOLD_MIN_ANSWERS="4", ALPHAWATCH_ANNOTATOR_FLUSH_S="0.2")
    settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"],
                        broker_url=kafka_url, redis_url=redis_url, gold_window=10, gold_min_answers=4)
    gold_ids: list[str | None] = [f"g{i}" for i in range(1, 11)]
    asyncio.run(publish_gold_key(settings, [key_row(f"g{i}") for i in range(1, 9)]))  # g9, g10 come later
    worker = Worker(env, tmp_path / "worker.log").start()
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"{settings.app_id}:"
    try:
        wait_until(worker.ready, 90, "worker ready")
        lines = answers("ann-x", gold_ids) + answers("ann-y", [None])
        asyncio.run(produce(kafka_url, settings.topic("annotations"), lines))

        def hash_of(annotator: str) -> dict[str, str]:
            return r.hgetall(f"{prefix}annotator:{annotator}")

        wait_until(lambda: hash_of("ann-x").get("pending") == "2"
                   and hash_of("ann-x")["state"] == "qualified", 60, "ann-x qualified with g9, g10 waiting")
        wait_until(lambda: hash_of("ann-y").get("state") == "qualifying", 30, "ann-y seen (no gold)")
        assert r.sismember(f"{prefix}annotators:qualified", "ann-x")

        asyncio.run(publish_gold_key(settings, [key_row("g9"), key_row("g10")]))
        wait_until(lambda: hash_of("ann-x")["pending"] == "0"
                   and orjson.loads(hash_of("ann-x")["gold"])["motion_quality"]["n"] == 10,
                   30, "waiting answers resolved")

        # the expert corrects three items: ann-x's answers to them are now wrong (7 of 10 agree)
        asyncio.run(publish_gold_key(settings, [key_row(f"g{i}", 1, tolerance={"motion_quality": 0})
                                                for i in (1, 2, 3)]))
        wait_until(lambda: hash_of("ann-x")["state"] == "retraining", 30, "re-scored to retraining")
        assert orjson.loads(hash_of("ann-x")["gold"])["motion_quality"]["agreement"] == pytest.approx(0.7)
        assert r.sismember(f"{prefix}annotators:retraining", "ann-x")
        assert not r.sismember(f"{prefix}annotators:qualified", "ann-x")

        # then withdraws them: 7 of 7 agree again
        asyncio.run(publish_gold_key(settings, [GoldKeyRow(gold_item_id=f"g{i}", deleted=True)
                                                for i in (1, 2, 3)]))
        wait_until(lambda: hash_of("ann-x")["state"] == "qualified", 30, "qualified again after deletion")
        assert orjson.loads(hash_of("ann-x")["gold"])["motion_quality"] == {"agreement": 1.0, "n": 7}

        records = wait_until(lambda: (s := statuses(kafka_url, settings, "ann-x")) and len(s) >= 4 and s, 30,
                             "four status records")
        assert [(s["previous_state"], s["state"]) for s in records] == [
            (None, "qualifying"), ("qualifying", "qualified"), ("qualified", "retraining"),
            ("retraining", "qualified")]
        assert records[1]["event_at"] is not None and records[2]["event_at"] is None  # key change
        assert "motion_quality 0.70 over 10" in records[2]["reason"]

        assert r.hget(f"{prefix}gold-items", "g1") is None and r.hget(f"{prefix}gold-items", "g9")
        check_views(worker, settings)
        text = worker.metrics()
        if not worker.restarted:  # a restarted worker's counters start at 0 (its replays count anew)
            assert metric(text, "alphawatch_gold_answers_total", outcome="waiting") == 2
            assert metric(text, "alphawatch_gold_answers_total", outcome="resolved") == 2
        wait_until(lambda: metric(worker.metrics(), "alphawatch_annotators", state="qualified") == 1, 10,
                   "annotators gauge")
        assert metric(worker.metrics(), "alphawatch_annotators", state="qualifying") == 1
    finally:
        worker.stop()


def check_views(worker: Worker, settings: Settings) -> None:
    found = worker.get("/annotators/ann-x")
    assert found["state"] == "qualified" and found["gold"]["visual_fidelity"]["n"] == 7
    assert worker.get("/annotators?state=qualified") == {"state": "qualified", "count": 1, "offset": 0,
                                                         "limit": 1000, "next_offset": None,
                                                         "annotators": ["ann-x"]}
    assert worker.get("/annotators?state=qualifying&limit=1&offset=1")["annotators"] == []
    assert worker.get("/annotators")["counts"] == {"qualifying": 1, "qualified": 1, "retraining": 0}
    for path, status in (("/annotators/nobody", 404), ("/annotators?state=bogus", 400),
                         ("/annotators?state=qualified&limit=0", 400)):
        with pytest.raises(urllib.error.HTTPError) as info:
            worker.get(path)
        assert info.value.code == status

    async def read() -> tuple[str, str]:
        reader = StatusReader(redis_client(settings), RedisKeys(settings.app_id))
        return await reader.state("ann-x"), await reader.state("nobody")

    assert asyncio.run(read()) == ("qualified", "qualifying")


def test_an_idle_annotator_who_is_not_qualified_is_forgotten_and_starts_over(kafka_url: str, redis_url: str,
                                                                              tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_GOLD_WINDOW="10",
                     ALPHAWATCH_GOLD_MIN_ANSWERS="4", ALPHAWATCH_ANNOTATOR_FLUSH_S="0.2",
                     ALPHAWATCH_ANNOTATOR_RETENTION="4s")
    settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"],
                        broker_url=kafka_url, redis_url=redis_url)
    asyncio.run(publish_gold_key(settings, [key_row(f"g{i}") for i in range(1, 5)]))
    keys = RedisKeys(settings.app_id)
    worker = Worker(env, tmp_path / "worker.log").start()
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        wait_until(worker.ready, 90, "worker ready")
        lines = answers("ann-x", ["g1", "g2", "g3", "g4"]) + answers("ann-y", [None, None])
        asyncio.run(produce(kafka_url, settings.topic("annotations"), lines))
        # ann-y may be forgotten before ann-x qualifies (4 s of silence), so its arrival is read
        # off annotator-status, which keeps it, not off Redis at one moment
        wait_until(lambda: r.hget(keys.annotator("ann-x"), "state") == "qualified", 90, "ann-x qualified",
                   detail=lambda: worker.describe("alphawatch_annotators_forgotten_total"))
        wait_until(lambda: bool(statuses(kafka_url, settings, "ann-y")), 60, "ann-y's status published")
        assert [(s["previous_state"], s["state"]) for s in statuses(kafka_url, settings, "ann-y")] \
            == [(None, "qualifying")]
        # ann-y's counts reach the table each flush while it answers; then 4 s of silence
        wait_until(lambda: not r.exists(keys.annotator("ann-y")), 60, "ann-y forgotten",
                   detail=lambda: worker.describe("alphawatch_annotators_forgotten_total"))
        assert not r.sismember(keys.annotators("qualifying"), "ann-y")
        # (a restart after an embedded-broker stall would start the counter at 0 again)
        assert worker.restarted or metric(worker.metrics(), "alphawatch_annotators_forgotten_total") == 1
        assert r.hget(keys.annotator("ann-x"), "state") == "qualified"  # qualified: kept
        assert r.sismember(keys.qualified, "ann-x")
        # back after the retention: a new annotator as far as qualification goes
        asyncio.run(produce(kafka_url, settings.topic("annotations"),
                            [orjson.dumps({**orjson.loads(x), "event_id": "back"}) for x in lines[-1:]]))
        wait_until(lambda: r.hget(keys.annotator("ann-y"), "state") == "qualifying", 60, "ann-y back")
        back = statuses(kafka_url, settings, "ann-y")
        assert [(s["previous_state"], s["state"]) for s in back] == [(None, "qualifying")] * 2
    finally:
        worker.stop()
        r.close()
