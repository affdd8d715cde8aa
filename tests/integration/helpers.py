"""Integration helpers: worker processes, topic readers and deadline-based waits."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream.io.kafka import read_to_end
from stream.ops.worker import Worker as Process
from stream.ops.worker import metric

__all__ = ["Worker", "alive", "metric", "read_topic", "unique", "wait_until", "worker_env"]


@dataclass
class Worker(Process):
    """A test's worker, restarted (up to 3 times) after exit code 70 as its supervisor would: the
    embedded broker sometimes leaves a produce unanswered past the request timeout (seen: 90 s),
    and a worker that stops there loses nothing, which the tests then check across the restart."""

    restarts: int = 3


def alive(worker: Worker) -> bool:
    """True while the worker runs, for a wait whose condition reads Redis or a topic only: it
    restarts the worker after exit 70 as its supervisor would (seen in a full run: the embedded
    broker's 90 s produce stall stopped a worker, and a wait on Redis alone then ran into pytest's
    timeout on a dead worker); raises if it stopped for good."""
    worker.check_running()
    return True


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.25,
               detail: Callable[[], str] | None = None) -> Any:
    """Poll `condition` until it returns something truthy, or fail naming `what` (and `detail()`,
    what the system did instead: CI keeps only pytest's output, not the worker logs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                         + (f"; {detail()}" if detail is not None else ""))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def worker_env(kafka_url: str, redis_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a worker isolated by app id and topic prefix (unique per test)."""
    app_id = unique("aw")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWATCH_")}
    env.update({
        "ALPHAWATCH_APP_ID": app_id, "ALPHAWATCH_TOPIC_PREFIX": f"{app_id}.",
        "ALPHAWATCH_BROKER_URL": kafka_url, "ALPHAWATCH_REDIS_URL": redis_url,
        "ALPHAWATCH_DATA_DIR": str(tmp / "data"), "ALPHAWATCH_LOG_LEVEL": "info",
        "ALPHAWATCH_REBALANCE_TIMEOUT_S": "3", "ALPHAWATCH_SESSION_TIMEOUT_S": "10",
        # the embedded Tansu once stalled 25 s and then answered NotLeaderForPartition: with the
        # default 30 s the producer gave up on a changelog record and the worker stopped (by
        # design); a longer window lets it retry. test_faults sets its own to time the cut link.
        "ALPHAWATCH_PRODUCER_REQUEST_TIMEOUT_S": "90",
    })
    env.update(extra)
    return env


def read_topic(broker: str, topic: str, timeout: float = 30.0) -> list[Any]:
    """Every message currently in `topic` (gives up with what it read after `timeout`)."""
    return asyncio.run(read_to_end(broker, topic, timeout_s=timeout))


def pid_alive(pid: int) -> bool:
    """The process runs (a zombie has exited; its parent, init after a reparenting, reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
