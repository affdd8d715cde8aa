"""`alphawatch report` from the output topics of a real worker (embedded broker and Redis)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from schemas.gold import GoldKeyRow
from stream.campaign.scenarios import scenario
from stream.campaign.simulate import generate, gold_key
from stream.cli.main import cli
from stream.io.observe import Observed, read_all
from stream.io.produce import closing_watermark, produce, send_watermark
from stream.qualification.goldkey import publish_gold_key
from stream.settings import Settings
from tests.integration.helpers import Worker, wait_until, worker_env

pytestmark = pytest.mark.integration


def _finals(observed: Observed, windows: int) -> bool:
    series = observed.series("text_alignment", 3600)
    return len(series) == windows and all(r["final"] for r in series)


def _boards(observed: Observed) -> bool:
    """Every modality's overall leaderboard, fitted on qualified votes."""
    overall = [r for (_, dim), r in observed.rankings.items() if dim == "overall" and r["votes"] > 0]
    return len(overall) == 3


def test_report_from_topics(kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WINDOWS='["1h"]', ALPHAWATCH_GRACE="5m",
                     ALPHAWATCH_GOLD_MIN_ANSWERS="3", ALPHAWATCH_BOOTSTRAP_SAMPLES="300")
    settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"],
                        broker_url=kafka_url, redis_url=redis_url, windows=["1h"], grace="5m")
    campaign = scenario("ambiguous-guideline", clips=1500)
    lines = [orjson.dumps(e) for e in generate(campaign)]
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        wait_until(worker.ready, 120, "worker to join")
        asyncio.run(publish_gold_key(settings, [GoldKeyRow.model_validate(r) for r in gold_key(campaign)]))
        topic = settings.topic("annotations")
        asyncio.run(produce(kafka_url, topic, lines, per_record=500))  # arrays, as `replay` sends them
        asyncio.run(send_watermark(kafka_url, topic, closing_watermark(lines, settings), settings.partitions))
        wait_until(lambda: _finals(asyncio.run(read_all(settings, False)), 5), 240,
                   "the five windows' final records")
        wait_until(lambda: _boards(asyncio.run(read_all(settings, False))), 120, "the model leaderboards")
        out = tmp_path / "report"
        result = CliRunner().invoke(cli, ["report", "--out", str(out)], env=env)
        assert result.exit_code == 0, result.output
    finally:
        worker.stop()
    data = json.loads((out / "report.json").read_text())
    # every message of the annotations topic: the events and one closing watermark per partition
    assert data["source"] == "topics" and data["counts"]["events"] == len(lines) + settings.partitions
    assert data["counts"]["invalid"] == {}  # every element of every array record read
    series = data["series"]["text_alignment"]
    assert len(series) == 5 and all(r["final"] for r in series)  # the stream's own final records
    assert series[0]["alpha"] > 0.75 and series[-1]["alpha"] < 0.5
    flags = [f for f in data["flags"] if f["kind"] == "agreement_low" and f["slice"] == "all"]
    assert {f["dimension"] for f in flags} >= {"text_alignment"} and all("flag_id" in f for f in flags)
    assert all(f["top_annotators"] and f["window_size_s"] == 3600 for f in flags)  # attributed, sized
    states = {p["state"] for p in data["annotators"]}
    assert "qualified" in states  # from the annotator-status topic (N = 3 here)
    assert data["coincidence"]["text_alignment"]["alpha"] < data["coincidence"]["motion_quality"]["alpha"]
    html = (out / "report.html").read_text()
    assert ("no batches yet" in html) == (data["batches"] is None)
    boards = [b for b in data["leaderboards"] if b["dimension"] == "overall"]
    assert {b["modality"] for b in boards} == {"t2v", "i2v", "v2v"}  # from the model-rankings topic
    assert any(m["ci_low"] < m["score"] < m["ci_high"] for b in boards for m in b["models"] if m["score"])
    assert "<h2>Model leaderboards</h2>" in html and "<th>window size</th>" in html
    for name in ("alpha_over_time", "coincidence", "annotators", "slices", "pilot", "leaderboards"):
        assert (out / f"{name}.png").stat().st_size > 10_000
