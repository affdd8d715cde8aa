"""Benchmark: raw aiokafka read+decode vs the ingest agent vs the whole agreement pipeline.

Run from the repo root: `python bench/ingest.py [--events 50000]`. Uses the embedded Tansu broker
unless --broker names one. Prints events/s for each and the ratios; figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from aiokafka import AIOKafkaConsumer
from harness import counter, start_worker, stop, stop_on_sigterm

from stream.campaign.simulate import Campaign, generate
from stream.io.kafka import bootstrap_servers
from stream.io.produce import produce
from stream.ops.embedded import start_tansu


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
    proc, port, prefix = start_worker(broker, tmp, agents=agents)
    try:
        asyncio.run(produce(broker, prefix + "annotations", events))
        return timed_drain(port, pattern, len(events))
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--broker", default=None, help="kafka://host:port (default: embedded Tansu)")
    args = parser.parse_args()
    stop_on_sigterm()
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
