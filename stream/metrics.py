"""Prometheus metrics of a worker, registered against an injected registry (no unbounded labels)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric alphawatch exports; one instance per app, one registry per instance."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.ingest = Counter(
            "alphawatch_ingest_events", "Input messages by outcome (valid/invalid) and reason",
            ["outcome", "reason"], registry=r,
        )
        self.units = Counter(
            "alphawatch_unit_events", "Valid events at the agreement stage by outcome "
            "(applied, duplicate, stale, late)", ["kind", "outcome"], registry=r,
        )
        self.alpha = Gauge(
            "alphawatch_alpha", "Krippendorff's alpha of the newest window",
            ["dimension", "slice", "window"], registry=r,
        )
        self.alpha_ci = Gauge(
            "alphawatch_alpha_ci", "Bootstrap 95% interval bound of alpha (bound=low|high)",
            ["dimension", "slice", "window", "bound"], registry=r,
        )
        self.pairable = Gauge(
            "alphawatch_pairable_values", "Pairable values n in the newest window",
            ["dimension", "slice", "window"], registry=r,
        )
        self.windows_final = Counter(
            "alphawatch_windows_final", "Final agreement records emitted", ["window"], registry=r,
        )
        self.latency = Histogram(
            "alphawatch_event_to_update_seconds",
            "Wall-clock time from an event's submitted_at to its agreement update",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400), registry=r,
        )
        self.flags = Counter(
            "alphawatch_flags", "Flag events by kind (agreement_low / agreement_recovered)",
            ["kind", "dimension"], registry=r,
        )
        self.flag_errors = Counter(
            "alphawatch_flag_check_errors", "Flag checks skipped because Redis was unavailable",
            registry=r,
        )
        self.webhook = Counter(
            "alphawatch_webhook_deliveries", "Webhook deliveries by outcome (delivered, retried, "
            "failed, dropped)", ["outcome"], registry=r,
        )
        self.lag = Gauge(
            "alphawatch_consumer_lag", "Messages not yet read by this worker, per owned partition "
            "of the topics it consumes", ["topic", "partition"], registry=r,
        )
        self.watermark = Gauge(
            "alphawatch_watermark_seconds", "Event-time watermark of each owned partition",
            ["partition"], registry=r,
        )
