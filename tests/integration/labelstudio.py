"""A real Label Studio for the bridge's tests: its own cached venv under var/, SQLite, a REST client."""

from __future__ import annotations

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
VENV = ROOT / "var" / "label-studio-venv"
TOKEN = "alphawatch0test0token0for0label0studio0"  # a legacy API token of the first user


def venv() -> tuple[Path, float]:
    """The venv's label-studio command and the seconds spent installing (0 when cached). Its
    pins live in label-studio-requirements.txt; a change there reinstalls."""
    stamp = VENV / ".installed"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    command = VENV / "bin" / "label-studio"
    if command.exists() and stamp.exists() and stamp.read_text() == want:
        return command, 0.0
    started = time.monotonic()
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)],
                   check=True)
    stamp.write_text(want)
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
