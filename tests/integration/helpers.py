"""Integration helpers: worker processes, topic readers and deadline-based waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.io.kafka import bootstrap_servers
from stream.ops.embedded import free_port


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


@dataclass
class Worker:
    """One `alphawatch worker` process with its own web port and data dir."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        env = {**self.env, "ALPHAWATCH_WEB_PORT": str(self.port)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "stream.cli.main", "worker"], env=env,
                                         stdout=log, stderr=subprocess.STDOUT)
        return self

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=3) as resp:
            return orjson.loads(resp.read())

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}; log {self.log}")
        with contextlib.suppress(Exception):
            return bool(self.get("/ready")["ready"])
        return False

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=3) as resp:
            return resp.read().decode()

    def describe(self, *counters: str) -> str:
        """The named counters and the log's last warnings, for a failure message."""
        try:
            text = self.metrics()
            seen = ", ".join(f"{name}={metric(text, name):.0f}" for name in counters)
        except OSError as exc:
            seen = f"no metrics ({exc!r})"
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        warnings = [line for line in lines if ("[WARNING]" in line or "[ERROR]" in line)
                    and "producer buffer full" not in line]  # the buffer warning is routine here
        return f"{seen}; log {self.log}; last warnings: {' | '.join(warnings[-6:]) or 'none'}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_env(kafka_url: str, redis_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a worker isolated by app id and topic prefix (unique per test)."""
    app_id = unique("aw")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWATCH_")}
    env.update({
        "ALPHAWATCH_APP_ID": app_id, "ALPHAWATCH_TOPIC_PREFIX": f"{app_id}.",
        "ALPHAWATCH_BROKER_URL": kafka_url, "ALPHAWATCH_REDIS_URL": redis_url,
        "ALPHAWATCH_DATA_DIR": str(tmp / "data"), "ALPHAWATCH_LOG_LEVEL": "info",
        "ALPHAWATCH_REBALANCE_TIMEOUT_S": "3", "ALPHAWATCH_SESSION_TIMEOUT_S": "10",
    })
    env.update(extra)
    return env


async def _read(broker: str, topic: str, idle_s: float, partitions: int | None) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker), group_id=None,
                                enable_auto_commit=False, fetch_max_bytes=16 * 1024**2,
                                max_partition_fetch_bytes=16 * 1024**2)
    await consumer.start()
    try:
        await consumer.topics()  # loads metadata
        found = consumer.partitions_for_topic(topic) or set(range(partitions or 1))
        tps = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + idle_s
        while await _behind(consumer, tps, end) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, tps: list[TopicPartition], end: dict[Any, int]) -> bool:
    return any([await consumer.position(tp) < end[tp] for tp in tps])


def read_topic(broker: str, topic: str, timeout: float = 30.0) -> list[Any]:
    """Every message currently in `topic` (up to the end offsets seen at the start)."""
    return asyncio.run(_read(broker, topic, timeout, None))


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`, in a /metrics page (0 if none)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())
