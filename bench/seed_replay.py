"""Benchmark: a campaign the size of the seed's (976,355 annotations) through one all-stages worker.

Run from the repo root: `python bench/seed_replay.py [--events 976355] [--per-record 500] [--json]`.
Starts the embedded Tansu broker and uses the Redis at ALPHAWATCH_REDIS_URL (default
127.0.0.1:6379). Produces the campaign and a closing watermark, then prints the seconds from the
first record sent until every stage has caught up (the units stage has seen every event, every
window is final and every batch has its manifest), annotations/s, the worker's peak resident
memory, and the accounting identity: every final equals the offline reference (units, pairable
values, alpha) and the batches hold every distinct valid answer once. Figures, not assertions.
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

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from harness import counter, start_worker, stop, stop_on_sigterm

from schemas.batches import BatchManifest
from stream.agreement.offline import collect
from stream.batches.rules import BatchClock
from stream.campaign.simulate import Campaign, generate
from stream.io.kafka import read_to_end
from stream.io.produce import produce, send_watermark
from stream.ops.accounting import (
    FinalKey,
    batched_answers,
    expected_from,
    finals_of,
    miscounted,
    newest_manifests,
    windows_of_gold,
)
from stream.ops.embedded import start_tansu
from stream.settings import Settings

SEEN = r'^alphawatch_unit_events_total\{.*\} (\S+)$'
FINALS = r'^alphawatch_windows_final_total\{.*\} (\S+)$'


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def caught_up(broker: str, port: int, prefix: str, n_events: int, n_finals: int, wanted: set[str],
              deadline: float) -> dict[str, BatchManifest]:
    """Wait until the units stage saw every event, every window went final and every batch has
    a manifest; returns the manifests."""
    manifests: dict[str, BatchManifest] = {}
    while True:
        seen, finals = counter(port, SEEN), counter(port, FINALS)
        if seen >= n_events and finals >= n_finals:
            values = asyncio.run(read_to_end(broker, prefix + "rlhf-batch-manifests", timeout_s=10))
            manifests = newest_manifests(m.value for m in values)
            if set(manifests) >= wanted:
                return manifests
        status = (f"units saw {seen:.0f} of {n_events}, {finals:.0f} of {n_finals} finals, "
                  f"{len(set(manifests) & wanted)} of {len(wanted)} manifests")
        if time.perf_counter() > deadline:
            raise SystemExit(f"not caught up: {status}")
        print(status, file=sys.stderr, flush=True)
        time.sleep(5.0)


def read_finals(broker: str, topic: str, wanted: set[FinalKey], deadline: float) -> dict[FinalKey, Any]:
    """The final records on `topic`, read again until every wanted window is there (the metric
    counts a final before the broker acknowledged it)."""
    while True:
        # every live record is on the topic too: hundreds of MB for a campaign this size
        finals = finals_of(m.value for m in asyncio.run(read_to_end(broker, topic, timeout_s=1200)))
        if set(finals) >= wanted or time.perf_counter() > deadline:
            return finals
        time.sleep(2.0)


def ended_before_now(span_s: float, settings: Settings) -> datetime:
    """A Monday 00:00 UTC start from which the campaign and its closing watermark end before now:
    the worker refuses event times past now + ALPHAWATCH_MAX_CLOCK_SKEW."""
    closing = max(settings.batch_length_s, *settings.window_seconds) + settings.grace_s + 86400
    start = datetime.now(UTC) - timedelta(seconds=span_s + closing)
    monday = start - timedelta(days=start.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def batch_ids(lines: list[bytes], settings: Settings) -> set[str]:
    clock = BatchClock(settings.batch_length_s, settings.grace_s)
    stamps = (datetime.fromisoformat(orjson.loads(x)["submitted_at"]).timestamp() for x in lines)
    return {clock.batch_id(clock.start_of(t)) for t in stamps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=976_355)
    parser.add_argument("--per-record", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    stop_on_sigterm()
    settings = Settings()
    n_clips = args.events // 3 + 1
    campaign = Campaign(seed=7, n_clips=n_clips, n_annotators=300, gold_share=0.05,
                        start=ended_before_now(n_clips * Campaign.seconds_per_unit, settings))
    events = [orjson.dumps(e) for e in generate(campaign)][:args.events]
    reference = collect(events, settings)
    expected = expected_from(reference, settings)
    valid = sum(reference.outcomes.values())
    newest = max(datetime.fromisoformat(orjson.loads(x)["submitted_at"]).timestamp() for x in events)
    mark = newest + max(settings.batch_length_s, *settings.window_seconds) + settings.grace_s + 1
    kafka = start_tansu()
    tmp = tempfile.mkdtemp(prefix="aw-seed-")
    try:
        proc, port, prefix = start_worker(kafka.url, tmp)
        try:
            started = time.perf_counter()
            sent = asyncio.run(produce(kafka.url, prefix + "annotations", events, per_record=args.per_record))
            asyncio.run(send_watermark(kafka.url, prefix + "annotations",
                                       datetime.fromtimestamp(mark, tz=UTC).isoformat(), settings.partitions))
            wanted = batch_ids(events, settings)
            manifests = caught_up(kafka.url, port, prefix, len(events), len(expected), wanted,
                                  started + args.timeout)
            took = time.perf_counter() - started
            rss = peak_rss_mb(proc.pid)
            print(f"caught up after {took:.0f} s, worker peak RSS {rss:,.0f} MiB; reading the finals back",
                  file=sys.stderr, flush=True)
            finals = read_finals(kafka.url, prefix + "agreement", set(expected), time.perf_counter() + 1800)
        finally:
            stop(proc)
    finally:
        kafka.stop()
    gold_windows = windows_of_gold(events, reference, settings)
    problems = miscounted(finals, expected, gold_windows)
    batched = batched_answers(manifests.values())
    identity_ok = not problems and batched == valid
    if args.json:
        print(orjson.dumps({"annotations": len(events), "seconds": round(took, 1),
                            "annotations_per_s": round(len(events) / took, 1), "peak_rss_mb": round(rss, 1),
                            "identity_ok": identity_ok}).decode())
        return
    print(f"events: {len(events)} ({args.per_record} per record), one worker, all stages, embedded Tansu")
    print(f"producer: {sent.seconds:.0f} s, {sent.failed} failed")
    print(f"caught up (every event applied, {len(expected)} windows final, {len(manifests)} batches "
          f"with manifests): {took:.0f} s ({len(events) / took:,.0f} annotations/s)")
    print(f"worker peak RSS: {rss:,.0f} MiB")
    print(f"identity: {'ok' if identity_ok else 'BROKEN'}; finals: {len(expected)} windows, "
          f"{len(problems)} copies differ from the offline reference{': ' + problems[0] if problems else ''} "
          f"({len(gold_windows)} windows holding gold units compared by units only: their later "
          f"answers are late by design); batches hold {batched} of {valid} valid answers once")


if __name__ == "__main__":
    main()
