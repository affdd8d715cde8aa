"""One launcher of `alphawatch worker` processes, shared by the demo, the tests and the benches."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from stream.io.outbox import EXIT_UNDELIVERED
from stream.ops.embedded import free_port
from stream.ops.procs import die_with_parent


@dataclass
class Worker:
    """One worker process with its own web port; its output goes to `log`. `new_session` keeps a
    terminal's Ctrl-C away from it, so its owner stops it in order (the demo)."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    new_session: bool = False
    proc: subprocess.Popen[bytes] | None = None
    # restarts after exit code 70 (a delivery failed, nothing committed), as a supervisor would:
    # the embedded broker sometimes leaves a produce unanswered for longer than the request timeout
    restarts: int = 0
    restarted: int = 0

    def start(self) -> Worker:
        env = {**self.env, "ALPHAWATCH_WEB_PORT": str(self.port)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "stream.cli.main", "worker"], env=env,
                                         stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                                         start_new_session=self.new_session)
        return self

    def get(self, path: str) -> Any:
        token = self.env.get("ALPHAWATCH_WEB_TOKEN")
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                         headers={"Authorization": f"Bearer {token}"} if token else {})
        with urllib.request.urlopen(request, timeout=3) as resp:
            return orjson.loads(resp.read())

    def ready(self) -> bool:
        """True once the worker joined its group and recovered its tables; raises if it exited."""
        self.check_running()
        with contextlib.suppress(Exception):
            return bool(self.get("/ready")["ready"])
        return False

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"worker not ready after {timeout:.0f}s; log {self.log}")

    def check_running(self) -> None:
        """Raise, naming the exit code and why the log says it stopped, if the worker exited."""
        assert self.proc is not None
        if self.proc.poll() is None:
            return
        if self.proc.returncode == EXIT_UNDELIVERED and self.restarted < self.restarts:
            self.restarted += 1
            with self.log.open("a") as log:
                log.write(f"--- exit code {EXIT_UNDELIVERED}: restart {self.restarted} of {self.restarts}\n")
            self.start()
            self._await_port(120.0)
            return
        why = self._logged("[CRITICAL]", "[ERROR]")[-3:]
        raise RuntimeError(f"worker exited with code {self.proc.returncode}; log {self.log}; "
                           f"last errors: {' | '.join(why) or 'none'}")

    def _await_port(self, timeout: float) -> None:
        """Wait until a (re)started worker listens on its web port, or exits: a caller that asked
        for its metrics must not meet a refused connection while it starts."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            address = ("127.0.0.1", self.port)
            with contextlib.suppress(OSError), socket.create_connection(address, timeout=0.5):
                return
            time.sleep(0.25)

    def _logged(self, *levels: str) -> list[str]:
        """The log's lines at any of `levels` (e.g. "[ERROR]")."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [line for line in lines if any(level in line for level in levels)]

    def metrics(self) -> str:
        self.check_running()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=3) as resp:
            return str(resp.read().decode())

    def describe(self, *counters: str) -> str:
        """The named counters and the log's last warnings, for a failure message."""
        try:
            text = self.metrics()
            seen = ", ".join(f"{name}={metric(text, name):.0f}" for name in counters)
        except (OSError, RuntimeError) as exc:
            seen = f"no metrics ({exc!r})"
        warnings = [line for line in self._logged("[WARNING]", "[ERROR]")
                    if "producer buffer full" not in line]  # the buffer warning is routine here
        if self.restarted:
            seen += f"; restarted {self.restarted} time(s) after exit code {EXIT_UNDELIVERED}"
        return f"{seen}; log {self.log}; last warnings: {' | '.join(warnings[-6:]) or 'none'}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (the worker flushes to the broker), then SIGKILL after `timeout`."""
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`, in a /metrics page (0 if none)."""
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())
