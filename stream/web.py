"""HTTP views on the Faust web server: agreement, health, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.security import aiokafka_auth

if TYPE_CHECKING:
    from stream.app import Context
    from stream.settings import Settings


class AgreementView:
    """Open windows' newest records, tailed from the agreement topic so every worker can answer."""

    def __init__(self, keep_alphas: int = 20_000) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        # newest alpha per (dimension, window size, window start epoch) of slice `all`, finals
        # included, for batch records; bounded, oldest first out
        self.alphas: dict[tuple[str, int, int], float | None] = {}
        self.keep_alphas = keep_alphas

    def alpha_of(self, dimension: str, window_size_s: int, window_start: int) -> float | None:
        return self.alphas.get((dimension, window_size_s, window_start))

    def apply(self, value: bytes) -> None:
        record = orjson.loads(value)
        key = "|".join(str(record[f]) for f in ("dimension", "slice", "window_size_s", "window_start"))
        if record["slice"] == "all":
            start = int(datetime.fromisoformat(record["window_start"]).timestamp())
            self.alphas.pop((record["dimension"], record["window_size_s"], start), None)
            self.alphas[(record["dimension"], record["window_size_s"], start)] = record["alpha"]
            if len(self.alphas) > self.keep_alphas:
                del self.alphas[next(iter(self.alphas))]
        if record["final"]:
            self.records.pop(key, None)
        else:
            self.records[key] = record

    def select(self, dimension: str | None = None) -> list[dict[str, Any]]:
        rows = [r for r in self.records.values() if dimension in (None, r["dimension"])]
        return sorted(rows, key=lambda r: (r["dimension"], r["slice"], r["window_size_s"],
                                           r["window_start"]))


def bootstrap_servers(broker_url: str) -> str:
    return ",".join(part.split("://", 1)[-1] for part in broker_url.split(";"))


async def tail_topic(settings: Settings, topic: str, apply: Callable[[bytes], None]) -> None:
    """Read `topic` from the beginning and on, outside the consumer group, into an in-memory view
    (every worker answers the web views)."""
    consumer = AIOKafkaConsumer(topic, group_id=None, auto_offset_reset="earliest",
                                bootstrap_servers=bootstrap_servers(settings.broker_url),
                                **aiokafka_auth(settings))
    while True:  # the topic may not exist yet on a fresh cluster
        with contextlib.suppress(Exception):
            await consumer.start()
            break
        await asyncio.sleep(1.0)
    try:
        async for message in consumer:
            apply(message.value)
    finally:
        await consumer.stop()


def register(app: faust.App, ctx: Context) -> None:
    view = ctx.agreement_view

    @app.task
    async def tail_agreement() -> None:
        await tail_topic(ctx.settings, ctx.topics.agreement.get_topic_name(), view.apply)

    @app.timer(5.0)
    async def measure_lag() -> None:
        """Highwater minus the next offset to read, for each partition this worker owns."""
        consumer = app.consumer
        owned = consumer.assignment()
        ctx.metrics.lag.clear()  # partitions move between workers: report only owned ones
        for tp in owned:
            highwater = consumer.highwater(tp)
            # Faust keeps no public read position: last offset read, else the committed one
            read = getattr(consumer, "_read_offset", {}).get(tp)
            position = read + 1 if read is not None else getattr(
                consumer, "_committed_offset", {}).get(tp)
            if highwater is not None and highwater >= 0 and position is not None:
                ctx.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))

    @app.page("/agreement")
    async def agreement(web: Any, request: Any) -> Any:
        return web.json(view.select())

    @app.page("/agreement/{dimension}")
    async def agreement_dimension(web: Any, request: Any, dimension: str) -> Any:
        return web.json(view.select(dimension))

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        body = generate_latest(ctx.metrics.registry)
        return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/ready")
    async def ready(web: Any, request: Any) -> Any:
        ok = ctx.ready
        return web.json({"ready": ok, "partitions": sorted(ctx.assigned)}, status=200 if ok else 503)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def assigned(sender: Any, assigned: Any, **_: Any) -> None:
        ctx.assigned = {tp.partition for tp in assigned
                        if tp.topic == ctx.topics.valid.get_topic_name()}

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def recovered(sender: Any, **_: Any) -> None:
        ctx.ready = True  # tables recovered, agents consuming
