"""Without ALPHAWATCH_BATCH_SALT a deployment gets one random salt, kept in Redis, shared by workers."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as redis

from stream.agents.batches import deployment_salt
from stream.io.rediskeys import RedisKeys

pytestmark = pytest.mark.integration


async def test_one_random_salt_per_deployment(redis_url: str) -> None:
    keys, elsewhere = (RedisKeys(f"t-{uuid.uuid4().hex[:6]}") for _ in range(2))
    first, second = (redis.Redis.from_url(redis_url, decode_responses=True) for _ in range(2))
    try:
        salt = await deployment_salt(first, keys)
        assert len(salt) == 64 and await deployment_salt(second, keys) == salt  # a second worker
        other = await deployment_salt(first, elsewhere)
        assert other != salt  # another deployment
    finally:
        await first.delete(keys.batch_salt, elsewhere.batch_salt)
        await first.aclose()
        await second.aclose()
