"""HTTP views on the Faust web server: agreement, health, readiness, Prometheus metrics, consumer lag."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.agreement.view import query_from
from stream.context import Context
from stream.io.kafka import tail_topic

log = logging.getLogger(__name__)


def tail_view(app: faust.App, ctx: Context, topic: Any, apply: Callable[[bytes], None]) -> None:
    """A task on every worker: `topic` from its beginning and on into an in-memory view (`apply`),
    a malformed record counted in alphawatch_tail_skipped_total and skipped."""

    @app.task
    async def tail() -> None:
        name = topic.get_topic_name()
        skipped = ctx.metrics.tail_skipped.labels(name)
        await tail_topic(ctx.settings, name, apply, lambda _: skipped.inc())


def register(app: faust.App, ctx: Context) -> None:
    """Every worker: tails `agreement` into the agreement view; serves /agreement, /metrics,
    /healthz and /ready; measures consumer lag every 5 s."""
    view = ctx.agreement_view
    tail_view(app, ctx, ctx.topics.agreement, view.apply)

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
        return answer(web, request, None)

    @app.page("/agreement/{dimension}")
    async def agreement_dimension(web: Any, request: Any, dimension: str) -> Any:
        if dimension not in ctx.settings.dimensions:
            return web.json({"error": f"unknown dimension {dimension!r}; this deployment has "
                             f"{list(ctx.settings.dimensions)}"}, status=404)
        return answer(web, request, dimension)

    def answer(web: Any, request: Any, dimension: str | None) -> Any:
        try:
            query = query_from(request.query)
        except ValueError as exc:
            return web.json({"error": str(exc)}, status=400)
        return web.json(view.select(dimension, query))

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
        if not ctx.ready:  # one line per process, where a user looks first
            host = ctx.settings.web_host
            base = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{ctx.settings.web_port}"
            # on stderr whatever the log level (the default, warn, would hide an info line)
            print(f"alphawatch worker ready: agreement {base}/agreement, metrics {base}/metrics, "
                  f"readiness {base}/ready; partitions {sorted(ctx.assigned)}", file=sys.stderr, flush=True)
        ctx.ready = True  # tables recovered, agents consuming
