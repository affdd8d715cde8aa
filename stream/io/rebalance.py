"""After a rebalance, input partitions without a committed offset are read from their beginning."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import aiokafka as driver

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
