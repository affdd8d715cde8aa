"""Benchmark: raw aiokafka read+decode vs the ingest agent vs the whole agreement pipeline.

Run from the repo root: `python bench/ingest.py [--events 50000]`. Uses the embedded Tansu broker
unless --broker names one. Prints events/s for each and the ratios; figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from aiokafka import AIOKafkaConsumer

from stream.embedded import free_port, start_tansu
from stream.produce import produce
from stream.simulate import Campaign, generate
from stream.web import bootstrap_servers


async def raw_consume(broker: str, topic: str, n: int) -> float:
    """Seconds for a plain aiokafka consumer to read and JSON-decode n events."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers(broker), group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for messages in batch.values():
                for message in messages:
                    orjson.loads(message.value)
                    seen += 1
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def counter(port: int, pattern: str) -> float:
    with contextlib.suppress(Exception), urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        return sum(float(x) for x in re.findall(pattern, resp.read().decode(), re.M))
    return 0.0


def start_worker(broker: str, agents: str, tmp: str) -> tuple[subprocess.Popen[bytes], int, str]:
    port, app_id = free_port(), f"bench-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "ALPHAWATCH_BROKER_URL": broker, "ALPHAWATCH_APP_ID": app_id,
           "ALPHAWATCH_TOPIC_PREFIX": f"{app_id}.", "ALPHAWATCH_WEB_PORT": str(port),
           "ALPHAWATCH_DATA_DIR": f"{tmp}/{app_id}", "ALPHAWATCH_AGENTS": agents,
           "ALPHAWATCH_REBALANCE_TIMEOUT_S": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/ready", timeout=2) as resp:
            if orjson.loads(resp.read())["ready"]:
                return proc, port, f"{app_id}."
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("worker did not become ready")


def timed_drain(port: int, pattern: str, n: int, timeout: float = 900) -> float:
    """Seconds from the first counted event to the n-th, polling the worker's metrics."""
    first = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = counter(port, pattern)
        now = time.perf_counter()
        if count > 0 and first is None:
            first = (now, count)
        if count >= n and first is not None:
            # the first poll already saw first[1] events: scale to the rate over what we timed
            return (now - first[0]) * n / max(1.0, n - first[1])
        time.sleep(0.1)
    raise SystemExit(f"only {counter(port, pattern)} of {n} events after {timeout}s")


def pipeline(broker: str, agents: str, events: list[bytes], pattern: str, tmp: str) -> float:
    proc, port, prefix = start_worker(broker, agents, tmp)
    try:
        asyncio.run(produce(broker, prefix + "annotations", events))
        return timed_drain(port, pattern, len(events))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--broker", default=None, help="kafka://host:port (default: embedded Tansu)")
    args = parser.parse_args()
    kafka = None if args.broker else start_tansu()
    broker = args.broker or kafka.url  # type: ignore[union-attr]
    tmp = tempfile.mkdtemp(prefix="aw-bench-")
    try:
        events = [orjson.dumps(e) for e in generate(Campaign(n_clips=args.events // 3 + 1))][:args.events]
        topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
        asyncio.run(produce(broker, topic, events))
        raw = args.events / asyncio.run(raw_consume(broker, topic, args.events))
        ingest = args.events / pipeline(broker, '["ingest"]', events,
                                        r'^alphawatch_ingest_events_total\{.*\} (\S+)$', tmp)
        full = args.events / pipeline(broker, '["ingest","units","merge"]', events,
                                      r'^alphawatch_unit_events_total\{.*\} (\S+)$', tmp)
    finally:
        if kafka:
            kafka.stop()
    print(f"events: {args.events}, broker: {'embedded Tansu' if kafka else broker}")
    print(f"{'stage':<44}{'events/s':>12}{'vs raw':>10}")
    for name, rate in (("raw aiokafka consumer + orjson decode", raw),
                       ("ingest agent (validate, forward/DLQ)", ingest),
                       ("whole pipeline, 1 worker (ingest+units+merge)", full)):
        print(f"{name:<44}{rate:>12,.0f}{rate / raw:>10.3f}")
    print(f"ratio ingest/raw: {ingest / raw:.3f}")


if __name__ == "__main__":
    main()
