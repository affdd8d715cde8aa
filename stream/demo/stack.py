"""The demo's processes: embedded broker, Redis and a worker, started together and always stopped together."""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from stream.ops.embedded import Service, free_port, start_redis, start_tansu
from stream.ops.worker import Worker

# Demo settings: one-hour windows and two-hour batches (the campaign's seven event-time hours
# close several of each), and a gold minimum of 6 answers, so annotators are judged within minutes
# of demo (production: 1w batches, 20 answers)
DEMO: dict[str, Any] = {"windows": ["1h"], "grace": "5m", "gold_min_answers": 6, "batch_length": "2h",
                        "batch_salt": "alphawatch-demo"}
DEMO_SETTINGS = {f"ALPHAWATCH_{k.upper()}": v if isinstance(v, str) else orjson.dumps(v).decode()
                 for k, v in DEMO.items()}


@dataclass
class Stack:
    """Everything the demo started; stop() ends it all, whatever state startup reached."""

    out: Path
    services: list[Service] = field(default_factory=list)
    worker: Worker | None = None
    port: int = 0

    @property
    def broker_url(self) -> str:
        return self.services[0].url

    @property
    def redis_url(self) -> str:
        return self.services[1].url

    @property
    def page_url(self) -> str:
        """The worker's live page (no token: the demo's worker answers on loopback only)."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def pids(self) -> list[int]:
        own = [self.worker.pid] if self.worker is not None and self.worker.pid is not None else []
        return own + [pid for service in self.services for pid in service.pids]

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWATCH_")}
        return {**base, **DEMO_SETTINGS, "ALPHAWATCH_BROKER_URL": self.broker_url,
                "ALPHAWATCH_REDIS_URL": self.redis_url,
                "ALPHAWATCH_DATA_DIR": str(self.out / "worker-data")}

    def stop(self) -> None:
        """Worker first (it flushes to the broker), then Redis and the broker."""
        if self.worker is not None:
            self.worker.stop(timeout=20)
        for service in reversed(self.services):
            service.stop()
        self.services.clear()


def start(stack: Stack) -> None:
    """Broker, Redis, then a worker; fills `stack` as it goes so a failure or Ctrl-C stops what runs.

    Each runs in a session of its own: a terminal's Ctrl-C goes to the whole foreground process
    group, and a broker that quit at once would leave the demo's producer and the worker retrying
    against it; this way only the demo gets the signal and stops them in order (stop())."""
    stack.out.mkdir(parents=True, exist_ok=True)
    stack.services.append(start_tansu(log=stack.out / "broker.log", new_session=True))
    stack.services.append(start_redis(new_session=True))
    stack.port = free_port()
    stack.worker = Worker(stack.env(), stack.out / "worker.log", stack.port, new_session=True).start()


def get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
        return response.read()


def wait_ready(stack: Stack, timeout: float = 180.0) -> None:
    """Until the worker has joined its group and recovered its tables (its /ready answers true)."""
    assert stack.worker is not None
    stack.worker.wait_ready(timeout)


COUNTERS = {"alphawatch_ingest_events_total": "outcome", "alphawatch_unit_events_total": "outcome"}


def counters(port: int) -> dict[str, float]:
    """The worker's ingest and units counters by outcome (valid, invalid, applied, duplicate, late...)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(get(port, "/metrics").decode()):
        for sample in family.samples:
            label = COUNTERS.get(sample.name)
            if label is not None:
                name = sample.labels.get(label, "")
                out[name] = out.get(name, 0.0) + sample.value
    return out
