"""Shared by the bench scripts: embedded services, worker processes, metrics polling."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from stream.ops.embedded import free_port
from stream.ops.worker import Worker


def stop_on_sigterm() -> None:
    """SIGTERM (timeout, kill) ends the script through its `finally` blocks, which stop the
    workers, Tansu and redis-server it started; by default it would leave them running."""
    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def counter(port: int, pattern: str) -> float:
    """Sum of the metric samples matching `pattern` (one capture group: the value)."""
    with contextlib.suppress(Exception), urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        return sum(float(x) for x in re.findall(pattern, resp.read().decode(), re.M))
    return 0.0


APPLIED = r'^alphawatch_unit_events_total\{[^}]*outcome="applied"[^}]*\} (\S+)$'


def start_worker(broker: str, tmp: str, ready_timeout: float = 120.0,
                 **settings: str) -> tuple[subprocess.Popen[bytes], int, str]:
    """A worker with its own app id and topic prefix unless `settings` name them (a restart, a
    second pool of the same app); returns (process, web port, topic prefix)."""
    app_id = settings.pop("app_id", f"bench-{uuid.uuid4().hex[:6]}")
    prefix = settings.pop("topic_prefix", f"{app_id}.")
    port = int(settings.pop("web_port", free_port()))
    env = {**os.environ, "ALPHAWATCH_BROKER_URL": broker, "ALPHAWATCH_APP_ID": app_id,
           "ALPHAWATCH_TOPIC_PREFIX": prefix,
           "ALPHAWATCH_DATA_DIR": f"{tmp}/{app_id}-{port}", "ALPHAWATCH_REBALANCE_TIMEOUT_S": "2",
           **{f"ALPHAWATCH_{k.upper()}": v for k, v in settings.items()}}
    worker = Worker(env, Path(f"{tmp}/{app_id}-{port}.log"), port).start()
    try:
        worker.wait_ready(ready_timeout)
    except BaseException:  # not ready, or the script was stopped meanwhile: leave no worker behind
        worker.kill()
        raise
    assert worker.proc is not None
    return worker.proc, port, prefix


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for(port: int, pattern: str, n: float, timeout: float) -> float:
    """Poll until the metric reaches n; returns the seconds it took."""
    started = time.monotonic()
    while counter(port, pattern) < n:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"only {counter(port, pattern)} of {n} after {timeout:.0f}s")
        time.sleep(0.2)
    return time.monotonic() - started
