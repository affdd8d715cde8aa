"""Grafana dashboards: committed JSON equals the builders' output; panels and provisioning fit together."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from stream.ops.dashboards import DASHBOARDS, OUT, render, stale

ROOT = Path(__file__).resolve().parents[3]
METRICS_DOC = ROOT / "docs" / "web-and-metrics.md"


def _targets(doc: dict) -> list[dict]:
    return [t for p in doc["panels"] for t in p.get("targets", [])]


def test_committed_dashboards_are_current() -> None:
    assert stale() == [], "run `make dashboards` and commit grafana/dashboards/"


def test_stale_detects_an_edited_file(tmp_path: Path) -> None:
    for name, build in DASHBOARDS.items():
        (tmp_path / name).write_text(render(build))
    assert stale(tmp_path) == []
    first = next(iter(DASHBOARDS))
    (tmp_path / first).write_text((tmp_path / first).read_text().replace("alphawatch_alpha", "x"))
    assert stale(tmp_path) == [first]


def test_every_query_uses_the_datasource_variable_and_the_project_filter() -> None:
    for name in DASHBOARDS:
        doc = json.loads((OUT / name).read_text())
        queries = [*_targets(doc), *doc["annotations"].get("list", [])]
        assert queries
        for query in queries:
            assert query["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert 'project=~"$project"' in query["expr"], query["expr"]


def test_every_alphawatch_metric_in_a_panel_is_documented() -> None:
    documented = set(re.findall(r"`(alphawatch_[a-z_]+)`", METRICS_DOC.read_text()))
    for name in DASHBOARDS:
        doc = json.loads((OUT / name).read_text())
        used = {re.sub(r"_(bucket|sum|count)$", "", metric)
                for query in [*_targets(doc), *doc["annotations"].get("list", [])]
                for metric in re.findall(r"alphawatch_[a-z_]+", query["expr"])}
        assert used - documented == set(), f"{name}: add metric rows to docs/web-and-metrics.md"


def test_provisioning_points_at_the_dashboards_and_prometheus() -> None:
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/alphawatch.yml").read_text())
    source = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/alphawatch"
    assert source["datasources"][0]["type"] == "prometheus"
    uids = {json.loads((OUT / name).read_text())["uid"] for name in DASHBOARDS}
    assert uids == {"alphawatch-agreement", "alphawatch-pipeline"}
