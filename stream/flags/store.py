"""Open flags and cooldowns in Redis, changed atomically so no two workers or restarts page twice."""

from __future__ import annotations

from typing import Any, Protocol

import redis.asyncio as aioredis

from stream.io.rediskeys import RedisKeys


class OpenFlags(Protocol):
    """What the flag agent needs from a store of open flags."""

    async def open_flag(self, key: str) -> str | None: ...
    async def try_open(self, key: str, flag_id: str, payload: str = "") -> bool: ...
    async def try_close(self, key: str, flag_id: str, payload: str = "", new_id: str = "") -> bool: ...
    async def all_open(self) -> dict[str, str]: ...
    async def pending(self) -> list[str]: ...
    async def delivered(self, flag_ids: list[str]) -> None: ...


# The state change and the flag it produces are one step: the flag waits in the pending hash
# until qa-flags acknowledged it, so a worker that dies in between sends it after the restart.
# KEYS: open, cooldown, pending; ARGV: flag id, flag JSON. Opens only when nothing is open and no
# cooldown runs.
_OPEN = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
return 1
"""
# KEYS: open, cooldown, pending; ARGV: open flag id, cooldown seconds, flag JSON, new flag id.
# Closes only the flag it names.
_CLOSE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], ARGV[3]) end
return 1
"""


class FlagStore:
    """Redis keys `<app_id>:flag:open:<dim|slice|window>` (value: flag id) and `...:cooldown:...`."""

    def __init__(self, client: Any, keys: RedisKeys, cooldown_s: int):
        self.client = client
        self.keys = keys
        self.cooldown_s = cooldown_s
        self._open = client.register_script(_OPEN)
        self._close = client.register_script(_CLOSE)

    @classmethod
    def from_url(cls, url: str, keys: RedisKeys, cooldown_s: int) -> FlagStore:
        return cls(aioredis.from_url(url, decode_responses=True), keys, cooldown_s)

    def _keys(self, key: str) -> list[str]:
        return [self.keys.flag_open(key), self.keys.flag_cooldown(key), self.keys.flags_pending]

    async def open_flag(self, key: str) -> str | None:
        value = await self.client.get(self._keys(key)[0])
        return str(value) if value is not None else None

    async def try_open(self, key: str, flag_id: str, payload: str = "") -> bool:
        return bool(await self._open(keys=self._keys(key), args=[flag_id, payload]))

    async def try_close(self, key: str, flag_id: str, payload: str = "", new_id: str = "") -> bool:
        return bool(await self._close(keys=self._keys(key), args=[flag_id, self.cooldown_s, payload, new_id]))

    async def pending(self) -> list[str]:
        """Flags whose state changed but whose delivery was not confirmed, oldest id first."""
        raw = await self.client.hgetall(self.keys.flags_pending)
        return [str(raw[k]) for k in sorted(raw)]

    async def delivered(self, flag_ids: list[str]) -> None:
        if flag_ids:
            await self.client.hdel(self.keys.flags_pending, *flag_ids)

    async def all_open(self) -> dict[str, str]:
        out = {}
        async for name in self.client.scan_iter(match=self.keys.flag_open_pattern):
            value = await self.client.get(name)
            if value is not None:
                out[self.keys.flag_key_of(str(name))] = str(value)
        return out


class MemoryFlagStore:
    """FlagStore's operations on a dict, for offline replays and tests: one process, no cooldown
    (so a replay counts every raise the policy makes)."""

    def __init__(self) -> None:
        self.flags: dict[str, str] = {}
        self.unconfirmed: dict[str, str] = {}

    async def open_flag(self, key: str) -> str | None:
        return self.flags.get(key)

    async def try_open(self, key: str, flag_id: str, payload: str = "") -> bool:
        if self.flags.setdefault(key, flag_id) != flag_id:
            return False
        if payload:
            self.unconfirmed[flag_id] = payload
        return True

    async def try_close(self, key: str, flag_id: str, payload: str = "", new_id: str = "") -> bool:
        if self.flags.get(key) != flag_id:
            return False
        del self.flags[key]
        if payload:
            self.unconfirmed[new_id] = payload
        return True

    async def pending(self) -> list[str]:
        return [self.unconfirmed[k] for k in sorted(self.unconfirmed)]

    async def delivered(self, flag_ids: list[str]) -> None:
        for flag_id in flag_ids:
            self.unconfirmed.pop(flag_id, None)

    async def all_open(self) -> dict[str, str]:
        return dict(self.flags)
