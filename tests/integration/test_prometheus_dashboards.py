"""Every query of the committed Grafana dashboards returns data from a real Prometheus scraping a real worker.

One worker on the embedded broker processes a simulated campaign (an ambiguous dimension that raises a
flag, pairwise units, duplicates, malformed messages, a closing watermark, a webhook receiver); the
`prometheus` binary (Debian package, `make tools`) scrapes it every second. Each panel query, variable
query and annotation is one test case, so a failure names exactly the panel that shows nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.gold import GoldKeyRow
from stream.campaign.simulate import Campaign, generate, gold_key
from stream.io.produce import closing_watermark, produce, send_watermark
from stream.ops.dashboards import DASHBOARDS, OUT
from stream.ops.embedded import free_port, wait_for_port
from stream.ops.procs import die_with_parent
from stream.qualification.goldkey import publish_gold_key
from stream.settings import Settings
from tests.integration.helpers import Worker, metric, wait_until, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.tool]

PROJECT = "t2v-rlhf-q4"
RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "30m"}


@dataclass(frozen=True)
class Query:
    """One expression the dashboards run, with the repeat variables Grafana expands it over."""

    dashboard: str
    title: str
    expr: str
    repeats: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.dashboard.removesuffix('.json')}/{self.title}"


def _panel_queries(name: str, doc: dict[str, Any]) -> Iterator[Query]:
    row_repeat: tuple[str, ...] = ()
    for panel in doc["panels"]:
        if panel["type"] == "row":
            row_repeat = (panel["repeat"],) if panel.get("repeat") else ()
            continue
        own = (panel["repeat"],) if panel.get("repeat") else ()
        for target in panel.get("targets", []):
            yield Query(name, f"{panel['title']} [{target['refId']}]", target["expr"], row_repeat + own)


def collect() -> list[Query]:
    """Panels, annotations and query variables of every committed dashboard file."""
    out: list[Query] = []
    for name in DASHBOARDS:
        doc = json.loads((OUT / name).read_text())
        out += _panel_queries(name, doc)
        out += [Query(name, f"annotation {a['name']}", a["expr"]) for a in doc["annotations"].get("list", [])]
        out += [Query(name, f"variable ${v['name']}", v["query"]) for v in doc["templating"]["list"]
                if v["type"] == "query"]
    return out


class Prometheus:
    """The real server on a free port with a temporary config and storage."""

    def __init__(self, tmp: Path, target: str):
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is missing: `make tools` installs Debian's prometheus package")
        self.port = free_port()
        config = tmp / "prometheus.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "alphawatch", "static_configs": [
                {"targets": [target], "labels": {"project": PROJECT}}]}],
        }))
        self.log = (tmp / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent)
        wait_for_port("127.0.0.1", self.port, 30)
        self.started = time.time()

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def range(self, expr: str) -> list[Any]:
        """What a Grafana panel would plot over the test's time span."""
        now = time.time()
        return list(self.api("query_range", query=expr, start=f"{self.started:.3f}", end=f"{now:.3f}",
                             step="1")["result"])

    def scalar(self, expr: str) -> float:
        result = self.api("query", query=expr)["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


class Hook(BaseHTTPRequestHandler):
    """Webhook receiver: accepts every flag delivery."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _traffic(kafka_url: str, env: dict[str, str]) -> int:
    """A campaign whose text_alignment turns ambiguous (one flag), with pairwise units, gold items
    (key loaded first), 200 replayed duplicates, 30 malformed messages and a watermark that closes
    every window; returns valid events."""
    campaign = Campaign(seed=21, n_clips=3000, ambiguous_dimension="text_alignment", ambiguous_from=1500,
                        gold_share=0.1)
    settings = Settings(app_id=env["ALPHAWATCH_APP_ID"], topic_prefix=env["ALPHAWATCH_TOPIC_PREFIX"],
                        broker_url=kafka_url, redis_url=env["ALPHAWATCH_REDIS_URL"])
    asyncio.run(publish_gold_key(settings, [GoldKeyRow.model_validate(r) for r in gold_key(campaign)]))
    topic = settings.topic("annotations")
    lines = [orjson.dumps(e) for e in generate(campaign)]
    junk = [b"not json"] * 10 + [orjson.dumps({**orjson.loads(lines[i]), "scores": {"sharpness": 3}})
                                 for i in range(20)]
    asyncio.run(produce(kafka_url, topic, lines + lines[:200] + junk))
    mark = closing_watermark(lines, Settings(windows=["1h"]))
    asyncio.run(send_watermark(kafka_url, topic, mark, Settings().partitions))
    return len(lines) + 200


@pytest.fixture(scope="module")
def prom(kafka_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    tmp = tmp_path_factory.mktemp("prometheus-dashboards")
    hooks = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    # a low gold minimum, so this short campaign's annotators get judged (gold-agreement histogram) and
    # qualify (the leaderboard counts qualified voters' pairwise votes); a short ranking refit cadence
    env = worker_env(kafka_url, redis_url, tmp, ALPHAWATCH_WINDOWS='["1h"]', ALPHAWATCH_GOLD_MIN_ANSWERS="3",
                     ALPHAWATCH_RANKING_REFIT_S="2",
                     ALPHAWATCH_WEBHOOKS=f'["http://127.0.0.1:{hooks.server_port}/hook"]',
                     ALPHAWATCH_WEBHOOK_ALLOW_HTTP="true", ALPHAWATCH_WEBHOOK_SECRET="s3cret")
    worker = Worker(env, tmp / "worker.log").start()
    server = Prometheus(tmp, f"127.0.0.1:{worker.port}")
    try:
        wait_until(worker.ready, 120, "worker to join")
        expected = _traffic(kafka_url, env)
        done = {"alphawatch_unit_events_total": expected, "alphawatch_windows_final_total": 1,
                "alphawatch_webhook_deliveries_total": 1, "alphawatch_gold_agreement_count": 1,
                "alphawatch_ranking_votes": 1}
        wait_until(lambda: all(metric(worker.metrics(), k) >= v for k, v in done.items()), 300,
                   f"worker to process {expected} events, close windows and deliver a flag")
        # Prometheus has scraped the final state, and rate() and increase() have samples around it
        wait_until(lambda: all(server.scalar(f"sum({k})") >= v for k, v in done.items()), 60, "scrapes")
        wait_until(lambda: all(server.scalar(f"min(count_over_time({k}[1m]))") >= 5 for k in done), 60,
                   "five scrapes of the final state")
        yield server
    finally:
        server.stop()
        worker.stop()
        hooks.shutdown()


def _values(prom: Prometheus, query: str) -> list[str]:
    """A `label_values(selector, label)` variable, as Grafana's Prometheus data source resolves it."""
    match = re.fullmatch(r"label_values\((.*), *(\w+)\)", query)
    assert match, query
    selector, label = match.groups()
    return sorted(prom.api(f"label/{label}/values", **{"match[]": _fill(prom, selector, {})}))


def _variables(name: str) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in json.loads((OUT / name).read_text())["templating"]["list"]}


def _fill(prom: Prometheus, expr: str, chosen: dict[str, str], dashboard: str | None = None) -> str:
    """Substitute variables as Grafana does: the repeat value, else the default selection, else All
    (`.*`) for multi-value variables, else the first value; then the built-in intervals."""
    for key, value in BUILTINS.items():
        expr = expr.replace(key, value)
    if dashboard is None:
        return expr.replace("$project", ".*")
    for var_name, var in _variables(dashboard).items():
        if f"${var_name}" not in expr:
            continue
        value = chosen.get(var_name)
        if value is None and var.get("current"):
            value = ".*" if var["current"]["value"] == "$__all" else var["current"]["value"]
        if value is None:
            value = ".*" if var.get("includeAll") else _values(prom, var["query"])[0]
        expr = expr.replace(f"${var_name}", value)
    return expr


QUERIES = collect()


@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_query_returns_data(prom: Prometheus, query: Query) -> None:
    if query.title.startswith("variable "):
        assert _values(prom, _fill(prom, query.expr, {}, query.dashboard)), f"{query.id}: no values"
        return
    options = [_values(prom, _variables(query.dashboard)[r]["query"]) for r in query.repeats]
    empty = []
    for combo in itertools.product(*options):
        expr = _fill(prom, query.expr, dict(zip(query.repeats, combo, strict=True)), query.dashboard)
        if not any(series["values"] for series in prom.range(expr)):
            empty.append(f"{dict(zip(query.repeats, combo, strict=True))}: {expr}")
    assert not empty, f"{query.id} returns nothing for\n" + "\n".join(empty)


def test_alert_rules_evaluate_on_real_metrics(prom: Prometheus) -> None:
    groups = prom.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert rules and all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
