"""The producer buffer drains before a commit; a lost changelog record stops the worker."""

from __future__ import annotations

import asyncio
from typing import NoReturn

import pytest

from stream.io.changelog import ChangelogGuard, drain_before_commit


class Stopped(Exception):
    pass


def stop(reason: str) -> NoReturn:
    raise Stopped(reason)


async def test_flush_returns_only_when_the_buffer_is_empty() -> None:
    class Buffer:
        """Faust's flush_atmost gives up after 100 ms without a send; here after each message."""

        def __init__(self) -> None:
            self.size, self.calls = 5, 0

        async def flush_atmost(self, n: int | None) -> int:
            self.calls += 1
            self.size -= 1
            return 1

        async def flush(self) -> None:
            raise AssertionError("replaced")

    guard = ChangelogGuard(stop)
    state = guard.on_send_initiated(None, "app-units-changelog", None, 1, 1)
    drain_before_commit(guard, Buffer)  # type: ignore[arg-type]
    buffer = Buffer()
    flushing = asyncio.ensure_future(buffer.flush())
    await asyncio.sleep(0.05)
    assert buffer.size == 0 and buffer.calls == 5 and not flushing.done()  # a record still in flight
    guard.on_send_completed(None, state, None)
    await asyncio.wait_for(flushing, 1)


def test_changelog_failures_stop_the_worker_other_topics_do_not() -> None:
    guard = ChangelogGuard(stop)
    state = guard.on_send_initiated(None, "app-units-changelog", None, 1, 1)
    guard.on_send_error(None, RuntimeError("other"), guard.on_send_initiated(None, "agreement", None, 1, 1))
    with pytest.raises(Stopped, match="app-units-changelog"):
        guard.on_send_error(None, TimeoutError("request timed out"), state)
