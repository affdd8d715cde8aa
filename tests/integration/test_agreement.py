"""Agreement engine on the real broker: 4 partitions, 2 workers; finals equal the offline reference."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.campaign.simulate import Campaign, generate
from stream.io.produce import closing_watermark, produce, send_watermark
from stream.ops.accounting import FinalKey, expected_finals, finals_of
from stream.ops.embedded import services
from stream.settings import Settings, TestServices
from tests.integration.helpers import Worker, read_topic, wait_until, worker_env

# The tests' own deadlines (up to 1,020 s) name what they waited for; pytest's timeout only backs
# them up. A fresh-clone run took 245-423 s per test here.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

N_EVENTS = 50_000


def _events() -> list[bytes]:
    # 3 answers per unit, a unit every 10 s of event time: about 46 hours, 47 1-hour windows
    campaign = Campaign(seed=3, n_clips=N_EVENTS // 3 + 1, n_annotators=40, careless=2)
    lines = [orjson.dumps(e) for e in generate(campaign)][:N_EVENTS]
    assert len(lines) == N_EVENTS
    return lines


def _expected(lines: list[bytes], settings: Settings) -> dict[FinalKey, dict[str, Any]]:
    return expected_finals(lines, settings)


def _finals(kafka_url: str, topic: str) -> dict[FinalKey, list[dict[str, Any]]]:
    return finals_of(m.value for m in read_topic(kafka_url, topic))


def _compare(finals: dict[FinalKey, list[dict[str, Any]]], expected: dict[FinalKey, dict[str, Any]]) -> None:
    assert finals.keys() == expected.keys()
    wrong = [(key, r["alpha"], expected[key]["alpha"], r["n_units"], expected[key]["n_units"], r["late"],
              r["partitions_reporting"], len(records))
             for key, records in finals.items() for r in records
             if r["n_units"] != expected[key]["n_units"] or r["late"]]
    assert not wrong, f"{len(wrong)} wrong finals, e.g. {wrong[:5]}"
    for key, records in finals.items():
        want = expected[key]
        for record in records:  # a crash may repeat a final: every copy must be right
            if want["alpha"] is None:
                assert record["alpha"] is None and record["alpha_reason"], key
            else:
                assert math.isclose(record["alpha"], want["alpha"], rel_tol=0, abs_tol=1e-9), key
            assert record["n_units"] == want["n_units"], key
            assert record["n_pairable_values"] == pytest.approx(want["n_pairable_values"], abs=1e-9)
            assert record["late"] == 0, key


def _applied(worker: Worker) -> float:
    found = re.findall(r'^alphawatch_unit_events_total\{[^}]*outcome="applied"[^}]*\} (\S+)$',
                       worker.metrics(), re.M)
    return sum(float(x) for x in found)


def _check_serving(a: Worker, b: Worker) -> None:
    """Open windows are served by every worker; the merge stage's worker exports the gauges."""
    rows = wait_until(lambda: a.get("/agreement/text_alignment"), 120, "open windows on worker a")
    assert {r["dimension"] for r in rows} == {"text_alignment"} and not any(r["final"] for r in rows)
    wait_until(lambda: b.get("/agreement"), 60, "open windows on worker b")
    gauge = re.compile(r'^alphawatch_alpha\{dimension="motion_quality",slice="all",window="3600s"\} 0\.\d+',
                       re.M)
    # the first records of a window may have no alpha yet (one rating): wait for a defined one
    wait_until(lambda: gauge.search(a.metrics() + b.metrics()), 60, "the alpha gauge")


def _check_finals_served(worker: Worker, expected: dict[FinalKey, dict[str, Any]]) -> None:
    """Finished windows are read over HTTP too, with the topic's figures and the query's filters."""
    def served() -> dict[FinalKey, dict[str, Any]]:
        rows = worker.get("/agreement?state=final")
        return {(r["dimension"], r["slice"], r["window_size_s"],
                 r["window_start"].replace("+00:00", "Z")): r for r in rows}
    wait_until(lambda: served().keys() >= expected.keys(), 60, "finals served at /agreement?state=final")
    rows = served()
    assert rows.keys() == expected.keys()
    assert all(rows[k]["n_units"] == want["n_units"] for k, want in expected.items())
    hourly = worker.get("/agreement/motion_quality?state=final&window=1h&slice=all")
    assert hourly and sorted(r["window_start"] for r in hourly) == [r["window_start"] for r in hourly]
    wanted = ("motion_quality", "all", 3600)
    assert {(r["dimension"], r["slice"], r["window_size_s"]) for r in hourly} == {wanted}
    assert len(hourly) == sum(1 for k in expected if k[:3] == wanted)


def _run(tmp_path: Path, kafka_url: str, redis_url: str, kill_midway: bool) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path)
    prefix = env["ALPHAWATCH_TOPIC_PREFIX"]
    a = Worker({**env, "ALPHAWATCH_DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log").start()
    b = Worker({**env, "ALPHAWATCH_DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log").start()
    settings = Settings()
    lines = _events()
    expected = _expected(lines, settings)
    try:
        wait_until(lambda: a.ready() and b.ready(), 180, "both workers to join")
        half = len(lines) // 2
        asyncio.run(produce(kafka_url, prefix + "annotations", lines[:half]))
        if kill_midway:
            wait_until(lambda: _applied(b) > 2000, 120, "worker b to apply events")
            b.kill()
        asyncio.run(produce(kafka_url, prefix + "annotations", lines[half:]))
        if kill_midway:
            b.start()
        else:
            _check_serving(a, b)
        mark = closing_watermark(lines, settings)
        asyncio.run(send_watermark(kafka_url, prefix + "annotations", mark, settings.partitions))
        topic = prefix + "agreement"
        wait_until(lambda: _finals(kafka_url, topic).keys() >= expected.keys(), 600,
                   f"{len(expected)} final window records", every=2.0)
        _compare(_finals(kafka_url, topic), expected)
        if not kill_midway:
            _check_finals_served(a, expected)
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def own_kafka() -> Iterator[str]:
    """A broker of its own: these tests write ~1M messages, which would slow every later test."""
    cfg = TestServices()
    if cfg.kafka:
        yield cfg.kafka
        return
    with services(None, "redis://unused", use_docker=cfg.docker) as (kafka, _):
        yield kafka.url


def test_two_workers_finals_equal_offline(own_kafka: str, redis_url: str, tmp_path: Path) -> None:
    _run(tmp_path, own_kafka, redis_url, kill_midway=False)


def test_sigkill_and_restart_keeps_finals_exact(own_kafka: str, redis_url: str, tmp_path: Path) -> None:
    _run(tmp_path, own_kafka, redis_url, kill_midway=True)
