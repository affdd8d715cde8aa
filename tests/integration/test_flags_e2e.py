"""A guideline turns ambiguous on one dimension: one flag, explained, on qa-flags; none elsewhere."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson
import pytest

from stream.campaign.simulate import Campaign, generate
from stream.io.produce import produce
from tests.integration.helpers import Worker, read_topic, wait_until, worker_env

pytestmark = pytest.mark.integration


def test_ambiguous_dimension_raises_one_explained_flag(kafka_url: str, redis_url: str,
                                                       tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WINDOWS='["1h"]')
    prefix = env["ALPHAWATCH_TOPIC_PREFIX"]
    worker = Worker(env, tmp_path / "worker.log").start()
    campaign = Campaign(seed=21, n_clips=3000, pairwise_share=0.0, ambiguous_dimension="text_alignment",
                        ambiguous_from=1500)
    try:
        wait_until(worker.ready, 120, "worker to join")
        asyncio.run(produce(kafka_url, prefix + "annotations", [orjson.dumps(e) for e in generate(campaign)]))
        flags = wait_until(lambda: [orjson.loads(m.value) for m in read_topic(kafka_url, prefix + "qa-flags")
                                    if orjson.loads(m.value)["kind"] == "agreement_low"
                                    and orjson.loads(m.value)["dimension"] == "text_alignment"
                                    and orjson.loads(m.value)["slice"] == "all"], 180, "the flag")
        wait_until(lambda: 'unit_events_total{kind="rating",outcome="applied"} 9000.0' in worker.metrics(),
                   180, "all events applied")
        every = [orjson.loads(m.value) for m in read_topic(kafka_url, prefix + "qa-flags")]
    finally:
        worker.stop()
    assert len(flags) == 1  # one open flag per dimension, slice and window size
    flag = flags[0]
    onset_hour = int(1500 * campaign.seconds_per_unit // 3600)
    assert flag["window_start"] >= f"2026-11-20T{onset_hour:02d}:00:00Z"
    assert flag["alpha"] < flag["threshold"] and flag["ci_high"] is not None
    assert flag["n_pairable_values"] >= 96 and flag["top_annotators"] and flag["confused_values"]
    assert flag["p_below_threshold"] >= flag["required_confidence"] > 0.95  # its look's confidence
    low = Counter((f["dimension"], f["slice"]) for f in every if f["kind"] == "agreement_low")
    assert not [k for k in low if k[1] == "all" and k[0] != "text_alignment"]  # no false flag
