"""Benchmark: a campaign the size of the seed's (976,355 annotations) through one all-stages worker.

Run from the repo root: `python bench/seed_replay.py [--events 976355] [--per-record 500]`. Starts
the embedded Tansu broker and uses the Redis at ALPHAWATCH_REDIS_URL (default 127.0.0.1:6379).
Prints the time from the first record sent until the units stage has seen every event, the
producer's own time, and the worker's peak resident memory; figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from harness import counter, start_worker, stop, stop_on_sigterm

from stream.campaign.simulate import Campaign, generate
from stream.io.produce import produce
from stream.ops.embedded import start_tansu

SEEN = r'^alphawatch_unit_events_total\{.*\} (\S+)$'


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=976_355)
    parser.add_argument("--per-record", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    args = parser.parse_args()
    stop_on_sigterm()
    campaign = Campaign(seed=7, n_clips=args.events // 3 + 1, n_annotators=300, gold_share=0.05)
    events = [orjson.dumps(e) for e in generate(campaign)][:args.events]
    kafka = start_tansu()
    tmp = tempfile.mkdtemp(prefix="aw-seed-")
    try:
        proc, port, prefix = start_worker(kafka.url, tmp)
        try:
            started = time.perf_counter()
            sent = asyncio.run(produce(kafka.url, prefix + "annotations", events, per_record=args.per_record))
            deadline = started + args.timeout
            while counter(port, SEEN) < len(events):
                if time.perf_counter() > deadline:
                    seen = counter(port, SEEN)
                    raise SystemExit(f"only {seen:.0f} of {len(events)} after {args.timeout:.0f}s")
                time.sleep(1.0)
            took = time.perf_counter() - started
            rss = peak_rss_mb(proc.pid)
        finally:
            stop(proc)
    finally:
        kafka.stop()
    print(f"events: {len(events)} ({args.per_record} per record), one worker, all stages, embedded Tansu")
    print(f"producer: {sent.seconds:.0f} s, {sent.failed} failed")
    print(f"all events through the units stage: {took:.0f} s ({len(events) / took:,.0f} events/s)")
    print(f"worker peak RSS: {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
