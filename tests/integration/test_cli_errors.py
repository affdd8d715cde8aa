"""CLI errors as a user meets them: a broker or Redis that does not answer gives one or two lines
naming the setting, exit code 1, no traceback and no client noise; `--debug` gives the traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from stream.ops.embedded import free_port
from tests.integration.helpers import read_topic, unique

pytestmark = pytest.mark.integration


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWATCH_")}
    return subprocess.run([sys.executable, "-m", "stream.cli.main", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def _events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text('{"schema_version": 1, "kind": "watermark", "watermark": "2026-01-01T00:00:00Z"}\n')
    return path


def test_an_unreachable_broker_is_one_message_naming_the_setting(tmp_path: Path) -> None:
    closed = f"kafka://127.0.0.1:{free_port()}"
    for command in (["produce", str(_events(tmp_path))], ["report", "--out", str(tmp_path / "r")]):
        result = _run(*command, ALPHAWATCH_BROKER_URL=closed)
        assert result.returncode == 1, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
        assert len(errors) == 1 and closed in errors[0], result.stderr
        assert "ALPHAWATCH_BROKER_URL" in result.stderr
        assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr, result.stderr
    debug = _run("--debug", "produce", str(_events(tmp_path)), ALPHAWATCH_BROKER_URL=closed)
    assert debug.returncode != 0 and "KafkaConnectionError" in debug.stderr


def test_gold_load_with_redis_down_says_the_key_was_published(kafka_url: str, tmp_path: Path) -> None:
    key = tmp_path / "gold.jsonl"
    key.write_text('{"gold_item_id": "g-1", "kind": "rating", "answers": {"motion_quality": 3}}\n')
    prefix = unique("cli-errors") + "."
    result = _run("gold", "load", str(key), ALPHAWATCH_BROKER_URL=kafka_url, ALPHAWATCH_TOPIC_PREFIX=prefix,
                  ALPHAWATCH_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", ALPHAWATCH_REDIS_TIMEOUT_S="2")
    assert result.returncode == 1, result.stderr
    assert "published 1 rows" in result.stderr and "ALPHAWATCH_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
    rows = [orjson.loads(m.value) for m in read_topic(kafka_url, prefix + "gold-items")]
    assert [r["gold_item_id"] for r in rows] == ["g-1"]


def test_a_worker_whose_web_port_is_taken_names_the_setting(kafka_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("worker", ALPHAWATCH_BROKER_URL=kafka_url, ALPHAWATCH_WEB_PORT=str(port),
                      ALPHAWATCH_APP_ID=unique("aw"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"configuration error ALPHAWATCH_WEB_PORT={port}: cannot listen on 127.0.0.1:{port} (Address "
        "already in use); another worker may use it, set ALPHAWATCH_WEB_PORT to a free port"]
