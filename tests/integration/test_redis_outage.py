"""Redis paused (SIGSTOP) or stopped for 60 s while annotations flow: agreement records keep flowing,
and once Redis answers again the finals are exact and the Redis-dependent views catch up with the
acknowledged topics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import redis

from schemas.gold import GoldKeyRow
from stream.agreement.offline import collect
from stream.campaign.simulate import Campaign, generate, gold_key
from stream.io.produce import produce
from stream.io.rediskeys import RedisKeys
from stream.ops.accounting import expected_finals, windows_of_gold
from stream.ops.embedded import start_redis
from stream.qualification.goldkey import publish_gold_key
from stream.settings import Settings
from tests.integration.helpers import Worker, metric, pid_alive, read_topic, wait_until, worker_env
from tests.integration.test_faults import _close_and_check

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]
PROGRESS = ("alphawatch_ingest_events_total", "alphawatch_unit_events_total",
            "alphawatch_windows_final_total", "alphawatch_flag_check_errors_total",
            "alphawatch_annotator_store_errors_total")
OUTAGE_S = 60.0


def _campaign() -> Campaign:
    # gold items qualify annotators (Redis hashes and sets); the ambiguous dimension raises flags
    # (open flags in Redis) on either side of the outage
    return Campaign(seed=31, n_clips=3000, n_annotators=20, gold_share=0.05,
                    ambiguous_dimension="text_alignment", ambiguous_from=1000)


class Outage:
    """The test's own Redis, paused (SIGSTOP: calls hang until the client's timeout) or stopped
    (connections refused) and brought back with its data (append-only file, as deployed)."""

    def __init__(self, how: str, data: Path):
        self.how, self.data = how, data
        data.mkdir()
        self.redis = start_redis(persist_dir=str(data))
        self.port = int(self.redis.url.rsplit(":", 1)[1].split("/")[0])

    def begin(self) -> None:
        if self.how == "pause":
            os.kill(self.redis.pids[0], signal.SIGSTOP)
        else:
            self.redis.stop()

    def end(self) -> None:
        if self.how == "pause":
            os.kill(self.redis.pids[0], signal.SIGCONT)
        elif not self.redis.pids or not pid_alive(self.redis.pids[0]):
            self.redis = start_redis(port=self.port, persist_dir=str(self.data))

    def close(self) -> None:
        if self.how == "pause":  # a stopped process cannot end
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.redis.pids[0], signal.SIGCONT)
        self.redis.stop()


@pytest.mark.parametrize("how", ["pause", "stop"])
def test_a_redis_outage_stops_no_agreement_record_and_its_views_catch_up(kafka_url: str, tmp_path: Path,
                                                                         how: str) -> None:
    outage = Outage(how, tmp_path / "redis")
    url = outage.redis.url
    try:
        env = worker_env(kafka_url, url, tmp_path, ALPHAWATCH_WINDOWS='["1h"]', ALPHAWATCH_GRACE="5m",
                         ALPHAWATCH_BATCH_SALT="s", ALPHAWATCH_REDIS_TIMEOUT_S="2",
                         # the embedded broker now and then answers NotLeaderForPartition to every
                         # produce to one changelog partition until the batch expires (seen in about
                         # one run in three of this test): a short expiry and a restart, as deployed
                         # under a supervisor, instead of a 90 s stall
                         ALPHAWATCH_PRODUCER_REQUEST_TIMEOUT_S="10")
        settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"],
                            broker_url=kafka_url, redis_url=url, windows=["1h"], grace="5m")
        # the key goes to Kafka and Redis before the outage: gold answers are scored against it
        asyncio.run(publish_gold_key(settings, [GoldKeyRow.model_validate(r) for r in gold_key(_campaign())]))
        lines = [orjson.dumps(e) for e in generate(_campaign())]
        half = len(lines) // 2
        worker = Worker(env, tmp_path / "worker.log", restarts=2).start()
        try:
            wait_until(worker.ready, 120, "worker ready")
            asyncio.run(produce(kafka_url, settings.topic("annotations"), lines[:half], per_record=200))
            wait_until(lambda: metric(worker.metrics(), "alphawatch_unit_events_total") >= half, 120,
                       "the first half applied", detail=lambda: worker.describe(*PROGRESS))
            # a flag raised before the outage: the check that none is lost is not empty
            wait_until(lambda: metric(worker.metrics(), "alphawatch_flags_total", kind="agreement_low") > 0,
                       120, "a flag before the outage", detail=lambda: worker.describe(*PROGRESS))
            closing = _closed_by(lines, settings)
            outage.begin()
            began = time.monotonic()
            try:
                asyncio.run(produce(kafka_url, settings.topic("annotations"), lines[half:], per_record=200))
                # every answer applied and every window the data closes final, Redis still away
                wait_until(lambda: metric(worker.metrics(), "alphawatch_unit_events_total") >= len(lines)
                           and metric(worker.metrics(), "alphawatch_windows_final_total") >= closing,
                           OUTAGE_S - 5, f"{closing} finals with Redis {how}d",
                           detail=lambda: worker.describe(*PROGRESS))
                # (the merge stage asks Redis only when a record makes a flag decision: whether one
                # falls in the outage depends on the data, so its error counter proves nothing here)
                wait_until(lambda: time.monotonic() - began >= OUTAGE_S, OUTAGE_S, "the outage's end")
                # annotator states changed meanwhile and could not be written: Redis has to catch up.
                # The log, not the counter: a worker restarted meanwhile (a broker stall, exit 70)
                # starts its counters at 0 (seen in CI), while the log keeps every process's lines
                assert metric(worker.metrics(), "alphawatch_annotator_store_errors_total") > 0 \
                    or worker._logged("annotator status not written to Redis"), worker.describe(*PROGRESS)
            finally:
                outage.end()
            gold = windows_of_gold(lines, collect(lines, settings), settings)
            _close_and_check(kafka_url, settings, lines, worker, frozenset(gold))
            _views_caught_up(kafka_url, settings)
            assert worker.alive()
            # Redis never stopped the worker: a restart, if any, followed a broker delivery failure
            stops = worker._logged("[CRITICAL]")
            assert all("not delivered" in line and "Redis" not in line for line in stops), stops
        finally:
            worker.stop()
    finally:
        outage.close()


def _closed_by(lines: list[bytes], settings: Settings) -> int:
    """Windows the campaign's own progress closes: ending an hour (and the grace) before its
    newest answer, so every partition's watermark has passed them."""
    newest = max(datetime.fromisoformat(orjson.loads(x)["submitted_at"]).timestamp() for x in lines)
    expected = expected_finals(lines, settings)
    return sum(1 for (_, _, size, start) in expected
               if datetime.fromisoformat(start).timestamp() + size + settings.grace_s + 3600 < newest)


def _views_caught_up(kafka_url: str, settings: Settings) -> None:
    """Each annotator's state in Redis (hash and state sets) is its newest acknowledged transition."""
    newest: dict[str, str] = {}
    for message in read_topic(kafka_url, settings.topic("annotator-status")):
        status = orjson.loads(message.value)
        newest[status["annotator_id"]] = status["state"]
    assert "qualified" in newest.values(), "no annotator qualified: the check would be empty"
    keys = RedisKeys(settings.app_id)
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        def in_redis() -> dict[str, str]:
            return {a: str(client.hget(keys.annotator(a), "state")) for a in newest}

        wait_until(lambda: in_redis() == newest, 60, "annotator states in Redis",
                   detail=lambda: str({a: s for a, s in in_redis().items() if s != newest[a]}))
        for state in ("qualifying", "qualified", "retraining"):
            assert client.smembers(keys.annotators(state)) == {a for a, s in newest.items() if s == state}
    finally:
        client.close()
