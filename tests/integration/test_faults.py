"""The broker link cut for longer than the producer's request timeout while annotations flow: the
worker stops without committing, and after its restart every answer is counted exactly once in the
finals and the batch records, no flag is lost, and every batch verifies against its manifest."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from schemas.batches import BatchManifest
from stream.batches.export import export_batch
from stream.batches.rules import BatchClock
from stream.campaign.simulate import Campaign, generate
from stream.io.outbox import EXIT_UNDELIVERED
from stream.io.produce import produce, send_watermark
from stream.io.rediskeys import RedisKeys
from stream.ops.accounting import FinalKey, batched_answers, miscounted, newest_manifests
from stream.ops.embedded import free_port, start_tansu
from stream.settings import Settings
from tests.integration.helpers import Worker, metric, read_topic, wait_until, worker_env
from tests.integration.proxy import Proxy, proxied
from tests.integration.test_agreement import _expected, _finals

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]
PROGRESS = ("alphawatch_ingest_events_total", "alphawatch_unit_events_total",
            "alphawatch_batch_records_total", "alphawatch_batches_closed_total")
REQUEST_TIMEOUT_S = 3


@pytest.fixture
def cut_broker() -> Iterator[tuple[str, Proxy]]:
    """A broker of its own that advertises a proxy's address: every connection after the
    bootstrap goes through the proxy, so cutting it partitions the worker from the broker."""
    port = free_port()
    kafka = start_tansu(advertised_port=port)
    try:
        upstream = kafka.url.split("://", 1)[1].rsplit(":", 1)
        with proxied(port, (upstream[0], int(upstream[1]))) as proxy:
            yield f"kafka://127.0.0.1:{port}", proxy
    finally:
        kafka.stop()


def _campaign() -> Campaign:
    # text_alignment turns ambiguous a third of the way in: flags are raised while the link is cut.
    # No gold items: they are answered over hours, so after a restart some of their answers come
    # after the restored watermark closed their unit's window (late, by design), while the offline
    # reference counts every answer; the finals must equal the reference exactly.
    return Campaign(seed=23, n_clips=4000, n_annotators=30, gold_share=0.0,
                    ambiguous_dimension="text_alignment", ambiguous_from=1300)


def test_cut_link_stops_the_worker_and_loses_nothing(cut_broker: tuple[str, Proxy], redis_url: str,
                                                     tmp_path: Path) -> None:
    kafka_url, proxy = cut_broker
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WINDOWS='["1h"]', ALPHAWATCH_GRACE="5m",
                     ALPHAWATCH_BATCH_SALT="s", ALPHAWATCH_PRODUCER_REQUEST_TIMEOUT_S=str(REQUEST_TIMEOUT_S))
    settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"],
                        broker_url=kafka_url, redis_url=redis_url, windows=["1h"], grace="5m")
    lines = [orjson.dumps(e) for e in generate(_campaign())]
    worker = Worker(env, tmp_path / "worker-1.log", restarts=0).start()  # its stop is the point
    try:
        wait_until(worker.ready, 120, "worker ready")
        asyncio.run(produce(kafka_url, settings.topic("annotations"), lines, per_record=200))
        wait_until(lambda: metric(worker.metrics(), "alphawatch_unit_events_total") > 3000, 120,
                   "annotations flowing", detail=lambda: worker.describe(*PROGRESS))
        proxy.cut()
        # its sends time out after the producer's retries and the outbox's resends: it stops
        wait_until(lambda: not worker.alive(), 120, "the worker to stop on an undelivered batch")
        proxy.restore()
        assert worker.proc is not None and worker.proc.returncode == EXIT_UNDELIVERED
        # the restarted worker has the link back: the default request timeout (Tansu stalls a few
        # seconds now and then, and a 3 s timeout would stop this worker too)
        env = {**env, "ALPHAWATCH_PRODUCER_REQUEST_TIMEOUT_S": "90"}
        worker = Worker(env, tmp_path / "worker-2.log").start()
        wait_until(worker.ready, 180, "restarted worker ready")
        _close_and_check(kafka_url, settings, lines, worker)
    finally:
        proxy.restore()
        worker.stop()


def _close_and_check(kafka_url: str, settings: Settings, lines: list[bytes], worker: Worker,
                     gold: frozenset[FinalKey] = frozenset()) -> None:
    """Close every window and batch; check finals (`gold` windows by units only: their gold
    answers come late by design), batches, manifests and flags."""
    newest = max(datetime.fromisoformat(orjson.loads(x)["submitted_at"]).timestamp() for x in lines)
    mark = newest + max(settings.batch_length_s, max(settings.window_seconds)) + settings.grace_s + 1
    asyncio.run(send_watermark(kafka_url, settings.topic("annotations"),
                               datetime.fromtimestamp(mark, tz=UTC).isoformat(), settings.partitions))
    expected = _expected(lines, settings)
    topic = settings.topic("agreement")
    wait_until(lambda: worker.check_running() or _finals(kafka_url, topic).keys() >= expected.keys(),
               600,
               f"{len(expected)} final window records", every=2.0, detail=lambda: worker.describe(*PROGRESS))
    _counted_once(_finals(kafka_url, topic), expected, gold)
    manifests = wait_until(lambda: worker.check_running() or _manifests(kafka_url, settings, lines), 300,
                           "every batch's manifest", every=2.0, detail=lambda: worker.describe(*PROGRESS))
    assert batched_answers(manifests.values()) == len(lines), "answers lost or counted twice in batches"
    for batch_id in manifests:
        out = worker.log.parent / "export" / batch_id
        _, problems = asyncio.run(export_batch(settings, batch_id, "jsonl", out))
        assert problems == [], f"{batch_id}: {problems}"
    _no_flag_lost(kafka_url, settings)


def _counted_once(finals: dict[FinalKey, list[dict[str, Any]]],
                  expected: dict[FinalKey, dict[str, Any]], gold: frozenset[FinalKey] = frozenset()) -> None:
    """Every copy of every final has the reference's units, pairable values and alpha, and no
    answer counted late: each answer counted once, also where a closure was read again."""
    problems = miscounted(finals, expected, set(gold))
    if not gold:  # late counts go to the next final of their dimension and slice, wherever the
        # gold unit's window was: with gold in the campaign they are expected anywhere
        problems += [f"{key}: late {r['late']}" for key, records in finals.items() for r in records
                     if r["late"]]
    assert not problems, f"{len(problems)} wrong finals, e.g. {problems[:5]}"


def _manifests(kafka_url: str, settings: Settings, lines: list[bytes]) -> dict[str, BatchManifest]:
    clock = BatchClock(settings.batch_length_s, settings.grace_s)
    wanted = {clock.batch_id(clock.start_of(datetime.fromisoformat(
        orjson.loads(x)["submitted_at"]).timestamp())) for x in lines}
    topic = settings.topic("rlhf-batch-manifests")
    newest = newest_manifests(m.value for m in read_topic(kafka_url, topic, 5))
    newest = newest_manifests(m.value for m in read_topic(kafka_url, topic, 5))
    return newest if set(newest) == wanted else {}


def _no_flag_lost(kafka_url: str, settings: Settings) -> None:
    """Every flag Redis holds open was delivered on qa-flags, and none waits unconfirmed."""
    keys = RedisKeys(settings.app_id)
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        wait_until(lambda: client.hlen(keys.flags_pending) == 0, 60, "pending flags confirmed")
        opened = {str(client.get(k)) for k in client.scan_iter(match=keys.flag_open_pattern)}
    finally:
        client.close()
    delivered = {orjson.loads(m.value)["flag_id"] for m in read_topic(kafka_url, settings.topic("qa-flags"))}
    assert delivered, "the ambiguous dimension raised no flag: the check would be empty"
    assert opened <= delivered, f"open in Redis, never delivered: {sorted(opened - delivered)}"
