"""Table changelogs on the broker before a commit: the producer buffer drained, a lost changelog fatal."""

from __future__ import annotations

from typing import Any

from faust.sensors import Sensor
from faust.transport.producer import ProducerBuffer

from stream.io.outbox import Fatal


def drain_before_commit(buffer: type[ProducerBuffer] = ProducerBuffer) -> None:
    """Make `ProducerBuffer.flush` return only once the buffer is empty.

    Faust's commit flushes the producer before committing offsets, but the buffer's flush is
    `flush_atmost(None)`, which returns after 100 ms without a send: with a slow broker, table
    writes still in the buffer would not be covered by the commit that follows."""
    if getattr(buffer, "_alphawatch_drains", False):
        return

    async def flush(self: ProducerBuffer) -> None:
        while self.size:
            await self.flush_atmost(None)

    buffer.flush = flush  # type: ignore[method-assign]
    buffer._alphawatch_drains = True  # type: ignore[attr-defined]


class ChangelogGuard(Sensor):
    """Stops the worker when a changelog record failed after the producer's retries: Faust only
    logs it and commits, so the table would recover without that write."""

    def __init__(self, fatal: Fatal, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fatal = fatal

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int,
                          valsize: int) -> Any:
        return topic

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        if isinstance(state, str) and state.endswith("-changelog"):
            self.fatal(f"changelog record to {state} not delivered: {exc!r}")


def guard_changelogs(app: Any, fatal: Fatal) -> None:
    """Both guards on one app (create_app calls this once per app)."""
    drain_before_commit()
    app.sensors.add(ChangelogGuard(fatal))
