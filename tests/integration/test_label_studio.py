"""The Label Studio bridge against a real Label Studio (SQLite, its own cached venv): what Label
Studio holds is what reaches `annotations`, its export maps to the same events, and the worker's
finals equal the `krippendorff` package on the matrix built from Label Studio's export."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from stream.campaign.simulate import Campaign, generate
from stream.cli.main import cli
from stream.io.produce import send_watermark
from stream.ops.accounting import finals_of
from stream.ops.embedded import free_port
from stream.ops.procs import die_with_parent
from stream.settings import DEFAULT_DIMENSIONS
from tests.integration.helpers import Worker, read_topic, wait_until, worker_env
from tests.integration.labelstudio import ROOT, LabelStudio, venv

# the first run installs Label Studio (about 2 minutes here) before the test's own deadlines
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

DEPLOY = ROOT / "deploy" / "label-studio"
SECRET = "bridge-secret-for-the-test"
N_TASKS, N_USERS, GOLD_EVERY = 60, 4, 20  # 3 gold tasks: 5%
ACTIONS = ["ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    command, installed_s = venv()
    tmp = tmp_path_factory.mktemp("label-studio")
    server = LabelStudio(command, tmp / "data", tmp / "label-studio.log").start()
    started = time.monotonic()
    try:
        wait_until(server.ready, 300, "Label Studio to answer its API", every=1.0,
                   detail=lambda: server.log.read_text(errors="replace")[-800:])
        took = time.monotonic() - started
        print(f"\nLabel Studio: install {installed_s:.0f} s (0: cached), start {took:.0f} s")
        yield server
    finally:
        server.stop()


class Bridge:
    """`alphawatch bridge label-studio` as its own process."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.env = {**env, "ALPHAWATCH_BRIDGE_PORT": str(self.port), "ALPHAWATCH_BRIDGE_SECRET": SECRET,
                    "ALPHAWATCH_BRIDGE_MAPPING": str(DEPLOY / "mapping.toml")}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Bridge:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "stream.cli.main", "bridge", "label-studio"],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent)
        return self

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"bridge exited with {self.proc.returncode}: {self.log.read_text()[-600:]}")
        try:
            return self.post_raw("GET", "/healthz", None, {})[0] == 200
        except OSError:
            return False

    def post(self, body: bytes, secret: str = SECRET) -> tuple[int, Any]:
        return self.post_raw("POST", "/webhook", body, {"Authorization": f"Bearer {secret}"})

    def post_raw(self, method: str, path: str, body: bytes | None,
                 headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _campaign() -> list[dict[str, Any]]:
    """60 clips from the simulator, 3 ratings each by 3 of 4 annotators (alpha about 0.8)."""
    campaign = Campaign(seed=11, n_clips=N_TASKS, n_annotators=N_USERS, pairwise_share=0.0)
    return [e for e in generate(campaign) if e["kind"] == "rating"]


def _task_data(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    clips: dict[str, dict[str, Any]] = {}
    for event in events:
        clip = event["clip"]
        clips.setdefault(event["clip_id"], {
            "clip_id": event["clip_id"], "model_id": clip["model_id"], "modality": clip["modality"],
            "source_category": clip["source_category"], "prompt": clip["prompt"],
            "video_url": f"https://videos.example.com/{event['clip_id']}.mp4"})
    tasks = list(clips.values())
    for index in range(0, len(tasks), GOLD_EVERY):
        tasks[index]["gold_item_id"] = f"gold-{tasks[index]['clip_id']}"
    return tasks


def _result(scores: dict[str, int]) -> list[dict[str, Any]]:
    return [{"from_name": d, "to_name": "video", "type": "rating", "value": {"rating": s}}
            for d, s in scores.items()]


def _project(ls: LabelStudio, bridge: Bridge) -> int:
    """A project with the shipped rating config and the bridge's webhook, its tasks imported."""
    project = ls.call("POST", "/api/projects/", {"title": "alphawatch bridge test",
                                                  "label_config": (DEPLOY / "rating.xml").read_text()})
    ls.call("POST", "/api/webhooks/", {
        "project": project["id"], "url": f"{bridge.url}/webhook", "send_payload": True,
        "send_for_all_actions": False, "actions": ACTIONS, "headers": {"Authorization": f"Bearer {SECRET}"},
        "is_active": True})
    return int(project["id"])


def _users(ls: LabelStudio) -> list[int]:
    return [int(ls.call("POST", "/api/users/", {"email": f"annotator{i}@example.com", "username": f"ann{i}",
                                                 "password": "annotator-password"})["id"])
            for i in range(N_USERS)]


def _annotate(ls: LabelStudio, project: int, users: list[int],
              events: list[dict[str, Any]]) -> dict[str, Any]:
    """Each simulated answer from its annotator's Label Studio user; then updates, deletions and a
    skipped task. Returns what was done, by annotation id."""
    ls.call("POST", f"/api/projects/{project}/import", _task_data(events))
    listed = ls.call("GET", f"/api/tasks/?project={project}&page_size=1000")["tasks"]
    task_of = {t["data"]["clip_id"]: int(t["id"]) for t in listed}
    assert len(task_of) == N_TASKS
    created = []
    for event in events:
        user = users[int(event["annotator_id"].rsplit("-", 1)[1]) % N_USERS]
        note = ls.call("POST", f"/api/tasks/{task_of[event['clip_id']]}/annotations/",
                       {"result": _result(event["scores"]), "completed_by": user})
        created.append(note)
    updated = created[5:65:10]  # 6 revisions: new stars on one dimension
    for note in updated:
        stars = note["result"][0]["value"]["rating"]
        ls.call("PATCH", f"/api/annotations/{note['id']}/",
                {"result": [{**note["result"][0], "value": {"rating": 6 - stars}}, *note["result"][1:]]})
    deleted = created[7:37:10]  # 3 deletions (one of them after nothing else happened to it)
    for note in deleted:
        ls.call("DELETE", f"/api/annotations/{note['id']}/")
    answered = {(n["task"], n["completed_by"]) for n in created}
    task, user = next((t, u) for t in task_of.values() for u in users if (t, u) not in answered)
    ls.call("POST", f"/api/tasks/{task}/annotations/", {"result": [], "was_cancelled": True,
                                                        "completed_by": user})
    return {"created": created, "updated": updated, "deleted": deleted, "task_of": task_of}


def _current(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each annotator's latest answer per unit, retractions applied: what the stream counts."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: (datetime.fromisoformat(e["submitted_at"]), e["event_id"])):
        unit = event.get("clip_id") or event.get("unit_id")
        latest[(event["annotator_id"], unit)] = event
    return sorted((e for e in latest.values() if e["kind"] != "retraction"), key=lambda e: e["event_id"])


def _reference(export: list[dict[str, Any]], windows: dict[str, int]) -> dict[tuple[str, int], float]:
    """krippendorff (ordinal, 1-5) on annotators x units matrices built from Label Studio's export
    alone: one matrix per dimension and event-time window of the units."""
    users = sorted({a["completed_by"] for t in export for a in t["annotations"]})
    out = {}
    for window in sorted(set(windows.values())):
        tasks = [t for t in export if windows.get(t["data"]["clip_id"]) == window]
        for dimension in DEFAULT_DIMENSIONS:
            matrix = np.full((len(users), len(tasks)), np.nan)
            for column, task in enumerate(tasks):
                for note in task["annotations"]:
                    if note["was_cancelled"]:
                        continue
                    for result in note["result"]:
                        if result["from_name"] == dimension:
                            matrix[users.index(note["completed_by"]), column] = result["value"]["rating"]
            out[(dimension, window)] = float(krippendorff.alpha(
                reliability_data=matrix, value_domain=[1, 2, 3, 4, 5], level_of_measurement="ordinal"))
    return out


def _hour(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp()) // 3600 * 3600


def test_label_studio_to_agreement(kafka_url: str, redis_url: str, label_studio: LabelStudio,
                                   tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WINDOWS="1h", ALPHAWATCH_GRACE="1s",
                     ALPHAWATCH_MAX_CLOCK_SKEW="2h")
    prefix = env["ALPHAWATCH_TOPIC_PREFIX"]
    worker = Worker(env, tmp_path / "worker.log").start()
    bridge = Bridge(env, tmp_path / "bridge.log").start()
    try:
        wait_until(bridge.healthy, 60, "the bridge's /healthz")
        worker.wait_ready(240)
        project = _project(label_studio, bridge)
        done = _annotate(label_studio, project, _users(label_studio), _campaign())
        _check_bridge_answers(bridge, label_studio, done)
        export = label_studio.call("GET", f"/api/projects/{project}/export?exportType=JSON")
        events = _check_topic_is_label_studio(kafka_url, prefix, export, done, env, tmp_path)
        _check_finals(kafka_url, prefix, worker, export, events)
    finally:
        bridge.stop()
        worker.stop()
    assert bridge.proc is not None and bridge.proc.returncode == 0, bridge.log.read_text()[-600:]


def _check_bridge_answers(bridge: Bridge, ls: LabelStudio, done: dict[str, Any]) -> None:
    """A redelivery changes nothing; an unmappable annotation is dead-lettered with a 2xx; a body
    that is not a webhook gets a 400; a wrong secret a 401."""
    note = ls.call("GET", f"/api/annotations/{done['created'][0]['id']}/")
    task = ls.call("GET", f"/api/tasks/{note['task']}/")
    again = orjson.dumps({"action": "ANNOTATION_CREATED", "annotation": note, "task": task})
    assert bridge.post(again) == (200, {"produced": 0, "duplicate": 1, "skipped": 0, "dead_lettered": 0})
    orphan = orjson.dumps({"action": "ANNOTATION_CREATED", "annotation": note,
                           "task": {**task, "data": {"prompt": "a clip without an id"}}})
    assert bridge.post(orphan) == (200, {"produced": 0, "duplicate": 0, "skipped": 0, "dead_lettered": 1})
    assert bridge.post(b"<html>")[0] == 400
    assert bridge.post(again, secret="wrong")[0] == 401


def _check_topic_is_label_studio(kafka_url: str, prefix: str, export: list[dict[str, Any]],
                                 done: dict[str, Any], env: dict[str, str], tmp_path: Path) -> list[bytes]:
    """The topic holds every annotation, revision and retraction; its current answers are the
    export's annotations, event for event, and `import label-studio` maps the export to them."""
    path, out = tmp_path / "export.json", tmp_path / "imported.jsonl"
    path.write_bytes(orjson.dumps(export))
    result = CliRunner().invoke(cli, ["import", "label-studio", str(path), "--out", str(out),
                                      "--mapping", str(DEPLOY / "mapping.toml")], env=env)
    assert result.exit_code == 0, result.output
    imported = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    expected = len(done["created"]) + len(done["updated"]) + len(done["deleted"])
    records = wait_until(lambda: (r := read_topic(kafka_url, prefix + "annotations", 10)) and
                         len(r) >= expected and r, 60, f"{expected} events on annotations")
    events = [orjson.loads(r.value) for r in records]
    assert len(events) == expected
    assert sum(e["kind"] == "retraction" for e in events) == len(done["deleted"])
    units = [(e.get("clip_id") or e.get("unit_id")).encode() for e in events]
    assert [r.key for r in records] == units
    held = [a for t in export for a in t["annotations"] if not a["was_cancelled"]]
    assert len(imported) == len(held) == len(done["created"]) - len(done["deleted"])
    assert _current(events) == sorted(imported, key=lambda e: e["event_id"])
    gold = {e["clip_id"] for e in imported if e["gold_item_id"]}
    assert len(gold) == N_TASKS // GOLD_EVERY
    letters = [orjson.loads(r.value) for r in read_topic(kafka_url, prefix + "annotations-dlq", 10)]
    assert [d["reason"] for d in letters] == ["missing_task_field"]
    return [r.value for r in records]


def _check_finals(kafka_url: str, prefix: str, worker: Worker, export: list[dict[str, Any]],
                  events: list[bytes]) -> None:
    """Close every window with a watermark; each final's alpha is krippendorff's on the export."""
    decoded = [orjson.loads(v) for v in events]
    first: dict[str, int] = {}
    for event in decoded:  # a unit belongs to the window of its first answer
        first.setdefault(event.get("clip_id") or event["unit_id"], _hour(event["submitted_at"]))
    newest = max(datetime.fromisoformat(e["submitted_at"]) for e in decoded)
    mark = (newest + timedelta(hours=1, seconds=2)).astimezone(UTC).isoformat()
    asyncio.run(send_watermark(kafka_url, prefix + "annotations", mark, partitions=4))
    want = _reference(export, first)

    def finals() -> dict[Any, list[dict[str, Any]]]:
        found = finals_of(m.value for m in read_topic(kafka_url, prefix + "agreement", 10))
        keyed = {k: v for k, v in found.items() if k[1] == "all" and k[0] in DEFAULT_DIMENSIONS}
        return keyed if len(keyed) >= len(want) else {}

    got = wait_until(finals, 180, f"{len(want)} finals (slice all)", every=1.0,
                     detail=lambda: worker.describe("alphawatch_unit_events_total"))
    assert len(got) == len(want)
    for (dimension, _, _, start), records in got.items():
        window = int(datetime.fromisoformat(start).timestamp())
        for record in records:
            assert math.isclose(record["alpha"], want[(dimension, window)], abs_tol=1e-9), (dimension, start)
            assert record["n_units"] == sum(1 for unit, w in first.items() if w == window)
