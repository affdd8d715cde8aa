"""`alphawatch status` and `--wait` on the real broker: behind while no worker runs, caught up after."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from stream.cli.main import cli
from tests.integration.helpers import Worker, worker_env

pytestmark = pytest.mark.integration


def test_status_reports_lag_until_the_worker_has_caught_up(kafka_url: str, redis_url: str,
                                                         tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path)
    cli_env = {k: v for k, v in env.items() if k.startswith("ALPHAWATCH_")}
    runner = CliRunner()
    sim = runner.invoke(cli, ["simulate", "--clips", "60", "--out", str(tmp_path / "sim")])
    assert sim.exit_code == 0, sim.output
    events = str(tmp_path / "sim" / "events.jsonl")
    sent = runner.invoke(cli, ["produce", events, "--close-windows"], env=cli_env)
    assert sent.exit_code == 0, sent.output
    before = runner.invoke(cli, ["status", "--json"], env=cli_env)
    assert before.exit_code == 0, before.output
    status = orjson.loads(before.stdout)
    assert status["caught_up"] is False
    assert next(t["lag"] for t in status["topics"] if t["topic"].endswith(".annotations")) > 0
    assert runner.invoke(cli, ["status", "--wait", "2"], env=cli_env).exit_code == 1  # no worker yet
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        after = runner.invoke(cli, ["status", "--wait", "240", "--json"], env=cli_env)
        assert after.exit_code == 0, f"{after.output} {worker.describe()}"
        final = orjson.loads(after.stdout.splitlines()[-1])
        assert final["caught_up"] is True
        names = {t["topic"].removeprefix(env["ALPHAWATCH_TOPIC_PREFIX"]) for t in final["topics"]}
        assert {"annotations", f"{env['ALPHAWATCH_APP_ID']}-annotations-valid"} <= names
        assert all(t["lag"] == 0 and t["committed"] == t["records"] for t in final["topics"])
    finally:
        worker.stop()
