"""Table changelogs on the broker before a commit: the producer buffer drained, a lost changelog fatal."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.sensors import Sensor
from faust.transport.producer import ProducerBuffer

from stream.io.outbox import Fatal


def drain_before_commit(guard: ChangelogGuard, buffer: type[ProducerBuffer] = ProducerBuffer) -> None:
    """Make `ProducerBuffer.flush` return only once the buffer is empty and every changelog record
    handed to the producer has its answer.

    Faust's commit flushes the producer before committing offsets, but the buffer's flush is
    `flush_atmost(None)`, which returns after 100 ms without a send: with a slow broker, table
    writes still in the buffer would not be covered by the commit that follows. A failed record
    stops the worker (the guard) before the flush returns, so no commit can follow it.

    A record the buffer's task has taken off its queue is counted until the producer has it:
    between the two the buffer is empty and nothing is in flight yet (publish awaits the
    producer first), and a flush returning there let a commit cover a table write that a SIGKILL
    then lost (seen: units and batch units missing after the kill tests' restarts)."""
    original = getattr(buffer, "_alphawatch_send_pending", buffer._send_pending)

    async def send_pending(self: ProducerBuffer, fut: Any) -> None:
        guard.handing += 1
        try:
            await original(self, fut)
        finally:
            guard.handing -= 1

    async def flush(self: ProducerBuffer) -> None:
        deadline = asyncio.get_running_loop().time() + guard.settle_s
        while self.size or guard.in_flight or guard.handing:
            if asyncio.get_running_loop().time() > deadline:
                guard.fatal(f"{self.size + guard.in_flight} changelog record(s) unanswered "
                            f"after {guard.settle_s:.0f}s")
            if self.size:
                await self.flush_atmost(None)
            else:
                await asyncio.sleep(0.005)

    buffer._alphawatch_send_pending = original  # type: ignore[attr-defined]
    buffer._send_pending = send_pending  # type: ignore[method-assign]
    buffer.flush = flush  # type: ignore[method-assign]


class ChangelogGuard(Sensor):
    """Counts changelog records in flight and stops the worker when one failed after the
    producer's retries: Faust only logs it and commits, so the table would recover without it."""

    def __init__(self, fatal: Fatal, settle_s: float = 120.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fatal, self.settle_s = fatal, settle_s  # longest a flush waits for answers
        self.in_flight = 0
        self.handing = 0  # records taken off the producer buffer, not yet handed to the producer

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int,
                          valsize: int) -> Any:
        changelog = topic.endswith("-changelog")
        self.in_flight += changelog
        return changelog and topic

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        if state:
            self.in_flight -= 1

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        if state:
            self.in_flight -= 1
            self.fatal(f"changelog record to {state} not delivered: {exc!r}")


def guard_changelogs(app: Any, fatal: Fatal, settle_s: float) -> None:
    """The guard and the draining flush, on one app (create_app calls this once per app)."""
    guard = ChangelogGuard(fatal, settle_s)
    drain_before_commit(guard)
    app.sensors.add(guard)
