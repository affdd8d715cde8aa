"""Benchmark: raw aiokafka read+decode vs the ingest agent vs the agreement pipeline vs all stages.

Run from the repo root: `python bench/ingest.py [--events 50000]`. Uses the embedded Tansu broker
unless --broker names one, and the Redis at ALPHAWATCH_REDIS_URL (default 127.0.0.1:6379) for the
all-stages row. Each worker row runs twice: producers sending one event per record, and JSON arrays
of `--per-record` events. Prints events/s and the ratio to raw; figures, not assertions.
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


def pipeline(broker: str, agents: str | None, events: list[bytes], pattern: str, tmp: str,
             per_record: int) -> float:
    proc, port, prefix = start_worker(broker, tmp, **({"agents": agents} if agents else {}))
    try:
        asyncio.run(produce(broker, prefix + "annotations", events, per_record=per_record))
        return timed_drain(port, pattern, len(events))
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--broker", default=None, help="kafka://host:port (default: embedded Tansu)")
    parser.add_argument("--per-record", type=int, default=500, help="events per record in the array rows")
    args = parser.parse_args()
    stop_on_sigterm()
    kafka = None if args.broker else start_tansu()
    broker = args.broker or kafka.url  # type: ignore[union-attr]
    tmp = tempfile.mkdtemp(prefix="aw-bench-")
    ingested = r'^alphawatch_ingest_events_total\{.*\} (\S+)$'
    applied = r'^alphawatch_unit_events_total\{.*\} (\S+)$'
    rows = [("ingest agent (validate, forward/DLQ)", '["ingest"]', ingested),
            ("ingest+units+merge, 1 worker", '["ingest","units","merge"]', applied),
            ("all stages, 1 worker (default ALPHAWATCH_AGENTS)", None, applied)]
    try:
        events = [orjson.dumps(e) for e in generate(Campaign(n_clips=args.events // 3 + 1))][:args.events]
        topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
        asyncio.run(produce(broker, topic, events))
        raw = args.events / asyncio.run(raw_consume(broker, topic, args.events))
        rates = [(f"{name}, {per} per record",
                  args.events / pipeline(broker, agents, events, pattern, tmp, per))
                 for name, agents, pattern in rows for per in (1, args.per_record)]
    finally:
        if kafka:
            kafka.stop()
    print(f"events: {args.events}, broker: {'embedded Tansu' if kafka else broker}")
    print(f"{'stage':<72}{'events/s':>12}{'vs raw':>10}")
    for name, rate in [("raw aiokafka consumer + orjson decode", raw), *rates]:
        print(f"{name:<72}{rate:>12,.0f}{rate / raw:>10.3f}")


if __name__ == "__main__":
    main()
