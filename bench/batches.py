"""RLHF batch benchmark: a simulated campaign through the real broker, Redis and one worker.

Run from the repo root: `python bench/batches.py` (100,000 annotations, 5% gold, gold key loaded,
weekly batches). Prints the time from the first annotation sent to the last manifest, the records
and versions on rlhf-batches, each manifest's accounting, and whether every batch verifies
against its manifest. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from harness import counter, start_worker, stop, stop_on_sigterm

from schemas.gold import GoldKeyRow
from stream.batches.export import latest_manifest, latest_records, read_topic, verify
from stream.batches.rules import BatchClock
from stream.campaign.simulate import Campaign, generate, gold_key
from stream.io.produce import produce, send_watermark
from stream.ops.embedded import start_redis, start_tansu
from stream.qualification.goldkey import publish_gold_key
from stream.settings import Settings

CLOSED = r"^alphawatch_batches_closed_total (\S+)$"


def _closing_mark(lines: list[bytes], settings: Settings) -> str:
    newest = max(datetime.fromisoformat(orjson.loads(x)["submitted_at"]).timestamp() for x in lines)
    return datetime.fromtimestamp(newest + settings.batch_length_s + settings.grace_s + 1, tz=UTC).isoformat()


async def _run(settings: Settings, campaign: Campaign, lines: list[bytes]) -> float:
    await publish_gold_key(settings, [GoldKeyRow.model_validate(r) for r in gold_key(campaign)])
    started = time.perf_counter()
    await produce(settings.broker_url, settings.topic("annotations"), lines)
    await send_watermark(settings.broker_url, settings.topic("annotations"), _closing_mark(lines, settings),
                         settings.partitions)
    return started


def _report(settings: Settings, seconds: float, n: int) -> None:
    records = [orjson.loads(v) for v in asyncio.run(read_topic(settings, settings.topic("rlhf-batches")))]
    manifests = asyncio.run(read_topic(settings, settings.topic("rlhf-batch-manifests")))
    versions = Counter(r["version"] for r in records)
    print(f"{n:,} annotations to the last manifest in {seconds:.1f} s ({n / seconds:,.0f} annotations/s)")
    print(f"rlhf-batches: {len(records):,} messages, versions {dict(sorted(versions.items()))}")
    for batch_id in sorted({orjson.loads(m)["batch_id"] for m in manifests}):
        manifest = latest_manifest(manifests, batch_id)
        assert manifest is not None
        problems = verify(manifest, latest_records((orjson.dumps(r) for r in records), batch_id))
        alphas = ", ".join(f"{d} {a.alpha:.3f}" for d, a in manifest.alpha.items()
                           if a.alpha is not None and not d.startswith("pairwise."))
        print(f"{batch_id}: records {manifest.record_counts}, received {manifest.answers_received:,}, "
              f"included {manifest.answers_included:,}, excluded {manifest.exclusions}; "
              f"verifies: {problems or 'yes'}; alpha {alphas}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    stop_on_sigterm()
    campaign = Campaign(seed=args.seed, n_clips=args.annotations // 3, n_annotators=30, gold_share=0.05)
    lines = [orjson.dumps(e) for e in generate(campaign)]
    with tempfile.TemporaryDirectory() as tmp:
        tansu, redis_server = start_tansu(), start_redis()
        try:
            proc, port, prefix = start_worker(tansu.url, tmp, redis_url=redis_server.url, windows='["1h"]',
                                              grace="5m", batch_salt="bench")
            settings = Settings(broker_url=tansu.url, redis_url=redis_server.url, topic_prefix=prefix,
                                app_id=prefix.rstrip("."), windows=["1h"], grace="5m")
            try:
                clock = BatchClock(settings.batch_length_s, settings.grace_s)
                batches = {clock.start_of(datetime.fromisoformat(orjson.loads(x)["submitted_at"]).timestamp())
                           for x in lines}
                started = asyncio.run(_run(settings, campaign, lines))
                while counter(port, CLOSED) < len(batches) and time.perf_counter() - started < 1800:
                    time.sleep(0.5)
                _report(settings, time.perf_counter() - started, len(lines))
            finally:
                stop(proc)
        finally:
            tansu.stop()
            redis_server.stop()


if __name__ == "__main__":
    main()
