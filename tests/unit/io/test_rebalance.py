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
