"""The worker's web endpoints on a real worker: a bearer token for all but health, readiness, metrics and
the live page's own files."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from stream.webpage.assets import read
from tests.integration.helpers import Worker, wait_until, worker_env

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
PROTECTED = ["/agreement", "/agreement/motion_quality", "/annotators", "/annotators?state=qualified",
             "/annotators/ann-1", "/rankings/t2v", "/flags", "/batches", "/config"]
# the live page's HTML, script and style: the package's files, no data (the page asks for the token)
PAGE = ["/", "/static/livepage.js", "/static/livepage.css"]
OPEN = ["/healthz", "/ready", "/metrics", *PAGE]
FAUST_VIEWS = ["/router", "/table", "/graph", "/stats"]


def _status(port: int, path: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _error(port: int, path: str) -> tuple[int, str]:
    """Status and the start of the JSON error of a request that fails (with the token)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    return caught.value.code, str(json.loads(caught.value.read())["error"])


def test_every_endpoint_but_health_needs_the_token(kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WEB_TOKEN=TOKEN,
                     ALPHAWATCH_WEB_HOST="0.0.0.0", ALPHAWATCH_LOG_LEVEL="warn")  # the default level
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        wait_until(worker.ready, 120, "worker to join its group")
        port = worker.port
        # the one line a user reads first says where the worker answers
        ready_line = f"alphawatch worker ready: agreement http://localhost:{port}/agreement"
        assert ready_line in worker.log.read_text()
        assert {p: _status(port, p) for p in PROTECTED} == dict.fromkeys(PROTECTED, 401)
        assert {p: _status(port, p, "wrong") for p in PROTECTED} == dict.fromkeys(PROTECTED, 401)
        with_token = {p: _status(port, p, TOKEN) for p in PROTECTED}
        assert all(code != 401 for code in with_token.values()), with_token
        assert with_token["/agreement"] == 200 and with_token["/annotators"] == 200
        # finals and filters: errors are JSON naming what is wrong
        assert _status(port, "/agreement?state=final&window=1h&slice=all", TOKEN) == 200
        code, message = _error(port, "/agreement/realism")
        assert code == 404 and message.startswith("unknown dimension 'realism'"), message
        code, message = _error(port, "/agreement?state=closed")
        assert code == 400 and message.startswith("state must be one of"), message
        code, message = _error(port, "/agreement/motion_quality?from=yesterday")
        assert code == 400 and message.startswith("from must be"), message
        assert {p: _status(port, p) for p in OPEN} == dict.fromkeys(OPEN, 200)
        for path in PAGE:  # byte for byte the shipped file: nothing of this deployment in it
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                assert resp.read() == read(path)
        assert _status(port, "/batches?limit=0", TOKEN) == 400
        # Faust's own views (cluster layout, raw tables) are not served, token or not
        assert all(_status(port, p, TOKEN) == 404 for p in FAUST_VIEWS)
    finally:
        worker.stop()
