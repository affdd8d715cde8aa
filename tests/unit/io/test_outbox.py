"""Outbox and guarded: delivered before acked, resends, and a stop instead of a lost batch."""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

import pytest

from stream.io.outbox import Outbox, Work, guarded


class Stopped(Exception):
    pass


def stop(reason: str) -> NoReturn:
    raise Stopped(reason)


class Topic:
    """A topic whose first `failures` sends fail delivery; records every send."""

    def __init__(self, failures: int = 0):
        self.failures, self.sends = failures, []

    def get_topic_name(self) -> str:
        return "out"

    async def send(self, **kwargs: Any) -> asyncio.Future[Any]:
        self.sends.append(kwargs)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            future.set_exception(ConnectionError("leader not available"))
        else:
            future.set_result(len(self.sends))
        return future


async def test_flush_waits_for_every_send_and_empties() -> None:
    topic, outbox = Topic(), Outbox(stop, backoff_s=0)
    for i in range(3):
        await outbox.send(topic, key=b"k", value=str(i).encode())
    assert len(outbox) == 3
    await outbox.flush()
    assert len(outbox) == 0 and [s["value"] for s in topic.sends] == [b"0", b"1", b"2"]


async def test_a_failed_delivery_is_resent() -> None:
    topic, outbox = Topic(failures=2), Outbox(stop, resends=3, backoff_s=0)
    await outbox.send(topic, value=b"a")
    await outbox.flush()
    assert [s["value"] for s in topic.sends] == [b"a", b"a", b"a"]


async def test_a_delivery_that_keeps_failing_stops_the_worker() -> None:
    topic, outbox = Topic(failures=10), Outbox(stop, resends=2, backoff_s=0)
    await outbox.send(topic, value=b"a")
    with pytest.raises(Stopped, match=r"1 message\(s\) to out not delivered after 2 resends"):
        await outbox.flush()
    assert len(topic.sends) == 3


async def test_guarded_stops_instead_of_letting_an_exception_escape() -> None:
    work = Work()
    with pytest.raises(Stopped, match="units: KeyError"):
        async with guarded(stop, "units", work):
            assert work.running == 1
            raise KeyError("x")
    assert work.running == 0


async def test_guarded_stops_when_cancelled_mid_batch() -> None:
    async def batch() -> None:
        async with guarded(stop, "merge"):
            await asyncio.sleep(10)

    task = asyncio.ensure_future(batch())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(Stopped, match="stopped in the middle of a batch"):
        await task
