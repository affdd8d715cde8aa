"""Which partitions a rebalance reads from their beginning."""

from __future__ import annotations

from faust.types import TP

from stream.io.rebalance import uncommitted


def test_input_partitions_without_a_commit_are_rewound_changelogs_are_not() -> None:
    committed = {TP("valid", 0): 120, TP("valid", 1): None, TP("valid", 2): 0, TP("valid", 3): -1,
                 TP("app-units-changelog", 0): None}
    assert sorted(uncommitted(committed)) == [TP("valid", 1), TP("valid", 2), TP("valid", 3)]


async def test_a_rebalance_waits_for_running_batches_not_for_dropped_messages() -> None:
    import asyncio

    from stream.io.outbox import Work
    from stream.io.rebalance import wait_for_work

    class Consumer:
        should_stop = False

        def __init__(self) -> None:
            self._unacked_messages = {"dropped-by-the-take-buffer"}
            self.commits = 0

        async def commit(self) -> None:
            self.commits += 1

        async def _wait_for_ack(self, timeout: float) -> None:
            await asyncio.sleep(0.01)

        def _clean_unacked_messages(self) -> None:
            pass

        async def commit_and_end_transactions(self) -> None:
            self.commits += 1

    work = Work()
    wait_for_work(work, quiet_s=0.1, consumer=Consumer)
    consumer = Consumer()
    work.running = 1  # a batch still running: keep waiting
    waiting = asyncio.ensure_future(consumer.wait_empty())  # type: ignore[attr-defined]
    await asyncio.sleep(0.3)
    assert not waiting.done()
    work.running = 0  # nothing running, nothing acked any more: commit what is acked and go on
    await asyncio.wait_for(waiting, 2)
    assert consumer.commits >= 2


class _Acks:
    """The consumer side of Faust's ack: what would be committed."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: object) -> bool:
        self.acked.append(message.offset)  # type: ignore[attr-defined]
        return True


class _Event:
    def __init__(self, offset: int, generation: int | None, consumer: _Acks) -> None:
        from faust.types.tuples import ConsumerMessage

        self.message = ConsumerMessage("valid", 0, offset, 0.0, 0, [], None, b"{}", None,
                                       0, 2, TP("valid", 0), generation_id=generation)
        self.consumer = consumer

    def ack(self) -> bool:
        return bool(self.message.ack(self.consumer))  # type: ignore[arg-type]


async def test_events_read_before_a_rebalance_are_neither_handled_nor_acked() -> None:
    """A take buffer filled in generation 4 and yielded in generation 5: only generation 5's
    events are handled, and only they are acked (so committed); the rest is the owner's."""
    from types import SimpleNamespace

    from stream.io.rebalance import batches

    consumer = _Acks()
    app = SimpleNamespace(consumer_generation_id=5)
    buffered = [[_Event(10, 4, consumer), _Event(11, 5, consumer), _Event(12, None, consumer)],
                [_Event(13, 4, consumer)]]

    class Stream:
        def __init__(self) -> None:
            self.app = app

        async def take_events(self, max_: int, within: float):  # type: ignore[no-untyped-def]
            for events in buffered:  # as Faust does: the whole batch acked once the next is asked for
                try:
                    yield events
                finally:
                    for event in events:
                        event.ack()

    dropped: list[int] = []
    handled = [[e.message.offset for e in batch]
               async for batch in batches(Stream(), 100, 0.1, dropped.append)]
    assert handled == [[11, 12]]  # the all-stale batch is not yielded at all
    assert dropped == [1, 1]
    assert consumer.acked == [11, 12]



class _Consumer:
    """What `seek_with_partitions_paused` touches of Faust's consumer: an active set, a seek, a
    fetch whose records are handed out after the seek started."""

    def __init__(self) -> None:
        self.active = {TP("valid", 0), TP("valid", 1), TP("app-units-changelog", 0)}
        self.active_during_seek = set[TP]()
        self.pending: list[tuple[TP, int]] = []

    def assignment(self) -> set[TP]:
        return {TP("valid", 0), TP("valid", 1), TP("app-units-changelog", 0)}

    def _get_active_partitions(self) -> set[TP]:
        return self.active

    def _is_changelog_tp(self, tp: TP) -> bool:
        return tp.topic.endswith("-changelog")

    def pause_partitions(self, tps: set[TP]) -> None:
        self.active -= tps

    def resume_partitions(self, tps: set[TP]) -> None:
        self.active |= tps

    async def perform_seek(self) -> None:
        self.active_during_seek = set(self.active)

    async def _getmany(self, active_partitions: object, timeout: float) -> list[tuple[TP, int]]:
        return list(self.pending)

    async def getmany(self, timeout: float):  # type: ignore[no-untyped-def]
        for tp, offset in await self._getmany(None, timeout):
            if offset == 5:  # a rebalance's seek runs while this fetch's records are handed out
                await self.perform_seek()
            yield tp, offset


async def test_a_seek_pauses_its_partitions_and_drops_what_was_fetched_before_it() -> None:
    from stream.io.rebalance import seek_with_partitions_paused

    class Patched(_Consumer):
        pass

    seek_with_partitions_paused(Patched, Patched)
    consumer = Patched()
    consumer.pending = [(TP("valid", 0), 4), (TP("valid", 0), 5), (TP("valid", 0), 6),
                        (TP("app-units-changelog", 0), 9)]
    got = [item async for item in consumer.getmany(1.0)]
    # 4 was handed out before the seek; 5 and 6 came from the fetch sent before it: stale (the seek
    # moved the position back, they are read again); the changelog was not sought
    assert got == [(TP("valid", 0), 4), (TP("app-units-changelog", 0), 9)]
    assert consumer.active_during_seek == {TP("app-units-changelog", 0)}
    assert consumer.active == consumer.assignment()  # resumed
    consumer.pending = [(TP("valid", 0), 4), (TP("valid", 0), 6)]  # a fetch sent after the seek
    assert [o async for _, o in consumer.getmany(1.0)] == [4, 6]
