"""Model rankings on the real broker and Redis: simulated pairwise votes in, leaderboards out on
model-rankings and GET /rankings/{modality}, counting only annotators qualified in Redis at fit time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from stream.campaign.tournament import Tournament, draw, random_events
from stream.io.produce import produce
from stream.settings import Settings
from tests.integration.helpers import Worker, metric, read_topic, wait_until, worker_env

pytestmark = pytest.mark.integration


def newest(kafka_url: str, topic: str) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for message in read_topic(kafka_url, topic):
        record = orjson.loads(message.value)
        out[(record["modality"], record.get("dimension", ""))] = record
    return out


def overall_votes(records: dict[tuple[str, str], dict[str, Any]]) -> tuple[int, int]:
    rows = [r for (_, dim), r in records.items() if dim == "overall"]
    return sum(r["votes"] for r in rows), sum(r["votes_excluded"] for r in rows)


def test_leaderboards_from_qualified_votes(kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_AGENTS='["ingest","ranking"]',
                     ALPHAWATCH_RANKING_REFIT_S="1", ALPHAWATCH_RANKING_BOOTSTRAP_SAMPLES="50",
                     ALPHAWATCH_RANKING_ANCHORS='{"t2v": "cfg-00"}')
    settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"])
    field = draw(Tournament(n_models=9, n_voters=20, noisy_share=0.2))
    events = random_events(field, 1500, prompts=400)
    qualified_votes = sum(1 for e in events if e["annotator_id"] in field.qualified)
    rankings = settings.topic("model-rankings")
    worker = Worker(env, tmp_path / "worker.log").start()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        wait_until(worker.ready, 120, "worker to join")
        asyncio.run(produce(kafka_url, settings.topic("annotations"), [orjson.dumps(e) for e in events]))
        # nobody is qualified yet: every vote is counted but excluded from the fit
        wait_until(lambda: overall_votes(newest(kafka_url, rankings)) == (0, len(events)), 120,
                   "leaderboards with every vote excluded")
        client.sadd(f"{settings.app_id}:annotators:qualified", *field.qualified)
        wait_until(lambda: overall_votes(newest(kafka_url, rankings)) == (qualified_votes,
                                                                          len(events) - qualified_votes),
                   60, "leaderboards refitted on the qualified annotators' votes")
        board = wait_until(lambda: [b for b in [worker.get("/rankings/t2v")] if b and b[0]["votes"] > 0],
                           30, "GET /rankings/t2v to show the refit")[0]
        assert board[0]["dimension"] == "overall" and len(board) == 5
        assert board[0]["anchor"] == "cfg-00"
        scores = {s["model_id"]: s for s in board[0]["models"]}
        assert set(scores) == {"cfg-00", "cfg-03", "cfg-06"} and scores["cfg-00"]["score"] == 1000.0
        strongest = max(scores, key=lambda m: field.theta[int(m[4:])].mean())
        assert board[0]["models"][0]["model_id"] == strongest
        assert all(s["ci_low"] <= s["score"] <= s["ci_high"] for s in board[0]["models"])
        rounds = newest(kafka_url, settings.topic("pairing-suggestions"))
        assert {m for m, _ in rounds} == {"t2v", "i2v", "v2v"}
        assert all(r["pairs"] for r in rounds.values())
        text = worker.metrics()
        assert metric(text, "alphawatch_model_score", modality="t2v", dimension="overall",
                      model="cfg-00") == 1000
        assert metric(text, "alphawatch_ranking_votes", dimension="overall") == qualified_votes
        # (a worker restarted after an embedded-broker stall counts only what followed its snapshot)
        counted = metric(text, "alphawatch_ranking_events_total", outcome="counted")
        assert worker.restarted or counted == len(events)

        # SIGKILL and restart: the counts come back from the ranking table, replays are not recounted
        before = len(read_topic(kafka_url, rankings))
        worker.kill()
        worker = Worker(env, tmp_path / "worker2.log").start()
        wait_until(worker.ready, 120, "restarted worker to join")
        wait_until(lambda: len(read_topic(kafka_url, rankings)) > before, 60, "a refit after the restart")
        assert overall_votes(newest(kafka_url, rankings)) == (qualified_votes, len(events) - qualified_votes)
        assert metric(worker.metrics(), "alphawatch_ranking_events_total", outcome="counted") == 0
    finally:
        worker.stop()
