"""Webhook deliveries recorded in Redis: per webhook, the flags waiting and the flags delivered."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis.asyncio as aioredis

from stream.io.rediskeys import RedisKeys

# a flag already delivered to this webhook is not queued again (a replay of qa-flags); atomic, so
# a replay racing the sender's "done" cannot queue it twice
_ENQUEUE = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
"""
KEEP_DELIVERED = 100_000  # flag ids remembered per webhook (flags are rare: years of them)


def hook_id(url: str) -> str:
    """A webhook's name in Redis keys, logs and metrics: a Slack URL's path is a credential."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def shown(url: str) -> str:
    """What a log line may say of a webhook URL: its host and id, never its path or query."""
    return f"{urlsplit(url).hostname or '?'}#{hook_id(url)}"


class Deliveries:
    """Per webhook a HASH flag id -> {flag, queued_at} of flags to deliver, and a ZSET of the flag
    ids delivered (by time), so a restart neither loses a page nor sends it again."""

    def __init__(self, client: aioredis.Redis, keys: RedisKeys, urls: list[str], capacity: int):
        self.client, self.keys, self.capacity = client, keys, capacity
        self.hooks = {hook_id(url): url for url in urls}
        self._enqueue = client.register_script(_ENQUEUE)

    async def enqueue(self, flags: list[dict[str, Any]]) -> list[str]:
        """Queue each flag for every webhook that has not had it; returns flag ids dropped because
        a webhook's queue was full (its oldest)."""
        now = time.time()
        dropped: list[str] = []
        for hook in self.hooks:
            for i, flag in enumerate(flags):  # a microsecond apart: the batch's order is kept
                entry = orjson.dumps({"flag": flag, "queued_at": now + i * 1e-6})
                await self._enqueue(keys=[self.keys.webhook_pending(hook), self.keys.webhook_delivered(hook)],
                                    args=[flag["flag_id"], entry])
            dropped += await self._trim(hook)
        return dropped

    async def _trim(self, hook: str) -> list[str]:
        excess = await self.client.hlen(self.keys.webhook_pending(hook)) - self.capacity
        if excess <= 0:
            return []
        oldest = [item["flag"]["flag_id"] for item in (await self.pending(hook))[:excess]]
        await self.client.hdel(self.keys.webhook_pending(hook), *oldest)
        return oldest

    async def pending(self, hook: str) -> list[dict[str, Any]]:
        """The flags waiting for one webhook, oldest first."""
        raw = await self.client.hvals(self.keys.webhook_pending(hook))
        return sorted((orjson.loads(v) for v in raw), key=lambda item: float(item["queued_at"]))

    async def done(self, hook: str, flag_id: str) -> None:
        """Delivered (or given up): remembered, and no longer waiting."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zadd(self.keys.webhook_delivered(hook), {flag_id: time.time()})
            pipe.hdel(self.keys.webhook_pending(hook), flag_id)
            pipe.zremrangebyrank(self.keys.webhook_delivered(hook), 0, -KEEP_DELIVERED - 1)
            await pipe.execute()

    async def delivered(self, hook: str) -> list[str]:
        ids = await self.client.zrange(self.keys.webhook_delivered(hook), 0, -1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
