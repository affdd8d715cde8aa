"""Processes end when they should: children die with a killed parent, a worker's stop is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.io.kafka import bootstrap_servers, load_and_tail
from stream.ops.bounded import EXIT_STOP_TIMEOUT
from stream.ops.embedded import free_port, start_tansu
from stream.ops.procs import die_with_parent
from stream.settings import Settings
from tests.integration.helpers import Worker, pid_alive, unique, wait_until, worker_env

pytestmark = pytest.mark.integration


def test_children_die_when_their_parent_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed test runner, bench or demo leaves no broker, Redis or worker behind."""
    script = textwrap.dedent("""
        import subprocess, sys, time
        from stream.ops.procs import die_with_parent
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                                 preexec_fn=die_with_parent)
        print(child.pid, flush=True)
        time.sleep(300)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              preexec_fn=die_with_parent)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert pid_alive(child)
        parent.kill()
        parent.wait()
        wait_until(lambda: not pid_alive(child), 10, "the child to die with its parent")
    finally:
        parent.kill()
        parent.wait()


def test_a_worker_whose_broker_is_gone_stops_within_the_timeout(redis_url: str, tmp_path: Path) -> None:
    kafka = start_tansu()
    try:
        env = worker_env(kafka.url, redis_url, tmp_path, ALPHAWATCH_SHUTDOWN_TIMEOUT_S="5")
        worker = Worker(env, tmp_path / "worker.log").start()
        try:
            wait_until(worker.ready, 120, "worker to join its group")
        except BaseException:
            worker.kill()
            raise
    finally:
        kafka.stop()  # the broker goes away under the running worker
    assert worker.proc is not None
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    try:
        code = worker.proc.wait(timeout=30)
    finally:
        worker.kill()
    assert time.monotonic() - started < 20
    assert code in (0, EXIT_STOP_TIMEOUT), worker.log.read_text()[-2000:]


async def test_a_tail_whose_broker_does_not_answer_keeps_trying_and_then_loads(tmp_path: Path) -> None:
    """A tail started while the broker is away waits for it instead of crashing the worker (seen:
    the gold key's tail raised "Unable to bootstrap" and took the worker down with exit code 1)."""
    port = free_port()
    settings = Settings(broker_url=f"kafka://127.0.0.1:{port}", app_id=unique("aw"))
    ready = asyncio.Event()
    task = asyncio.create_task(load_and_tail(settings, settings.topic("gold-items"),
                                             lambda k, v: None, ready))
    try:
        with pytest.raises(TimeoutError):  # several failed starts within the deadline, no raise
            await asyncio.wait_for(asyncio.shield(task), 3)
        assert not task.done()
        kafka = start_tansu(port=port)
        try:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(kafka.url))
            await admin.start()
            try:
                await admin.create_topics([NewTopic(settings.topic("gold-items"), 2, 1)])
            finally:
                await admin.close()
            await asyncio.wait_for(ready.wait(), 60)
        finally:
            kafka.stop()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class _SlowStarter(Worker):
    """A stand-in worker: the first process exits 70 at once, the restart listens after 1.5 s."""

    def start(self) -> _SlowStarter:
        code = ("import sys; sys.exit(70)" if self.restarted == 0 else
                f"import socket, time; time.sleep(1.5); s = socket.socket(); "
                f"s.bind(('127.0.0.1', {self.port})); s.listen(); time.sleep(60)")
        self.proc = subprocess.Popen([sys.executable, "-c", code], preexec_fn=die_with_parent)
        return self


def test_a_restarted_worker_is_asked_nothing_before_it_listens(tmp_path: Path) -> None:
    """After an exit 70 the restart is awaited up to its web port, so a metrics read right after
    it does not meet a refused connection (seen: the batches fixture failed that way)."""
    worker = _SlowStarter({}, tmp_path / "w.log", restarts=1).start()
    try:
        assert worker.proc is not None
        worker.proc.wait(10)
        worker.check_running()  # restarts it and returns once it listens
        assert worker.restarted == 1
        with socket.create_connection(("127.0.0.1", worker.port), timeout=1):
            pass
    finally:
        assert worker.proc is not None
        worker.proc.kill()
        worker.proc.wait(10)
