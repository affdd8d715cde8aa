"""A guideline turns ambiguous on one dimension: one flag, explained, on qa-flags; none elsewhere."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as redis

from stream.campaign.simulate import Campaign, generate
from stream.flags.deliveries import Deliveries, hook_id
from stream.flags.notifier import verify
from stream.io.produce import produce
from stream.io.rediskeys import RedisKeys
from tests.integration.helpers import Worker, metric, read_topic, wait_until, worker_env

pytestmark = pytest.mark.integration


def test_ambiguous_dimension_raises_one_explained_flag(kafka_url: str, redis_url: str,
                                                       tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WINDOWS='["1h"]')
    prefix = env["ALPHAWATCH_TOPIC_PREFIX"]
    worker = Worker(env, tmp_path / "worker.log").start()
    campaign = Campaign(seed=21, n_clips=3000, pairwise_share=0.0, ambiguous_dimension="text_alignment",
                        ambiguous_from=1500)
    try:
        wait_until(worker.ready, 120, "worker to join")
        asyncio.run(produce(kafka_url, prefix + "annotations", [orjson.dumps(e) for e in generate(campaign)]))
        flags = wait_until(lambda: [orjson.loads(m.value) for m in read_topic(kafka_url, prefix + "qa-flags")
                                    if orjson.loads(m.value)["kind"] == "agreement_low"
                                    and orjson.loads(m.value)["dimension"] == "text_alignment"
                                    and orjson.loads(m.value)["slice"] == "all"], 180, "the flag")
        wait_until(lambda: 'unit_events_total{kind="rating",outcome="applied"} 9000.0' in worker.metrics(),
                   180, "all events applied")
        every = [orjson.loads(m.value) for m in read_topic(kafka_url, prefix + "qa-flags")]
    finally:
        worker.stop()
    assert len(flags) == 1  # one open flag per dimension, slice and window size
    flag = flags[0]
    onset_hour = int(1500 * campaign.seconds_per_unit // 3600)
    assert flag["window_start"] >= f"2026-11-20T{onset_hour:02d}:00:00Z"
    assert flag["alpha"] < flag["threshold"] and flag["ci_high"] is not None
    assert flag["n_pairable_values"] >= 96 and flag["top_annotators"] and flag["confused_values"]
    assert flag["p_below_threshold"] >= flag["required_confidence"] > 0.95  # its look's confidence
    low = Counter((f["dimension"], f["slice"]) for f in every if f["kind"] == "agreement_low")
    assert not [k for k in low if k[1] == "all" and k[0] != "text_alignment"]  # no false flag


class _Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that keeps every request (class-level: one per test run)."""

    received: list[tuple[bytes, dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((body, dict(self.headers)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_flag_reaches_the_webhook_once_across_a_sigkill_and_restart(kafka_url: str, redis_url: str,
                                                                      tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WINDOWS='["1h"]',
                     ALPHAWATCH_WEBHOOKS=f'["http://127.0.0.1:{server.server_port}/hook"]',
                     ALPHAWATCH_WEBHOOK_ALLOW_HTTP="true", ALPHAWATCH_WEBHOOK_SECRET="k")
    prefix = env["ALPHAWATCH_TOPIC_PREFIX"]
    campaign = Campaign(seed=21, n_clips=3000, pairwise_share=0.0, ambiguous_dimension="text_alignment",
                        ambiguous_from=1500)
    worker = Worker(env, tmp_path / "worker-1.log").start()
    try:
        wait_until(worker.ready, 120, "worker to join")
        lines = [orjson.dumps(e) for e in generate(campaign)]
        asyncio.run(produce(kafka_url, prefix + "annotations", lines))
        # delivered and recorded in Redis (the metric counts after the record), then killed
        wait_until(lambda: metric(worker.metrics(), "alphawatch_webhook_deliveries_total",
                                  outcome="delivered") >= 1, 180, "a delivered flag")
        before = metric(worker.metrics(), "alphawatch_unit_events_total")
        worker.kill()
        recorded = set(asyncio.run(_recorded(redis_url, env)))  # delivered and recorded at the kill
        assert recorded
        worker = Worker(env, tmp_path / "worker-2.log").start()
        wait_until(worker.ready, 180, "restarted worker")
        # counters start again at 0: the first worker's count plus the second's (replays included)
        wait_until(lambda: before + metric(worker.metrics(), "alphawatch_unit_events_total") >= len(lines),
                   180, "every event applied after the restart")
        flags = {orjson.loads(m.value)["flag_id"] for m in read_topic(kafka_url, prefix + "qa-flags")}
        wait_until(lambda: {orjson.loads(b)["flag"]["flag_id"] for b, _ in _Receiver.received} >= flags, 60,
                   "every flag on qa-flags at the webhook")
        time.sleep(2.0)  # a sender poll later: a repeat would have been posted by now
    finally:
        worker.stop()
        server.shutdown()
    ids = Counter(orjson.loads(body)["flag"]["flag_id"] for body, _ in _Receiver.received)
    # a recorded delivery is never posted again; one the kill caught between the receiver's 200
    # and its record may be posted once more, with the same Idempotency-Key for the receiver
    assert all(ids[i] == 1 for i in recorded), f"posted again after its delivery was recorded: {ids}"
    assert all(n <= 2 for n in ids.values()), ids
    for body, headers in _Receiver.received:
        assert headers["Idempotency-Key"] == orjson.loads(body)["flag"]["flag_id"]
        assert verify("k", headers["X-Alphawatch-Signature"], body, now=time.time())


async def _recorded(redis_url: str, env: dict[str, str]) -> list[str]:
    client = redis.Redis.from_url(redis_url)
    try:
        (url,) = orjson.loads(env["ALPHAWATCH_WEBHOOKS"])
        deliveries = Deliveries(client, RedisKeys(env["ALPHAWATCH_APP_ID"]), [url], 10)
        return await deliveries.delivered(hook_id(url))
    finally:
        await client.aclose()
