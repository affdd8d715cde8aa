"""Detection benchmark: false flags when stationary, time to flag an onset, naming a careless annotator.

Run from the repo root: `python bench/detection.py` (defaults as in the product spec: 1,000,000
stationary annotations, as five campaigns of 200,000 on fresh brokers). Every scenario runs fresh
workers on the embedded Tansu broker and a private Redis and reads the flags back from qa-flags.
Prints one table; figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer
from harness import APPLIED, start_worker, stop, stop_on_sigterm, wait_for

from stream.campaign.simulate import Campaign, generate
from stream.io.kafka import bootstrap_servers, read_to_end
from stream.ops.embedded import start_redis, start_tansu


@dataclass
class Run:
    flags: list[dict[str, object]]
    sent_at: list[float]  # wall clock of each event's send, by index
    seconds: float


async def _produce(broker: str, topic: str, events: list[bytes], rate: float | None) -> list[float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker), linger_ms=2)
    await producer.start()
    sent_at, started = [], time.time()
    try:
        for index, raw in enumerate(events):
            if rate:
                delay = started + index / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            key = orjson.loads(raw).get("clip_id") or orjson.loads(raw).get("pair_id")
            await producer.send(topic, raw, key=str(key).encode())
            sent_at.append(time.time())
        await producer.flush()
    finally:
        await producer.stop()
    return sent_at


async def _flags(broker: str, topic: str) -> list[dict[str, object]]:
    records = await read_to_end(broker, topic)
    out = [{**orjson.loads(m.value), "_on_topic": m.timestamp / 1000} for m in records]
    return sorted(out, key=lambda f: float(f["_on_topic"]))  # type: ignore[arg-type]


def run(broker: str, redis: str, tmp: str, campaign: Campaign, rate: float | None,
        pools: tuple[str, ...] = ('["ingest","units","merge"]',)) -> Run:
    """One worker per pool of stages (same app), the last one's metrics are watched: it runs units."""
    events = [orjson.dumps(e) for e in generate(campaign)]
    # the stages flags depend on (a deployment may run the others in another worker pool)
    procs, port, prefix = [], 0, ""
    try:
        for agents in pools:
            named = {"app_id": prefix[:-1], "topic_prefix": prefix} if prefix else {}
            proc, port, prefix = start_worker(broker, tmp, redis_url=redis, windows='["1h","24h"]',
                                              agents=agents, **named)
            procs.append(proc)
        started = time.monotonic()
        sent_at = asyncio.run(_produce(broker, prefix + "annotations", events, rate))
        wait_for(port, APPLIED, len(events), timeout=3600)
        time.sleep(2.0)  # the last snapshots and records
        return Run(asyncio.run(_flags(broker, prefix + "qa-flags")), sent_at, time.monotonic() - started)
    finally:
        for proc in procs:
            stop(proc)


def _ts(value: object) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


def stationary(tmp: str, n: int, chunk: int) -> list[str]:
    """`n` annotations as independent campaigns of `chunk`, each on a fresh broker: Tansu's
    in-memory storage slows down as it fills (a few hundred thousand records in, the worker
    starves), and a false flag is a property of a window, which spans at most 24 h (~26k annotations)."""
    low, seconds, done = [], 0.0, 0
    for index, size in enumerate([chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])):
        kafka, redis = start_tansu(), start_redis()
        try:
            # produced as fast as the broker takes it: ingest runs in its own worker, or racing
            # through the backlog it takes the shared producer from the units stage's changelog
            result = run(kafka.url, redis.url, tmp, Campaign(seed=101 + index, n_clips=size // 3),
                         rate=None, pools=('["ingest"]', '["units","merge"]'))
        finally:
            redis.stop()
            kafka.stop()
        low += [f for f in result.flags if f["kind"] == "agreement_low"]
        seconds, done = seconds + result.seconds, done + size
        print(f"stationary campaign {index + 1}: {done:,} annotations, {len(low)} false flags so far")
    for f in low:
        print("false flag:", {k: f[k] for k in ("dimension", "slice", "window_size_s", "window_start",
                                                 "alpha", "ci_low", "ci_high", "n_pairable_values", "final")})
    return [f"stationary, {n:,} annotations (alpha ~0.8) in campaigns of {chunk:,}, ingest and "
            "units+merge workers", f"{len(low)} false flags", f"{n / seconds:,.0f} events/s end to end"]


@dataclass
class Onset:
    after: int | None  # annotations after the onset until the first text_alignment flag
    early: int  # flags raised before the onset
    others: list[str]  # other dimensions flagged after it
    latencies: list[float]  # event -> qa-flags, every flag


def onset_once(broker: str, redis: str, tmp: str, seed: int, before: int, after: int,
               rate: float) -> Onset:
    campaign = Campaign(seed=seed, n_clips=(before + after) // 3, ambiguous_dimension="text_alignment",
                        ambiguous_from=before // 3)
    result = run(broker, redis, tmp, campaign, rate)
    low = [f for f in result.flags if f["kind"] == "agreement_low"]
    onset_at = result.sent_at[before]
    target = [f for f in low if f["dimension"] == "text_alignment" and _ts(f["tipping_event_at"]) >= onset_at]
    early = [f for f in low if _ts(f["tipping_event_at"]) < onset_at]
    # one (flag, latency) per flag that names its tipping event, so the print cannot misalign
    timed = [(f, float(f["_on_topic"]) - _ts(f["tipping_event_at"])) for f in low  # type: ignore[arg-type]
             if f.get("tipping_event_at")]
    shown = ("dimension", "slice", "window_size_s", "final", "alpha", "n_pairable_values",
             "required_confidence")
    for f, latency in timed:
        print(f"seed {seed} flag:", {k: f[k] for k in shown}, f"latency {latency:.2f}s")
    latencies = [latency for _, latency in timed]
    tipped = (bisect.bisect_right(result.sent_at, _ts(target[0]["tipping_event_at"])) - before
              if target else None)
    others = sorted({str(f["dimension"]) for f in low if f not in early}
                    - {"text_alignment", "pairwise.text_alignment"})
    return Onset(tipped, len(early), others, latencies)


def onset(broker: str, redis: str, tmp: str, seeds: int, before: int, after: int, rate: float) -> list[str]:
    runs = [onset_once(broker, redis, tmp, 202 + i, before, after, rate) for i in range(seeds)]
    found = [r.after for r in runs if r.after is not None]
    lat = np.array([x for r in runs for x in r.latencies])
    if not found or not len(lat):
        return ["onset (text_alignment -> alpha ~0.4)", "no flag", "-"]
    others = sorted({d for r in runs for d in r.others})
    return [f"onset after {before:,} stationary, {rate:.0f} events/s, {seeds} seeds",
            f"flagged in {len(found)} of {seeds} runs, {min(found):,} to {max(found):,} annotations after "
            f"onset; other dimensions flagged after onset: {others or 'none'}; "
            f"false flags before onset: {sum(r.early for r in runs)}",
            f"latency event->qa-flags over {len(lat)} flags: p50 {np.percentile(lat, 50):.2f}s, "
            f"p99 {np.percentile(lat, 99):.2f}s, max {lat.max():.2f}s"]


def careless(broker: str, redis: str, tmp: str, n: int, rate: float | None) -> list[str]:
    campaign = Campaign(seed=303, n_clips=n // 3, n_annotators=30, careless=1, careless_weight=6.0)
    result = run(broker, redis, tmp, campaign, rate)
    low = [f for f in result.flags if f["kind"] == "agreement_low"]
    named = [f for f in low if f["top_annotators"] and
             f["top_annotators"][0]["annotator_id"] == "ann-0029"]  # type: ignore[index]
    return ["1 careless annotator of 30 (random scores, 6x task rate)",
            f"{len(low)} flags, careless annotator ranked first in {len(named)}", "-"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stationary-events", type=int, default=1_000_000)
    parser.add_argument("--stationary-chunk", type=int, default=200_000,
                        help="annotations per stationary campaign (each on a fresh broker)")
    parser.add_argument("--onset-before", type=int, default=6_000)
    parser.add_argument("--onset-after", type=int, default=3_000)
    parser.add_argument("--rate", type=float, default=100.0, help="events/s for the onset scenario")
    parser.add_argument("--onset-seeds", type=int, default=3, help="onset runs (more flags for p99)")
    parser.add_argument("--careless-events", type=int, default=20_000)
    parser.add_argument("--only", nargs="+", default=["onset", "careless", "stationary"])
    args = parser.parse_args()
    stop_on_sigterm()
    kafka, redis = start_tansu(), start_redis()
    tmp = tempfile.mkdtemp(prefix="aw-detect-")
    rows = []
    try:
        if "onset" in args.only:
            rows.append(onset(kafka.url, redis.url, tmp, args.onset_seeds, args.onset_before,
                              args.onset_after, args.rate))
        if "careless" in args.only:
            rows.append(careless(kafka.url, redis.url, tmp, args.careless_events, None))
        if "stationary" in args.only:
            rows.append(stationary(tmp, args.stationary_events, args.stationary_chunk))
    finally:
        redis.stop()
        kafka.stop()
    print("targets: 0 false flags in 1M stationary; onset flagged within 2,000 annotations; "
          "p99 latency < 1 s; careless annotator ranked first")
    for scenario, outcome, extra in rows:
        print(f"| {scenario} | {outcome} | {extra} |")


if __name__ == "__main__":
    main()
