"""deploy/ through the real tools: promtool on the compose Prometheus config, kustomize on the manifests,
and the topic script run (with a recording kafka-topics.sh) against the topics the app declares."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stream import topics
from stream.app import create_app
from stream.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.tool]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed")
    return found


def test_compose_prometheus_config_is_valid() -> None:
    run = subprocess.run([_tool("promtool"), "check", "config", "prometheus.yml"], cwd=DEPLOY / "prometheus",
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_kustomize_renders_and_wires_generated_config() -> None:
    run = subprocess.run([_tool("kubectl"), "kustomize", str(DEPLOY / "k8s")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    docs = {f"{d['kind']}/{d['metadata']['name']}": d for d in yaml.safe_load_all(run.stdout)}
    # the generated ConfigMap's name carries a content hash, so config changes roll the workers
    [config_name] = [key.split("/")[1] for key in docs if key.startswith("ConfigMap/alphawatch-config-")]
    for workload in ("StatefulSet/alphawatch", "Job/alphawatch-topics"):
        refs = [r["configMapRef"]["name"] for r in
                docs[workload]["spec"]["template"]["spec"]["containers"][0]["envFrom"] if "configMapRef" in r]
        assert refs == [config_name], workload
    assert "create-topics.sh" in docs["ConfigMap/alphawatch-create-topics"]["data"]
    assert docs["StatefulSet/alphawatch"]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "alphawatch:0.1.0"


def _created(tmp: Path, env: dict[str, str]) -> dict[str, tuple[int, bool]]:
    """Run create-topics.sh with a kafka-topics.sh that records its arguments."""
    record = tmp / "calls"
    fake = tmp / "kafka-topics.sh"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {record}\n')
    fake.chmod(0o755)
    run = subprocess.run(["/bin/sh", str(DEPLOY / "kafka" / "create-topics.sh")], capture_output=True,
                         text=True, env={"PATH": os.environ["PATH"], **env, "KAFKA_BIN": str(tmp)})
    assert run.returncode == 0, run.stderr
    out = {}
    for line in record.read_text().splitlines():
        args = line.split()
        name, partitions = args[args.index("--topic") + 1], int(args[args.index("--partitions") + 1])
        out[name] = (partitions, "cleanup.policy=compact" in args)
    return out


def _expected(settings: Settings) -> dict[str, tuple[int, bool]]:
    """Every public topic, the internal ones and each table's changelog, as the app declares them."""
    app = create_app(settings)
    ctx = app.alphawatch  # type: ignore[attr-defined]
    names = [v for k, v in vars(topics).items() if k.isupper() and isinstance(v, str)]
    out = {settings.topic(n): (settings.partitions, False) for n in names}
    for topic in vars(ctx.topics).values():  # the internal ones too, with their own partition counts
        out[topic.get_topic_name()] = (topic.partitions, bool(topic.compacting))
    for table in app.tables.values():
        out[table.changelog_topic.get_topic_name()] = (table.partitions or settings.partitions, True)
    return out


@pytest.mark.parametrize("source", ["compose", "k8s"])
def test_topic_script_creates_what_the_app_uses(source: str, tmp_path: Path) -> None:
    if source == "compose":
        env = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["x-alphawatch-env"]
    else:
        lines = (DEPLOY / "k8s" / "alphawatch.env").read_text().splitlines()
        env = dict(line.split("=", 1) for line in lines if line)
    env = {k: str(v) for k, v in env.items()}
    created = _created(tmp_path, env)
    settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], partitions=int(env["ALPHAWATCH_PARTITIONS"]))
    expected = _expected(settings)
    missing = {name: spec for name, spec in expected.items() if created.get(name) != spec}
    assert not missing, f"create-topics.sh lacks or misconfigures {missing}"
