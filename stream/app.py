"""Build the Faust app, its topics, tables, agents and web views from settings."""

from __future__ import annotations

from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.transport.drivers import aiokafka as driver
from prometheus_client import CollectorRegistry

from stream import web
from stream.agents import annotators, batches, gold, ingest, manifests, merge, notify, ranking, units
from stream.batches import views as batch_views
from stream.context import Context
from stream.core.validate import REASONS, Validator
from stream.flags import views as flag_views
from stream.io.changelog import guard_changelogs
from stream.io.endoffsets import probe_end_offsets
from stream.io.rebalance import rewind_uncommitted, seek_with_partitions_paused, wait_for_work
from stream.io.security import broker_credentials
from stream.metrics import Metrics
from stream.qualification import views as annotator_views
from stream.ranking import views as ranking_views
from stream.settings import Settings
from stream.topics import declare
from stream.webauth import bearer_middleware
from stream.webpage import views as page_views


def limit_fetch_wait(ms: int) -> None:
    """Cap how long a fetch waits for data; Faust hard-codes 1500 ms.

    Tansu answers a fetch only when the wait runs out, not when data arrives (Apache Kafka wakes
    it at once), so each Kafka hop would add up to 1.5 s: measured 0.48-1.23 s per message at
    1500 ms and 0.01-0.04 s at 100 ms. On Apache Kafka a short wait only adds idle fetches.
    """
    thread = driver.AIOKafkaConsumerThread
    original = getattr(thread, "_alphawatch_original", thread._create_worker_consumer)

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = ms  # read by aiokafka when the fetcher starts
        return consumer

    thread._alphawatch_original = original  # type: ignore[attr-defined]
    thread._create_worker_consumer = create  # type: ignore[method-assign]


def web_options(settings: Settings) -> dict[str, Any]:
    """aiohttp options: with ALPHAWATCH_WEB_TOKEN set, every endpoint but health, readiness and
    metrics needs it (without one, settings allow only a loopback ALPHAWATCH_WEB_HOST)."""
    token = settings.web_token.get_secret_value()
    return {"middlewares": [bearer_middleware(token)]} if token else {}


def faust_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=settings.broker_url,
        broker_credentials=broker_credentials(settings),
        store=settings.store_url,
        datadir=settings.data_dir,
        recovery_consistency_check=settings.recovery_consistency_check,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        broker_commit_interval=settings.commit_interval_s,
        # a produce request whose answer never comes is retried after this, instead of Faust's
        # 20 minutes (seen once on Tansu: a flush during a rebalance waited on a lost response)
        producer_request_timeout=settings.producer_request_timeout_s,
        # a batch's sends travel in few produce requests (Faust's defaults: one request per send)
        producer_linger=0.005,
        producer_max_batch_size=512 * 1024,
        # at-least-once: each agent awaits its outputs' delivery before its batch is acked, and the
        # commit drains the table changelogs first (stream/io/outbox.py, changelog.py;
        # docs/topology-and-delivery.md)
        consumer_max_fetch_size=max(8 * 1024**2, 2 * settings.max_payload_bytes),
        producer_max_request_size=max(4 * 1024**2, 2 * settings.max_payload_bytes),
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        # Faust's own views: /table would expose raw table contents, /router the cluster's layout
        web_tables_enabled=False, web_router_enabled=False, web_graph_enabled=False,
        web_stats_enabled=False, web_metrics_enabled=False,
        web_application_options=web_options(settings),
        table_cleanup_interval=3600.0,
        logging_config=None,
    )


def instrument(app: faust.App, metrics: Metrics) -> None:
    """Faust's Prometheus sensor in alphawatch's registry, named faust_* whatever the app id so
    dashboards work for every deployment; and a count of changelog records each table reads."""
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(metrics.registry, "faust"))
    for name, table in app.tables.items():
        counter = metrics.changelog_read.labels(name)

        async def count(event: Any, counter: Any = counter) -> None:
            counter.inc()

        # Faust's constructor argument `on_changelog_event`, set here so every stage's tables get it
        table._on_changelog_event = count


# the stages a deployment may split over worker pools (ALPHAWATCH_AGENTS): name -> agent modules
STAGES: dict[str, tuple[Any, ...]] = {
    "ingest": (ingest,), "units": (units,), "merge": (merge,), "notify": (notify,),
    "batches": (batches, manifests), "ranking": (ranking,),
    "annotators": (gold, annotators),  # gold re-key on the valid stream + per-annotator state
}


def create_app(settings: Settings | None = None, registry: CollectorRegistry | None = None) -> faust.App:
    """The worker app; `registry` lets tests read metrics without a global registry."""
    settings = settings or Settings()
    limit_fetch_wait(settings.fetch_max_wait_ms)
    rewind_uncommitted()
    seek_with_partitions_paused()
    if settings.probe_end_offsets:
        probe_end_offsets(settings)
    app = faust_app(settings)
    ctx = Context(
        settings=settings,
        topics=declare(app, settings),
        metrics=Metrics(registry),
        validator=Validator(
            settings.dimensions, settings.score_min, settings.score_max, settings.max_payload_bytes,
            max_skew_s=settings.max_clock_skew_s,
        ),
    )
    wait_for_work(ctx.work)  # a rebalance waits for running batches, not for dropped buffers
    for name, modules in STAGES.items():
        if name in settings.agents:
            for module in modules:
                module.register(app, ctx)
    # every worker serves the web views, whichever stages it runs
    for views in (web, annotator_views, ranking_views, flag_views, batch_views, page_views):
        views.register(app, ctx)
    instrument(app, ctx.metrics)
    # ctx.fatal may be replaced by tests; a flush waits for at most a few request timeouts
    guard_changelogs(app, lambda reason: ctx.fatal(reason), 4 * settings.producer_request_timeout_s + 10)
    ctx.metrics.start_at_zero(REASONS, [f"{size}s" for size in settings.window_seconds])
    app.alphawatch = ctx  # type: ignore[attr-defined]
    return app


def context_of(app: faust.App) -> Context:
    """The context `create_app` built for `app` (tests, benches and the CLI reach stages through it)."""
    ctx = app.alphawatch  # type: ignore[attr-defined]
    assert isinstance(ctx, Context)
    return ctx
