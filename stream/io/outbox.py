"""Acknowledged sends: outputs delivered before their batch is acked; a lost delivery stops the worker."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

log = logging.getLogger(__name__)

# EX_SOFTWARE: what a supervisor sees when a worker stopped rather than commit undelivered work
EXIT_UNDELIVERED = 70

Fatal = Callable[[str], NoReturn]


def hard_stop(reason: str) -> NoReturn:
    """Exit at once, without Faust's graceful stop: that stop commits the acked offsets, and a
    batch whose outputs were not delivered must be read again after the restart."""
    log.critical("stopping without committing: %s", reason)
    logging.shutdown()
    sys.stderr.flush()
    os._exit(EXIT_UNDELIVERED)


@dataclass
class _Sent:
    topic: Any
    kwargs: dict[str, Any]
    future: Awaitable[Any]


class Outbox:
    """Sends to Faust topics whose futures are kept, then awaited together by `flush`.

    Faust only logs a send that failed after the producer's retries and commits the input anyway
    (topics.py `_on_published`, consumer.py `_commit_offsets`); awaiting each future here is what
    turns "sent" into "on the broker"."""

    def __init__(self, fatal: Fatal, resends: int = 3, backoff_s: float = 0.5):
        self.fatal, self.resends, self.backoff_s = fatal, resends, backoff_s
        self._sent: list[_Sent] = []

    def __len__(self) -> int:
        return len(self._sent)

    async def send(self, topic: Any, **kwargs: Any) -> None:
        """Hand one message to the producer (not awaited: the batch's sends travel together)."""
        self._sent.append(_Sent(topic, kwargs, await topic.send(**kwargs)))

    async def flush(self) -> None:
        """Return once every message sent since the last flush is acknowledged by the broker;
        resend the failed ones a few times, then stop the worker without committing."""
        pending, self._sent = self._sent, []
        for attempt in range(self.resends + 1):
            failed = await _failures(pending)
            if not failed:
                return
            sent, error = failed[0]
            if attempt == self.resends:
                self.fatal(f"{len(failed)} message(s) to {sent.topic.get_topic_name()} not delivered "
                           f"after {self.resends} resends: {error!r}")
            log.warning("%d message(s) not delivered (%r); resending", len(failed), error)
            await asyncio.sleep(self.backoff_s * 2**attempt)
            pending = [_Sent(s.topic, s.kwargs, await s.topic.send(**s.kwargs)) for s, _ in failed]


async def _failures(pending: list[_Sent]) -> list[tuple[_Sent, BaseException]]:
    results = await asyncio.gather(*(s.future for s in pending), return_exceptions=True)
    return [(s, r) for s, r in zip(pending, results, strict=True)
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]


class Work:
    """Counts the batches in progress, so a rebalance can wait for them (and only them)."""

    def __init__(self) -> None:
        self.running = 0


@asynccontextmanager
async def guarded(fatal: Fatal, stage: str, work: Work | None = None) -> AsyncIterator[None]:
    """Run one batch; any exception stops the worker instead of escaping.

    Faust acks a `take_events` batch in a `finally`, also when its body raises or is cancelled, and
    the next commit would then skip its inputs. Bad input is dead-lettered before it gets here,
    so an exception is a bug or a lost dependency: stop, restart, read the batch again."""
    if work is not None:
        work.running += 1
    try:
        yield
    except asyncio.CancelledError:
        fatal(f"{stage}: stopped in the middle of a batch")
    except Exception as exc:
        log.exception("%s: batch failed", stage)
        fatal(f"{stage}: {exc!r}")
    finally:
        if work is not None:
            work.running -= 1
