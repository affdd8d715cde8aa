"""Annotator qualification in Redis: atomic writes and the platform's reader."""

from __future__ import annotations

import time
from typing import Any

import orjson

from stream.io.rediskeys import RedisKeys
from stream.qualification.rules import STATES

# KEYS: the annotator's hash, the set of its new state, the two other state sets.
# ARGV: annotator id, seq, then field/value pairs (state among them). A write older than the one
# stored (lower seq: a worker that lost the annotator during a rebalance) changes nothing.
_APPLY = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if tonumber(ARGV[2]) < stored then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
return 1
"""
_JSON_FIELDS = ("gold", "peer", "gold_rate")


class AnnotatorStore:
    """HASH `<app_id>:annotator:<id>` and SETs `<app_id>:annotators:<state>` (docs/qualification.md)."""

    def __init__(self, client: Any, keys: RedisKeys):
        self.client = client
        self.keys = keys
        self._apply = client.register_script(_APPLY)

    def hash_key(self, annotator_id: str) -> str:
        return self.keys.annotator(annotator_id)

    def set_key(self, state: str) -> str:
        return self.keys.annotators(state)

    def _keys(self, annotator_id: str, state: str) -> list[str]:
        others = [self.set_key(s) for s in STATES if s != state]
        return [self.hash_key(annotator_id), self.set_key(state), *others]

    async def apply(self, annotator_id: str, seq: int, fields: dict[str, str], pipe: Any = None) -> Any:
        """Hash fields and set membership in one atomic step; with `pipe`, queued on it."""
        args: list[Any] = [annotator_id, seq]
        for name, value in fields.items():
            args += [name, value]
        keys = self._keys(annotator_id, fields["state"])
        if pipe is not None:
            return await self._apply(keys=keys, args=args, client=pipe)
        return await self._apply(keys=keys, args=args)

    async def forget(self, annotator_id: str) -> None:
        """The annotator's hash and set memberships, gone in one transaction."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.hash_key(annotator_id))
            for state in STATES:
                pipe.srem(self.set_key(state), annotator_id)
            await pipe.execute()

    async def get(self, annotator_id: str) -> dict[str, Any] | None:
        raw = await self.client.hgetall(self.hash_key(annotator_id))
        if not raw:
            return None
        out: dict[str, Any] = {"annotator_id": annotator_id, **raw}
        for name in _JSON_FIELDS:
            if name in out:
                out[name] = orjson.loads(out[name])
        return out

    async def members(self, state: str) -> list[str]:
        return sorted(await self.client.smembers(self.set_key(state)))

    async def counts(self) -> dict[str, int]:
        return {s: int(await self.client.scard(self.set_key(s))) for s in STATES}


class StatusReader:
    """For the annotation platform and other stages: an annotator's state, cached for `ttl_s`.
    An annotator Redis has never seen is 'qualifying' (new, not in the production pool)."""

    def __init__(self, client: Any, keys: RedisKeys, ttl_s: float = 1.0):
        self.client = client
        self.keys = keys
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str]] = {}

    async def state(self, annotator_id: str) -> str:
        now = time.monotonic()
        hit = self._cache.get(annotator_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        value = await self.client.hget(self.keys.annotator(annotator_id), "state")
        state = value.decode() if isinstance(value, bytes) else (value or "qualifying")
        if len(self._cache) > 100_000:  # bounded: a reader may see many annotators over time
            self._cache.clear()
        self._cache[annotator_id] = (now, state)
        return state
