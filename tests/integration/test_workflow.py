"""The README's multi-terminal workflow with default settings, through the CLI on the real embedded services:
simulate, embedded, worker, gold load, replay --close-windows, status --wait, batches, export."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.ops.procs import die_with_parent
from tests.integration.helpers import Worker, read_topic, wait_until, worker_env

pytestmark = pytest.mark.integration


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "stream.cli.main", *args], env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]} {result.stderr[-2000:]}"
    return result


def _newest(messages: list[Any], *key: str) -> dict[tuple[object, ...], dict[str, Any]]:
    """The newest record per key (records are JSON objects)."""
    records = [orjson.loads(m.value) for m in messages if m.value]
    return {tuple(r[k] for k in key): r for r in records}


def test_the_documented_workflow_with_defaults(tmp_path: Path) -> None:
    log = tmp_path / "embedded.out"
    with log.open("wb") as out:  # services on free ports: the only settings changed are where they are
        services = subprocess.Popen([sys.executable, "-m", "stream.cli.main", "embedded", "--kafka-port", "0",
                                     "--redis-port", "0"], stdout=out, stderr=subprocess.STDOUT,
                                    preexec_fn=die_with_parent)
    worker = None
    try:
        text = wait_until(lambda: "ALPHAWATCH_REDIS_URL=" in log.read_text() and log.read_text(), 60, "URLs")
        urls = dict(re.findall(r"^(ALPHAWATCH_\w+_URL)=(\S+)$", text, flags=re.MULTILINE))
        env = worker_env(urls["ALPHAWATCH_BROKER_URL"], urls["ALPHAWATCH_REDIS_URL"], tmp_path)
        sim = _cli(env, "simulate", "--clips", "1000", "--annotators", "10", "--out", str(tmp_path / "sim"))
        print(sim.stdout, sim.stderr)
        worker = Worker(env, tmp_path / "worker.log").start()
        env["ALPHAWATCH_WEB_PORT"] = str(worker.port)  # the helper picks a free one: status reads it
        print(_cli(env, "gold", "load", str(tmp_path / "sim" / "gold-key.jsonl")).stderr)
        replay = _cli(env, "replay", str(tmp_path / "sim" / "events.jsonl"), "--speed", "600",
                      "--close-windows", "--wait", "240")
        print(replay.stderr[-1500:])
        prefix = env["ALPHAWATCH_TOPIC_PREFIX"]
        print(_cli(env, "status").stderr)
        status = orjson.loads(_cli(env, "status", "--json").stdout)
        assert status["caught_up"] and all(t["last_committed_at"] for t in status["topics"] if t["records"])
        assert status["watermark"] >= "2026-11-23T00:10:00+00:00", status  # the replay's closing watermark

        broker = env["ALPHAWATCH_BROKER_URL"]
        states = _newest(read_topic(broker, f"{prefix}annotator-status"), "annotator_id")
        counted = Counter(str(r["state"]) for r in states.values())
        print("annotators:", dict(counted))
        assert counted["qualified"] >= 8, counted  # of 10

        def boards() -> dict[tuple[object, ...], dict[str, object]] | None:
            found = _newest(read_topic(env["ALPHAWATCH_BROKER_URL"], f"{prefix}model-rankings"),
                            "modality", "dimension")
            overall = sum(int(r["votes"]) for (_, dim), r in found.items() if dim == "overall")
            done = overall > 0.8 * pairwise and all(int(r["votes_excluded"]) * 5 < int(r["votes"])
                                                    for r in found.values())
            return found if done else None

        lines = (tmp_path / "sim" / "events.jsonl").read_bytes().splitlines()
        simulated = [orjson.loads(line) for line in lines]
        pairwise = sum(1 for e in simulated if e["kind"] == "pairwise" and not e["gold_item_id"])

        ranked = wait_until(boards, 60, "rankings over most votes (refit every 10 s)")
        votes = sum(int(r["votes"]) for r in ranked.values())
        excluded = sum(int(r["votes_excluded"]) for r in ranked.values())
        print(f"rankings: {votes} votes counted, {excluded} excluded; {pairwise} pairwise answers simulated")

        listed = _cli(env, "batches", "--json")
        rows = {r["batch_id"]: r for r in orjson.loads(listed.stdout)}
        print(_cli(env, "batches").stdout)
        assert rows["2026-W47"]["state"] == "closed", rows
        out = tmp_path / "export"
        exported = _cli(env, "export", "--batch", "2026-W47", "--out", str(out))
        print(exported.stderr)
        manifest = orjson.loads((out / "manifest.json").read_bytes())
        records = (out / "records.jsonl").read_bytes().splitlines()
        answers = sum(1 for line in (tmp_path / "sim" / "events.jsonl").read_bytes().splitlines()
                      if not orjson.loads(line)["gold_item_id"])
        print(f"export: {len(records)} records, {manifest['answers_included']} of "
              f"{manifest['answers_received']} answers; {answers} non-gold answers simulated")
        assert manifest["answers_received"] == sum(1 for _ in (tmp_path / "sim" / "events.jsonl").open())
        # "most": answers given in the first ~10 s of the replay reach the batch stage before the
        # onboarding's qualifications do and are left out as annotator_qualifying (about a quarter here)
        assert manifest["answers_included"] > 0.6 * answers
        assert len(records) == sum(manifest["record_counts"].values()) and len(records) > 500  # of 1000 units
    finally:
        if worker is not None:
            worker.stop()
        services.terminate()
        try:
            services.wait(timeout=30)
        finally:
            if services.poll() is None:
                services.kill()
