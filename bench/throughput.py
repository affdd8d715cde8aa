"""Benchmark: raw aiokafka, a plain Faust agent, the ingest agent, the agreement pipeline, all stages.

Run from the repo root: `python bench/throughput.py [--events 50000] [--json]`. Uses the embedded
Tansu broker unless --broker names one, and the Redis at ALPHAWATCH_REDIS_URL (default
127.0.0.1:6379) for the all-stages row. Worker rows read the input as `alphawatch produce` sends it
(JSON arrays of `--per-record` events); `pipeline_single` sends one event per record. Prints
events/s and the ratios to raw aiokafka and to the plain Faust agent; figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
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
from stream.ops.procs import die_with_parent


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


def timed_drain(port: int, pattern: str, n: int, proc: subprocess.Popen[bytes] | None = None,
                timeout: float = 900) -> float:
    """Seconds from the first counted event to the n-th, polling the worker's metrics."""
    first, count = None, 0.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            # e.g. exit 70: a send not delivered within ALPHAWATCH_PRODUCER_REQUEST_TIMEOUT_S (the
            # embedded broker now and then stalls a partition); the row has no figure
            raise SystemExit(f"the worker stopped (exit code {proc.returncode}) after {count:.0f} "
                             f"of {n} events; its log is in the temporary folder")
        count = counter(port, pattern)
        now = time.perf_counter()
        if count > 0 and first is None:
            first = (now, count)
        if count >= n and first is not None:
            # the first poll already saw first[1] events: scale to the rate over what we timed
            return (now - first[0]) * n / max(1.0, n - first[1])
        time.sleep(0.1)
    raise SystemExit(f"only {counter(port, pattern)} of {n} events after {timeout}s")


def faust_plain(broker: str, topic: str, n: int, tmp: str) -> float:
    """Seconds for a Faust agent that only iterates `topic` (bench/plain_agent.py) to see n events."""
    out = Path(tmp) / f"plain-{uuid.uuid4().hex[:6]}.txt"
    env = {**os.environ, "BENCH_BROKER": broker, "BENCH_TOPIC": topic, "BENCH_EVENTS": str(n),
           "BENCH_OUT": str(out)}
    script = Path(__file__).resolve().parent / "plain_agent.py"
    with (Path(tmp) / "plain.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, str(script), "worker", "-l", "warn"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=tmp, preexec_fn=die_with_parent)
    try:
        proc.wait(timeout=600)
    finally:
        stop(proc)
    if not out.exists():
        raise SystemExit(f"the plain Faust agent did not see {n} events; see {tmp}/plain.log")
    return float(out.read_text())


def pipeline(broker: str, agents: str | None, events: list[bytes], pattern: str, tmp: str,
             per_record: int) -> float:
    proc, port, prefix = start_worker(broker, tmp, **({"agents": agents} if agents else {}))
    try:
        asyncio.run(produce(broker, prefix + "annotations", events, per_record=per_record))
        return timed_drain(port, pattern, len(events), proc)
    finally:
        stop(proc)


ROWS = {  # key: (label, ALPHAWATCH_AGENTS or None for the default, metric, events per record or None)
    "ingest": ("ingest agent (validate, forward/DLQ)", '["ingest"]', "ingested", None),
    "pipeline": ("ingest+units+merge, 1 worker", '["ingest","units","merge"]', "applied", None),
    "all_stages": ("all stages, 1 worker (default ALPHAWATCH_AGENTS)", None, "applied", None),
    "pipeline_single": ("ingest+units+merge, 1 worker, 1 event per record", '["ingest","units","merge"]',
                        "applied", 1),
}
METRICS = {"ingested": r'^alphawatch_ingest_events_total\{.*\} (\S+)$',
           "applied": r'^alphawatch_unit_events_total\{.*\} (\S+)$'}


def measure(broker: str, events: list[bytes], per_record: int, tmp: str) -> dict[str, float]:
    """events/s of every row, in one run on one broker."""
    topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
    asyncio.run(produce(broker, topic, events))
    n = len(events)
    rates = {"raw": n / asyncio.run(raw_consume(broker, topic, n)),
             "faust_plain": n / faust_plain(broker, topic, n, tmp)}
    for key, (_, agents, metric, per) in ROWS.items():
        rates[key] = n / pipeline(broker, agents, events, METRICS[metric], tmp, per or per_record)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--broker", default=None, help="kafka://host:port (default: embedded Tansu)")
    parser.add_argument("--per-record", type=int, default=500,
                        help="events per input record, as produce sends")
    parser.add_argument("--json", action="store_true", help="print one JSON object of events/s")
    args = parser.parse_args()
    stop_on_sigterm()
    kafka = None if args.broker else start_tansu()
    broker = args.broker or kafka.url  # type: ignore[union-attr]
    tmp = tempfile.mkdtemp(prefix="aw-bench-")
    try:
        events = [orjson.dumps(e) for e in generate(Campaign(n_clips=args.events // 3 + 1))][:args.events]
        rates = measure(broker, events, args.per_record, tmp)
    finally:
        if kafka:
            kafka.stop()
    if args.json:
        print(orjson.dumps({k: round(v, 1) for k, v in rates.items()}).decode())
        return
    raw, plain = rates["raw"], rates["faust_plain"]
    print(f"events: {len(events)}, {args.per_record} per input record, "
          f"broker: {'embedded Tansu' if kafka else broker}")
    print(f"{'row':<66}{'events/s':>10}{'vs raw':>9}{'vs Faust':>10}")
    labels = {"raw": "raw aiokafka consumer + orjson decode",
              "faust_plain": "plain Faust agent (iterate only)",
              **{k: v[0] for k, v in ROWS.items()}}
    for key, rate in rates.items():
        print(f"{labels[key]:<66}{rate:>10,.0f}{rate / raw:>9.3f}{rate / plain:>10.3f}")


if __name__ == "__main__":
    main()
