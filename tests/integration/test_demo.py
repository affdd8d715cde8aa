"""`alphawatch demo` end to end on the real embedded broker and Redis: the story happens, nothing is left."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from stream.ops.procs import die_with_parent
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.integration


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc: the demo's broker, Redis and worker)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def _demo(tmp_path: Path, duration: int) -> tuple[subprocess.Popen[bytes], Path]:
    """The demo as a terminal's foreground job: a process group of its own, which Ctrl-C signals."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWATCH_")}
    log = tmp_path / "demo.out"
    with log.open("wb") as out:
        command = [sys.executable, "-m", "stream.cli.main", "demo", "--duration", str(duration),
                   "--out", str(tmp_path / "demo")]
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_foreground)
    return proc, log


def _foreground() -> None:
    """A terminal's foreground job takes Ctrl-C: a runner started in the background (`make test &`)
    passes SIGINT on ignored, and Python then never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    die_with_parent()


def test_demo_runs_the_story_and_leaves_no_process(tmp_path: Path) -> None:
    proc, log = _demo(tmp_path, 40)
    seen: set[int] = set()

    def finished() -> bool:
        seen.update(descendants(proc.pid))
        return proc.poll() is not None

    wait_until(finished, 540, "the demo to finish", every=1.0)
    assert proc.returncode == 0, log.read_text()[-3000:]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert "text_alignment" in summary["flagged_dimensions"]  # the ambiguous guideline was flagged
    assert summary["retraining"] == ["ann-0019"]  # the careless annotator, and nobody else
    assert summary["sent"] == summary["planned"] and summary["final_windows"] >= 7 * 4
    assert summary["batch_records"] > 0 and len(summary["batches_closed"]) >= 2  # 2-hour demo batches
    assert len(summary["pids"]) == 3 and set(summary["pids"]) <= seen
    assert not [pid for pid in seen if alive(pid)]
    view = (tmp_path / "demo" / "liveview.txt").read_text()
    assert "FLAG" in view and "retraining: ann-0019" in view
    report = Path(summary["report"])
    assert report.is_file() and (report.parent / "alpha_over_time.png").stat().st_size > 10_000
    output = log.read_text()
    assert "found: flags on" in output and f"report: {report}" in output


def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """Mid-run Ctrl-C: the demo stops the worker, Redis and the broker in order, and exits 130."""
    proc, log = _demo(tmp_path, 600)
    try:
        wait_until(lambda: "annotating" in log.read_text() or proc.poll() is not None, 240,
                   "the demo to start annotating")
        children = descendants(proc.pid)
        assert proc.poll() is None and len(children) >= 3, log.read_text()
        # the printed URL serves the live page while the demo runs
        url = re.search(r"live page, while the demo runs: (http://127\.0\.0\.1:\d+/)", log.read_text())
        assert url is not None, log.read_text()
        with urllib.request.urlopen(url.group(1), timeout=5) as page:
            assert b"alphawatch" in page.read() and page.headers["Content-Type"].startswith("text/html")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, log.read_text()[-3000:]
    assert not [pid for pid in children if alive(pid)]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["interrupted"] is True and set(summary["pids"]) <= children


def test_embedded_stops_its_services_on_sigterm(tmp_path: Path) -> None:
    """`alphawatch embedded` (the README's three-terminal setup) leaves nothing behind either."""
    log = tmp_path / "embedded.out"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "stream.cli.main", "embedded", "--kafka-port", "0",
                                 "--redis-port", "0"], stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=die_with_parent)
    try:
        wait_until(lambda: "ALPHAWATCH_REDIS_URL=" in log.read_text(), 60, "the services' URLs")
        children = descendants(proc.pid)
        assert len(children) == 2
        proc.terminate()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not [pid for pid in children if alive(pid)]
