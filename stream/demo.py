"""`alphawatch demo`: embedded services, a worker and a simulated fleet, with a live terminal view."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.live import Live
from rich.table import Table

from stream.embedded import free_port, start_redis, start_tansu
from stream.produce import produce
from stream.simulate import Campaign, generate
from stream.topics import ANNOTATIONS


def worker_env(broker: str, redis: str, web_port: int, data_dir: str) -> dict[str, str]:
    return {**os.environ, "ALPHAWATCH_BROKER_URL": broker, "ALPHAWATCH_REDIS_URL": redis,
            "ALPHAWATCH_WEB_PORT": str(web_port), "ALPHAWATCH_DATA_DIR": data_dir,
            "ALPHAWATCH_WINDOWS": '["1h"]', "ALPHAWATCH_GRACE": "5m"}


def fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return orjson.loads(response.read())


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with code {proc.returncode}")
        with contextlib.suppress(Exception):
            if fetch_json(f"http://127.0.0.1:{port}/ready")["ready"]:
                return
        time.sleep(0.5)
    raise TimeoutError("worker not ready")


def counts(port: int) -> dict[str, float]:
    """Totals by outcome from the worker's Prometheus metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for metric, label in (("ingest_events", "outcome"), ("unit_events", "outcome")):
        for line in text.splitlines():
            if line.startswith(f"alphawatch_{metric}_total{{"):
                name = line.split(f'{label}="')[1].split('"')[0]
                out[f"{metric}.{name}"] = out.get(f"{metric}.{name}", 0.0) + float(line.split()[-1])
            if line.startswith("alphawatch_windows_final_total{"):
                out["final"] = out.get("final", 0.0) + float(line.split()[-1])
    return out


def view(rows: list[dict[str, Any]], totals: dict[str, float], sent: int) -> Table:
    title = (f"sent {sent} | ingested valid {totals.get('ingest_events.valid', 0):.0f}, "
             f"dead-lettered {totals.get('ingest_events.invalid', 0):.0f} | applied "
             f"{totals.get('unit_events.applied', 0):.0f}, duplicates "
             f"{totals.get('unit_events.duplicate', 0):.0f} | final window records "
             f"{totals.get('final', 0):.0f}")
    table = Table(title=title, caption="live Krippendorff's alpha, open 1-hour event-time windows")
    for column in ("dimension", "window (UTC)", "alpha", "95% CI", "units", "pairable", "annotators"):
        table.add_column(column)
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["slice"] == "all" and row["window_start"] >= newest.get(row["dimension"], {}).get(
                "window_start", ""):
            newest[row["dimension"]] = row
    for dim, row in sorted(newest.items()):
        ci = f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]" if row["ci_low"] is not None else "-"
        alpha = f"{row['alpha']:.3f}" if row["alpha"] is not None else str(row["alpha_reason"])
        table.add_row(dim, row["window_start"][11:16], alpha, ci, str(row["n_units"]),
                      f"{row['n_pairable_values']:.0f}", str(row["n_annotators"]))
    return table


def campaign_events(n_clips: int) -> list[bytes]:
    """A simulated campaign with two careless annotators, and 1% malformed messages for the DLQ."""
    events = [orjson.dumps(e) for e in generate(Campaign(n_clips=n_clips, careless=2))]
    for index in range(50, len(events), 100):
        events[index] = events[index].replace(b'"scores":{"motion_quality":', b'"scores":{"sharpness":')
    return events


def run_demo(duration: float) -> int:
    console = Console()
    kafka, redis = start_tansu(), start_redis()
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="alphawatch-demo-")
    log = (Path(data_dir) / "worker.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker"],
                            env=worker_env(kafka.url, redis.url, port, data_dir),
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        console.print(f"broker {kafka.url}, redis {redis.url}; waiting for the worker to join...")
        wait_ready(port, proc)
        events = campaign_events(2000)
        rate = len(events) / duration
        asyncio.run(_run(console, kafka.url, port, events, rate))
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        if proc.poll() is None:
            proc.kill()
        redis.stop()
        kafka.stop()
    console.print(f"worker log: {Path(data_dir) / 'worker.log'}")
    return 0


async def _run(console: Console, broker: str, port: int, events: list[bytes], rate: float) -> None:
    started = time.monotonic()
    task = asyncio.create_task(produce(broker, ANNOTATIONS, events, rate=rate))
    with Live(console=console, refresh_per_second=2) as live:
        while not task.done():
            with contextlib.suppress(Exception):
                rows = await asyncio.to_thread(fetch_json, f"http://127.0.0.1:{port}/agreement")
                totals = await asyncio.to_thread(counts, port)
                sent = min(len(events), int((time.monotonic() - started) * rate))
                live.update(view(rows, totals, sent))
            await asyncio.sleep(1.0)
    stats = task.result()
    console.print(f"sent {stats.sent} events in {stats.seconds:.0f}s, failed {stats.failed}")
