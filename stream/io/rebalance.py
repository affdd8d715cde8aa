"""After a rebalance, input partitions without a committed offset are read from their beginning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.transport.drivers import aiokafka as driver

from stream.io.outbox import Work

log = logging.getLogger(__name__)


def current(app: Any, batch: list[Any]) -> list[Any]:
    """The batch's events fetched in the consumer's current generation.

    Faust skips an event of an earlier generation when the stream yields it, but a `take_events`
    buffer filled before a rebalance is yielded after it. Its partitions may now be another
    worker's (handling them would rebuild state from this worker's stale table copy and send it
    over the owner's changelog and partials); the rebalance's recovery seeks every assigned
    partition back to its committed offset, so this worker reads its own ones again. The others
    are marked acked so Faust neither acks nor commits them. (Not `app.rebalancing`: that stays
    set after the seek, while events of the new generation already arrive.)"""
    generation = app.consumer_generation_id
    # generation None: a message that did not come from a consumer (Faust's test_context)
    keep = [e for e in batch if e.message.generation_id in (None, generation)]
    for event in batch:
        if event.message.generation_id not in (None, generation):
            event.message.acked = True
    return keep


async def batches(stream: Any, max_events: int, within: float,
                  dropped: Callable[[int], None]) -> AsyncIterator[list[Any]]:
    """`stream.take_events` without the events read before the latest rebalance (`current`);
    `dropped` is told how many were left out. Faust acks a batch when the next one is asked for."""
    async for batch in stream.take_events(max_events, within=within):
        events = current(stream.app, batch)
        if len(events) < len(batch):
            log.info("%d event(s) read before a rebalance left to their partition's owner",
                     len(batch) - len(events))
            dropped(len(batch) - len(events))
        if events:
            yield events


def uncommitted(committed: Mapping[Any, int | None]) -> list[Any]:
    """Input partitions (not table changelogs) with nothing committed yet."""
    return [tp for tp, offset in committed.items()
            if (offset is None or offset <= 0) and not tp.topic.endswith("-changelog")]


class Seeks:
    """When each partition was last sought (a counter), and the fetch in flight: a record fetched
    before its partition's latest seek is stale, the seek moved the position back to it."""

    def __init__(self) -> None:
        self.epoch = 0
        self.at: dict[tuple[str, int], int] = {}
        self.fetch_started = 0  # epoch at which the latest fetch was sent
        self.fetching = 0  # fetches in flight

    def mark(self, tps: Iterable[Any]) -> None:
        self.epoch += 1
        for tp in tps:
            self.at[(tp.topic, tp.partition)] = self.epoch

    def stale(self, tp: Any) -> bool:
        """Was `tp` sought after the latest fetch was sent?"""
        return self.at.get((tp.topic, tp.partition), 0) > self.fetch_started

    async def settled(self, timeout_s: float = 10.0) -> None:
        """Wait (bounded) until no fetch is in flight."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.fetching and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)


def _seeks(consumer: Any) -> Seeks:
    """The consumer's own record of seeks and fetches (one per Faust consumer)."""
    seeks: Seeks | None = getattr(consumer, "_alphawatch_seeks", None)
    if seeks is None:
        seeks = consumer._alphawatch_seeks = Seeks()
    return seeks


def seek_with_partitions_paused(consumer: Any = Consumer, delegate: Any = ThreadDelegateConsumer) -> None:
    """Seek stream partitions only while they are paused, and never deliver what was fetched before.

    After a rebalance Faust resumes the stream partitions, then seeks them to their committed
    offsets: records fetched from the old positions in between were still handed out, set Faust's
    read offset past the committed one, and the records fetched again after the seek were then
    dropped as already read ("DROPPED MESSAGE ROFF") although the first copies never reached an
    agent (measured: a restarted worker skipped `valid` offsets 2-10, the batch stage lost every
    answer in them, and later acks committed past them). Here the seek pauses the partitions,
    waits out the fetch in flight, marks them, seeks, and resumes them."""
    if getattr(consumer, "_alphawatch_paused_seek", False):
        return
    original_seek, original_getmany = consumer.perform_seek, consumer.getmany
    original_fetch = delegate._getmany

    async def perform_seek(self: Any) -> None:
        sought = {tp for tp in self.assignment() if not self._is_changelog_tp(tp)}
        active = sought & set(self._get_active_partitions())
        seeks = _seeks(self)
        self.pause_partitions(active)  # a fetch sent from now on leaves them out
        try:
            await seeks.settled()
            seeks.mark(sought)  # what the fetches sent before hold of them is stale
            await original_seek(self)
        finally:
            self.resume_partitions(active)

    async def fetch(self: Any, active_partitions: Any, timeout: float) -> Any:
        seeks = _seeks(self)
        seeks.fetching += 1
        seeks.fetch_started = seeks.epoch
        try:
            return await original_fetch(self, active_partitions, timeout)
        finally:
            seeks.fetching -= 1

    async def getmany(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        stale, seeks = 0, _seeks(self)
        async for tp, message in original_getmany(self, timeout):
            if seeks.stale(tp):
                stale += 1
                continue
            yield tp, message
        if stale:
            log.info("%d record(s) fetched before a seek left out (read again from the new position)", stale)

    consumer.perform_seek, consumer.getmany, delegate._getmany = perform_seek, getmany, fetch
    consumer._alphawatch_paused_seek = True


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
            for tp in fresh:  # the reset is asynchronous: until it is done, fetches use the old position
                await self.call_thread(consumer.position, tp)
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
