"""A paused (blackholed) Redis fails a call within ALPHAWATCH_REDIS_TIMEOUT_S instead of hanging it."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from redis.exceptions import RedisError

from stream.io.security import redis_client
from stream.ops.embedded import start_redis
from stream.settings import Settings

pytestmark = pytest.mark.integration


def test_a_paused_redis_times_out() -> None:
    redis = start_redis()
    (pid,) = redis.pids
    settings = Settings(redis_url=redis.url, redis_timeout_s=1.0)

    async def ping() -> bool:
        client = redis_client(settings)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    try:
        assert asyncio.run(ping())
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(RedisError):
            asyncio.run(asyncio.wait_for(ping(), 30))
        assert time.monotonic() - started < 5
    finally:
        os.kill(pid, signal.SIGCONT)
        redis.stop()
