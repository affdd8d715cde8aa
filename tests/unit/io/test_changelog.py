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

        async def _send_pending(self, fut: object) -> None:
            pass

    guard = ChangelogGuard(stop)
    state = guard.on_send_initiated(None, "app-units-changelog", None, 1, 1)
    drain_before_commit(guard, Buffer)  # type: ignore[arg-type]
    buffer = Buffer()
    flushing = asyncio.ensure_future(buffer.flush())
    await asyncio.sleep(0.05)
    assert buffer.size == 0 and buffer.calls == 5 and not flushing.done()  # a record still in flight
    guard.on_send_completed(None, state, None)
    await asyncio.wait_for(flushing, 1)


async def test_a_record_taken_off_the_buffer_holds_the_flush_until_the_producer_has_it() -> None:
    """Faust's buffer task takes a record off its queue, then awaits the producer before the send
    is initiated: the buffer is empty and nothing is in flight, yet the record is not sent."""
    guard = ChangelogGuard(stop)
    producer_ready = asyncio.Event()
    states: list[object] = []

    class Buffer:
        size = 0

        async def flush_atmost(self, n: int | None) -> int:
            return 0

        async def _send_pending(self, fut: object) -> None:
            await producer_ready.wait()
            states.append(guard.on_send_initiated(None, "app-units-changelog", None, 1, 1))

    drain_before_commit(guard, Buffer)  # type: ignore[arg-type]
    buffer = Buffer()
    sending = asyncio.ensure_future(buffer._send_pending(object()))
    await asyncio.sleep(0)
    flushing = asyncio.ensure_future(buffer.flush())  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    assert not flushing.done()  # taken off the queue: not yet the producer's
    producer_ready.set()
    await sending
    await asyncio.sleep(0.05)
    assert not flushing.done()  # in flight
    guard.on_send_completed(None, states[0], None)
    await asyncio.wait_for(flushing, 1)


def test_changelog_failures_stop_the_worker_other_topics_do_not() -> None:
    guard = ChangelogGuard(stop)
    state = guard.on_send_initiated(None, "app-units-changelog", None, 1, 1)
    guard.on_send_error(None, RuntimeError("other"), guard.on_send_initiated(None, "agreement", None, 1, 1))
    with pytest.raises(Stopped, match="app-units-changelog"):
        guard.on_send_error(None, TimeoutError("request timed out"), state)
