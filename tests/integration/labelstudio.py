"""A real Label Studio for the bridge's tests: its own cached venv, SQLite, a REST client."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream.ops.embedded import free_port
from stream.ops.procs import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("label-studio-requirements.txt")
TOKEN = "alphawatch0test0token0for0label0studio0"  # a legacy API token of the first user


def cache_dir() -> Path:
    """Where the venv is kept: outside the checkout, so a fresh clone reuses it (installing took
    about two minutes of `make test`); `ALPHAWATCH_TEST_CACHE` moves it, else the XDG cache."""
    if os.environ.get("ALPHAWATCH_TEST_CACHE"):
        return Path(os.environ["ALPHAWATCH_TEST_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alphawatch"


def venv() -> tuple[Path, float]:
    """The venv's label-studio command and the seconds spent installing (0 when cached). Its
    pins live in label-studio-requirements.txt; a change there installs a new venv beside it."""
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    home = cache_dir()
    home.mkdir(parents=True, exist_ok=True)
    where = home / f"label-studio-{want[:16]}"
    # two test runs at once (two clones) install once: the second waits for the first's stamp
    with open(home / "label-studio.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _installed(where, want)


def _installed(where: Path, want: str) -> tuple[Path, float]:
    stamp, command = where / ".installed", where / "bin" / "label-studio"
    if command.exists() and stamp.exists() and stamp.read_text() == want:
        return command, 0.0
    started = time.monotonic()
    shutil.rmtree(where, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    subprocess.run([str(where / "bin" / "pip"), "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)],
                   check=True)
    stamp.write_text(want)  # last: an install cut short is redone
    return command, time.monotonic() - started


@dataclass
class LabelStudio:
    """One Label Studio server on SQLite in `data`, on a free port; stop() ends it."""

    command: Path
    data: Path
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LabelStudio:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPHAWATCH_", "DJANGO"))}
        env.update({
            "LABEL_STUDIO_BASE_DATA_DIR": str(self.data),
            # webhooks go to the bridge on 127.0.0.1, which SSRF protection refuses by default
            "SSRF_PROTECTION_ENABLED": "false",
            # Label Studio gives a webhook 1 s by default; the bridge answers after the broker acked
            "WEBHOOK_TIMEOUT": "30",
            "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
        })
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.command), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port",
                 str(self.port), "--username", "admin@example.com", "--password", "alphawatch-admin",
                 "--user-token", TOKEN, "--enable-legacy-api-token"],
                env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                start_new_session=True)
        return self

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"Label Studio exited with {self.proc.returncode}; log {self.log}")
        try:
            return self.call("GET", "/api/current-user/whoami")["email"] == "admin@example.com"
        except (OSError, urllib.error.HTTPError):
            return False

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call with the admin's token; the decoded JSON answer (None when empty)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Token {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None
