"""Gold calibration benchmark: the issue's fleet through the real broker and Redis, plus many seeds offline.

Run from the repo root: `python bench/calibration.py` (100,000 annotations, 5% gold, 30 annotators:
3 careless, 2 drifting +2 on motion_quality from the middle). The stream run kills the worker
mid-stream and restarts it, then compares Redis with the annotator-status topic and the final gold
agreements with the offline replay. `--seeds N` replays N more campaigns offline (same pure logic)
for the false-positive rate of the rule itself. Prints figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
import redis
from harness import start_worker, stop, stop_on_sigterm

from schemas.gold import GoldKeyRow
from stream.io.kafka import read_to_end
from stream.io.produce import produce
from stream.ops.embedded import start_redis, start_tansu
from stream.qualification.calibration import Verdict, compile_key, judge, plan, scenario
from stream.qualification.goldkey import publish_gold_key
from stream.qualification.rules import STATES
from stream.settings import Settings

AGENTS = '["ingest","annotators"]'


async def _records(broker: str, topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(m.value) for m in await read_to_end(broker, topic)]


def _gold_view(r: redis.Redis, prefix: str, annotators: list[str]) -> dict[str, Any]:
    return {a: orjson.loads(r.hget(f"{prefix}annotator:{a}", "gold") or "null") for a in annotators}


def _wait(condition: Any, timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"condition not met after {timeout:.0f}s")
        time.sleep(0.5)
    return time.monotonic() - started


def stream_run(n: int, seed: int, annotators: int, kill: bool) -> list[str]:
    kafka, red = start_tansu(), start_redis()
    tmp = tempfile.mkdtemp(prefix="aw-calib-")
    proc = None
    try:
        # the stages calibration depends on (a deployment may run the others in another worker pool)
        proc, port, prefix = start_worker(kafka.url, tmp, redis_url=red.url, agents=AGENTS)
        settings = Settings(app_id=prefix[:-1], topic_prefix=prefix, broker_url=kafka.url, redis_url=red.url)
        events, rows, replay, truth = plan(scenario(seed, n, annotators), settings)
        asyncio.run(publish_gold_key(settings, [GoldKeyRow.model_validate(r) for r in rows]))
        lines = [orjson.dumps(e) for e in events]
        finals = replay.final_agreements(compile_key(rows, settings))
        want = {a: {d: {"agreement": g.value, "n": int(g.n)} for d, g in dims.items() if g.n}
                for a, dims in finals.items()}
        r, names = redis.Redis.from_url(red.url, decode_responses=True), sorted(want)
        started = time.monotonic()
        half = len(lines) // 2 if kill else len(lines)
        asyncio.run(produce(kafka.url, settings.topic("annotations"), lines[:half]))
        if kill:
            proc.kill()
            proc.wait()
            # a busy restarted worker answers /ready late: it works through the backlog first
            proc, port, _ = start_worker(kafka.url, tmp, ready_timeout=1800, redis_url=red.url,
                                         app_id=settings.app_id, topic_prefix=prefix, web_port=str(port),
                                         agents=AGENTS)
            asyncio.run(produce(kafka.url, settings.topic("annotations"), lines[half:]))
        _wait(lambda: _gold_view(r, f"{settings.app_id}:", names) == want, 3600)
        seconds = time.monotonic() - started
        records = asyncio.run(_records(kafka.url, settings.topic("annotator-status")))
        verdict = judge(records, replay.gold_times, truth)
        last = {rec["annotator_id"]: rec["state"] for rec in records}
        prefix_r = f"{settings.app_id}:"
        same = ({a: r.hget(f"{prefix_r}annotator:{a}", "state") for a in last} == last and
                all(r.smembers(f"{prefix_r}annotators:{s}") == {a for a, v in last.items() if v == s}
                    for s in STATES))
        gold = sum(1 for e in events if e.get("gold_item_id"))
        return [f"{len(events):,} annotations ({gold:,} gold), {annotators} annotators, seed {seed}"
                + (", worker SIGKILLed mid-stream" if kill else ""),
                f"{seconds:.0f} s until every gold agreement in Redis equals the replay "
                f"({len(events) / seconds:,.0f} events/s)",
                _describe(verdict, settings.gold_window),
                f"{len(records)} status records; Redis view == last record per annotator: {same}"]
    finally:
        if proc is not None:
            stop(proc)
        red.stop()
        kafka.stop()


def _describe(v: Verdict, window: int) -> str:
    lags = ", ".join(f"{a}: {n}" for a, n in sorted(v.drift_detected_after.items()))
    return (f"careless qualified: {v.careless_qualified or 'none'}; drifting -> retraining after "
            f"{lags} gold answers (K = {window}); good annotators leaving qualified: "
            f"{v.good_left_qualified or 'none'}; good never qualified: {v.good_never_qualified or 'none'}")


def offline(seeds: range, n: int, annotators: int) -> list[str]:
    settings = Settings()
    fps, lags, careless, good = [], [], 0, 0
    for seed in seeds:
        _, _, replay, truth = plan(scenario(seed, n, annotators), settings)
        v = judge(replay.transitions, replay.gold_times, truth)
        fps += [(seed, a) for a in v.good_left_qualified]
        lags += [x if x is not None else 10**6 for x in v.drift_detected_after.values()]
        careless += len(v.careless_qualified)
        good += annotators - len(truth["careless"]) - len(truth["drifting"])
    missed = sum(x > settings.gold_window for x in lags)
    return [f"offline replay, {len(seeds)} seeds x {n:,} annotations",
            f"good annotators leaving qualified: {len(fps)} of {good} ({fps or 'none'}); "
            f"campaigns with none: {len(seeds) - len({s for s, _ in fps})} of {len(seeds)}",
            f"drift -> retraining: median {statistics.median(lags):.0f}, max {max(lags)} gold answers; "
            f"later than K: {missed} of {len(lags)}; careless qualified: {careless}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--annotators", type=int, default=30)
    parser.add_argument("--no-kill", action="store_true", help="no worker kill and restart mid-stream")
    parser.add_argument("--seeds", type=int, default=40, help="offline replays (0: none)")
    args = parser.parse_args()
    stop_on_sigterm()
    for line in stream_run(args.annotations, args.seed, args.annotators, not args.no_kill):
        print(line)
    if args.seeds:
        for line in offline(range(100, 100 + args.seeds), args.annotations, args.annotators):
            print(line)


if __name__ == "__main__":
    main()
