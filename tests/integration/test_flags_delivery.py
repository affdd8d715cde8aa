"""Flag dedup in a real Redis across workers and restarts; webhook delivery to a real HTTP server."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
import pytest
import redis.asyncio as redis
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from stream.flags.deliveries import Deliveries, hook_id
from stream.flags.notifier import SIGNATURE_HEADER, Notifier, verify
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


class Receiver:
    """A webhook receiver on a real HTTP server: what it got, and whether it answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            self.received.append((await request.read(), dict(request.headers)))
            return web.Response(status=200)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def ids(self) -> list[str]:
        return [orjson.loads(body)["flag"]["flag_id"] for body, _ in self.received]


async def _until(condition: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def _notifier(deliveries: Deliveries, metrics: Metrics, max_age_s: float = 3600) -> Notifier:
    return Notifier(deliveries, "s3cret", max_age_s=max_age_s, backoff_s=0.05, timeout_s=2, metrics=metrics)


async def test_a_flag_reaches_a_webhook_once_across_outage_replay_and_restart(redis_url: str) -> None:
    keys = RedisKeys(f"t-{uuid.uuid4().hex[:6]}")
    receiver = Receiver()
    client = redis.Redis.from_url(redis_url)
    deliveries = Deliveries(client, keys, [receiver.url], capacity=10)
    metrics = Metrics(CollectorRegistry())
    await deliveries.enqueue([_flag(1)])
    first = asyncio.create_task(_notifier(deliveries, metrics).run())
    try:
        await asyncio.sleep(0.5)  # the receiver is down: retried with backoff, still queued
        assert len(await deliveries.pending(hook_id(receiver.url))) == 1
        first.cancel()  # the worker dies before delivering: the flag waits in Redis
        await receiver.start()
        restarted = _notifier(deliveries, metrics)
        task = asyncio.create_task(restarted.run())
        await _until(lambda: receiver.ids() == ["flag-1"])
        await _until(lambda: 'outcome="delivered"} 1.0' in generate_latest(metrics.registry).decode())
        await deliveries.enqueue([_flag(1), _flag(2)])  # qa-flags read again after a crash
        restarted.notify()
        await _until(lambda: receiver.ids() == ["flag-1", "flag-2"])
        await asyncio.sleep(1.2)  # a poll later: nothing sent twice
        assert receiver.ids() == ["flag-1", "flag-2"]
        body, headers = receiver.received[0]
        assert headers["Idempotency-Key"] == "flag-1"
        assert verify("s3cret", headers[SIGNATURE_HEADER], body, now=time.time())
        assert not verify("s3cret", headers[SIGNATURE_HEADER], body, now=time.time() + 3600)  # replayed late
        assert not verify("other", headers[SIGNATURE_HEADER], body, now=time.time())
        assert "recovered" in orjson.loads(body)["text"].lower()
        task.cancel()
    finally:
        first.cancel()
        await receiver.stop()
        await _forget_keys(client, keys.prefix)


async def test_a_dead_webhook_delays_no_other_and_gives_up_after_max_age(redis_url: str) -> None:
    keys = RedisKeys(f"t-{uuid.uuid4().hex[:6]}")
    alive, dead = Receiver(), f"http://127.0.0.1:{free_port()}/nobody"
    client = redis.Redis.from_url(redis_url)
    deliveries = Deliveries(client, keys, [dead, alive.url], capacity=2)
    metrics = Metrics(CollectorRegistry())
    await alive.start()
    dropped = await deliveries.enqueue([_flag(i) for i in range(3)])
    assert dropped == ["flag-0", "flag-0"]  # each webhook keeps the newest two
    task = asyncio.create_task(_notifier(deliveries, metrics, max_age_s=1.0).run())
    try:
        await _until(lambda: alive.ids() == ["flag-1", "flag-2"], 5)  # the dead URL holds nothing up
        text = lambda: generate_latest(metrics.registry).decode()  # noqa: E731
        await _until(lambda: 'outcome="failed"} 2.0' in text(), 10)  # the dead one's, after max age
        assert await deliveries.pending(hook_id(dead)) == []
        assert 'outcome="retried"' in text()
    finally:
        task.cancel()
        await alive.stop()
        await _forget_keys(client, keys.prefix)


async def _forget_keys(client: Any, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
