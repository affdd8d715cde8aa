"""Calls to a dependency that may be away: retried until done, or held back after a failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

T = TypeVar("T")


async def until_done(call: Callable[[], Awaitable[T]], on_error: Callable[[BaseException, float], None],
                     cap_s: float, errors: tuple[type[BaseException], ...] = (RedisError,)) -> T:
    """`call()` again after each of `errors` (told to `on_error` with the next delay), waiting
    0.5 s, then twice as long each time up to `cap_s`."""
    delay = 0.5
    while True:
        try:
            return await call()
        except errors as exc:
            on_error(exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap_s)


class Breaker:
    """After a failure the dependency is not asked again for `pause_s`: while it is blackholed
    each call waits out the client's timeout, and a stage calling it per record would crawl at
    one record per timeout (the merge stage did, with Redis paused)."""

    def __init__(self, pause_s: float, clock: Callable[[], float] = time.monotonic):
        self.pause_s = pause_s
        self.clock = clock
        self._until = 0.0

    @property
    def tripped(self) -> bool:
        """True while calls are held back."""
        return self.clock() < self._until

    def trip(self) -> None:
        self._until = self.clock() + self.pause_s
