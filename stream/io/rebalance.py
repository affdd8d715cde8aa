"""After a rebalance, input partitions without a committed offset are read from their beginning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka as driver

from stream.io.outbox import Work

log = logging.getLogger(__name__)


def uncommitted(committed: Mapping[Any, int | None]) -> list[Any]:
    """Input partitions (not table changelogs) with nothing committed yet."""
    return [tp for tp, offset in committed.items()
            if (offset is None or offset <= 0) and not tp.topic.endswith("-changelog")]


def rewind_uncommitted(thread: Any = driver.AIOKafkaConsumerThread) -> None:
    """aiokafka's `seek_to_committed` leaves a partition with no committed offset (or offset 0)
    where the fetcher stood. A worker that read a partition without committing, lost it in a
    rebalance and got it back would resume past records nobody applied (measured: a SIGKILL test
    lost whole records of one partition). Seek those partitions to their beginning instead."""
    if getattr(thread, "_alphawatch_rewinds", False):
        return

    async def seek_to_committed(self: Any) -> Mapping[Any, int]:
        consumer = self._ensure_consumer()
        committed: Mapping[Any, int] = await self.call_thread(consumer.seek_to_committed)
        fresh = uncommitted(committed)
        if fresh:
            log.info("no committed offset for %s: reading from the beginning",
                     ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(fresh)))
            await self.call_thread(consumer.seek_to_beginning, *fresh)
        return committed

    thread.seek_to_committed = seek_to_committed
    thread._alphawatch_rewinds = True


def wait_for_work(work: Work, quiet_s: float = 2.0, consumer: Any = Consumer) -> None:
    """Replace Faust's `Consumer.wait_empty`, which a rebalance awaits before it commits.

    Faust waits until every message read is acked. A `take_events` buffer cleared by the
    rebalance's flow control leaves messages that nobody will ack, and the wait never ends (seen:
    a worker stuck in "Wait for streams" for minutes, holding the whole group in a rebalance).
    This waits while a batch is running or acks still come, then commits what is acked; the rest
    is not committed and the next owner reads it again."""
    async def wait_empty(self: Any) -> None:
        loop = asyncio.get_running_loop()
        last, quiet_since = len(self._unacked_messages), loop.time()
        while not self.should_stop and self._unacked_messages:
            await self.commit()
            if not self._unacked_messages:
                break
            await self._wait_for_ack(timeout=0.2)
            self._clean_unacked_messages()
            left = len(self._unacked_messages)
            if left < last or work.running:
                last, quiet_since = left, loop.time()
            elif loop.time() - quiet_since >= quiet_s:
                log.info("rebalance: %d message(s) read but never handled; not committed, read again", left)
                break
        await self.commit_and_end_transactions()

    consumer.wait_empty = wait_empty
