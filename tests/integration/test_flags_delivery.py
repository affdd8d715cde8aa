"""Flag dedup in a real Redis across workers and restarts; webhook delivery to a real HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from typing import Any

import orjson
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from stream.flags.notifier import SIGNATURE_HEADER, Notifier
from stream.flags.store import FlagStore
from stream.io.rediskeys import RedisKeys
from stream.metrics import Metrics
from stream.ops.embedded import free_port

pytestmark = pytest.mark.integration


async def test_one_open_flag_across_workers_and_restarts(redis_url: str) -> None:
    prefix = f"t-{uuid.uuid4().hex[:6]}:"
    first, second = (FlagStore.from_url(redis_url, RedisKeys(prefix[:-1]), cooldown_s=60) for _ in range(2))
    try:
        wins = await asyncio.gather(*(s.try_open("q|all|3600", f"id-{i}")
                                      for i, s in enumerate([first, second] * 5)))
        assert sum(wins) == 1  # ten concurrent attempts from two "workers": one page
        opened = await first.open_flag("q|all|3600")
        restarted = FlagStore.from_url(redis_url, RedisKeys(prefix[:-1]), cooldown_s=60)
        assert await restarted.open_flag("q|all|3600") == opened  # a restart sees it still open
        assert not await restarted.try_open("q|all|3600", "again")
        assert not await second.try_close("q|all|3600", "not-the-open-one")
        assert await second.try_close("q|all|3600", str(opened))
        assert not await first.try_close("q|all|3600", str(opened))  # cleared once
        assert not await first.try_open("q|all|3600", "during-cooldown")
        await restarted.client.aclose()
    finally:
        await _forget(first, prefix)
        await second.client.aclose()


async def _forget(store: FlagStore, prefix: str) -> None:
    """Delete the test's keys and close the client."""
    keys = [k async for k in store.client.scan_iter(match=f"{prefix}*")]
    if keys:
        await store.client.delete(*keys)
    await store.client.aclose()


async def test_a_flag_stays_pending_in_redis_until_its_delivery_is_confirmed(redis_url: str) -> None:
    keys = RedisKeys(f"t-{uuid.uuid4().hex[:6]}")
    store = FlagStore.from_url(redis_url, keys, cooldown_s=0)
    try:
        assert await store.try_open("q|all|3600", "low-1", '{"flag_id": "low-1"}')
        # the worker died before qa-flags acknowledged it: the next owner finds it and sends it
        restarted = FlagStore.from_url(redis_url, keys, cooldown_s=0)
        assert await restarted.pending() == ['{"flag_id": "low-1"}']
        await restarted.delivered(["low-1"])
        assert await store.pending() == []
        assert await store.try_close("q|all|3600", "low-1", '{"flag_id": "rec-1"}', "rec-1")
        assert await store.pending() == ['{"flag_id": "rec-1"}']
        assert await store.open_flag("q|all|3600") is None
        await restarted.client.aclose()
    finally:
        await _forget(store, keys.prefix)


def _flag(i: int) -> dict[str, Any]:
    return {"flag_id": f"flag-{i}", "kind": "agreement_recovered", "dimension": "motion_quality",
            "slice": "all", "window_size_s": 3600, "window_start": "2026-11-20T00:00:00Z", "alpha": 0.8}


async def test_webhook_signed_retried_while_down_then_delivered() -> None:
    port = free_port()
    received: list[tuple[bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers[SIGNATURE_HEADER]))
        return web.Response(status=200)

    metrics = Metrics(CollectorRegistry())
    notifier = Notifier([f"http://127.0.0.1:{port}/hook"], "s3cret", capacity=10, attempts=8,
                        backoff_s=0.1, timeout_s=2, metrics=metrics)
    runner_task = asyncio.create_task(notifier.run())
    notifier.submit(_flag(1))  # the server is down: delivery retries with backoff
    await asyncio.sleep(0.5)
    assert not received
    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.1)
        body, sig = received[0]
        assert sig == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        payload = orjson.loads(body)
        assert payload["flag"]["flag_id"] == "flag-1" and "recovered" in payload["text"].lower()
        text = generate_latest(metrics.registry).decode()
        assert 'alphawatch_webhook_deliveries_total{outcome="retried"}' in text
        assert 'alphawatch_webhook_deliveries_total{outcome="delivered"} 1.0' in text
    finally:
        runner_task.cancel()
        await runner.cleanup()


async def test_failed_delivery_is_counted_and_queue_is_bounded() -> None:
    metrics = Metrics(CollectorRegistry())
    notifier = Notifier([f"http://127.0.0.1:{free_port()}/nobody"], "k", capacity=2, attempts=2,
                        backoff_s=0.01, timeout_s=1, metrics=metrics)
    for i in range(3):
        notifier.submit(_flag(i))  # the third pushes the first out
    assert [f["flag_id"] for f in notifier.queue] == ["flag-1", "flag-2"]
    task = asyncio.create_task(notifier.run())
    for _ in range(100):
        if 'outcome="failed"} 2.0' in generate_latest(metrics.registry).decode():
            break
        await asyncio.sleep(0.05)
    task.cancel()
    text = generate_latest(metrics.registry).decode()
    assert 'alphawatch_webhook_deliveries_total{outcome="failed"} 2.0' in text
    assert 'alphawatch_webhook_deliveries_total{outcome="dropped"} 1.0' in text
