"""Retry a call with exponential backoff until it succeeds: for state that must not be guessed."""

from __future__ import annotations

import asyncio
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
