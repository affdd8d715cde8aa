"""Prometheus metrics of a worker, registered against an injected registry (no unbounded labels)."""

from __future__ import annotations

from collections.abc import Iterable

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
            ["kind", "dimension", "slice", "window"], registry=r,
        )
        self.flags_open = Gauge(
            "alphawatch_flags_open", "1 while an agreement_low flag is open for the key, else 0 "
            "(reported by the worker running the merge stage)", ["dimension", "slice", "window"],
            registry=r,
        )
        self.threshold = Gauge(
            "alphawatch_alpha_threshold", "Configured alpha threshold per dimension", ["dimension"],
            registry=r,
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
        self.watermark_lead = Gauge(
            "alphawatch_watermark_lead_seconds", "Event-time watermark minus the worker's clock, per "
            "owned partition (negative while behind; positive means future event times got in)",
            ["partition"], registry=r,
        )
        self.changelog_read = Counter(
            "alphawatch_changelog_records_read", "Changelog records applied to local tables: "
            "recovery after a restart or rebalance, and standby replicas", ["table"], registry=r,
        )
        self.annotators = Gauge(
            "alphawatch_annotators", "Annotators per qualification state, among those whose partition "
            "this worker owns (sum over workers)", ["state"], registry=r,
        )
        self.gold_agreement = Histogram(
            "alphawatch_gold_agreement", "Annotators' rolling agreement with gold answers, observed per "
            "scored gold answer on each dimension with at least the minimum answers", ["dimension"],
            buckets=(0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 1.0), registry=r,
        )
        self.annotator_transitions = Counter(
            "alphawatch_annotator_transitions", "Qualification state changes (from_state 'none' for a "
            "new annotator)", ["from_state", "to_state"], registry=r,
        )
        self.gold_answers = Counter(
            "alphawatch_gold_answers", "Gold answers by outcome: scored, waiting (key unknown yet), "
            "resolved (key arrived), dropped (waited out of the bounded buffer), duplicate, kind_mismatch",
            ["outcome"], registry=r,
        )
        self.gold_key_invalid = Counter(
            "alphawatch_gold_key_invalid", "gold-items records that failed validation and were skipped",
            registry=r,
        )
        self.stale_events = Counter(
            "alphawatch_stale_events", "Events read before a rebalance and dropped unhandled by a "
            "batch stage (read again by their partition's owner)", ["stage"], registry=r,
        )
        self.tail_skipped = Counter(
            "alphawatch_tail_records_skipped", "Records on a tailed output topic that could not be read "
            "(malformed: counted and skipped, never a crash)", ["topic"], registry=r,
        )
        self.annotators_forgotten = Counter(
            "alphawatch_annotators_forgotten",
            "Annotators forgotten after ALPHAWATCH_ANNOTATOR_RETENTION without an answer (not qualified)",
            registry=r,
        )
        self.annotator_store_errors = Counter(
            "alphawatch_annotator_store_errors", "Annotator status writes to Redis that failed (retried)",
            registry=r,
        )
        self.ranking = RankingMetrics(r)
        self.batch = BatchMetrics(r)

    def start_at_zero(self, reasons: Iterable[str], windows: Iterable[str]) -> None:
        """Export every counter series whose labels are known up front, at 0. Prometheus sees no
        increase in a series' first sample, so a first dead letter, failed delivery or final window
        would be missing from rate() and increase(), and from the alerts built on them."""
        self.ingest.labels("valid", "")
        for reason in reasons:
            self.ingest.labels("invalid", reason)
        for kind in ("rating", "pairwise", "retraction"):
            for outcome in ("applied", "duplicate", "stale", "late"):
                self.units.labels(kind, outcome)
        for outcome in ("delivered", "retried", "failed", "dropped"):
            self.webhook.labels(outcome)
        for window in windows:
            self.windows_final.labels(window)
        for outcome in ("scored", "waiting", "resolved", "dropped", "duplicate", "kind_mismatch"):
            self.gold_answers.labels(outcome)


class RankingMetrics:
    """Leaderboard gauges (model label capped to the top configurations) and refit outcomes."""

    def __init__(self, r: CollectorRegistry):
        self.score = Gauge(
            "alphawatch_model_score", "Bradley-Terry score (Elo scale) of the top configurations per "
            "modality and dimension", ["modality", "dimension", "model"], registry=r,
        )
        self.score_ci = Gauge(
            "alphawatch_model_score_ci", "95% bootstrap interval bound of the score (bound=low|high)",
            ["modality", "dimension", "model", "bound"], registry=r,
        )
        self.votes = Gauge(
            "alphawatch_ranking_votes", "Qualified pairwise votes in the newest fit",
            ["modality", "dimension"], registry=r,
        )
        self.left_share = Gauge(
            "alphawatch_position_left_share", "Share of decisive qualified votes for the clip shown left",
            ["modality", "dimension"], registry=r,
        )
        self.refits = Counter(
            "alphawatch_ranking_refits", "Leaderboard refits by outcome (ok, redis_error)", ["outcome"],
            registry=r,
        )
        events = Counter(
            "alphawatch_ranking_events", "Valid events at the ranking stage by outcome (counted, "
            "duplicate: same annotator and pair, replayed: offset already in the snapshot, skipped)",
            ["outcome"], registry=r,
        )
        self.events = {o: events.labels(o) for o in ("counted", "duplicate", "replayed", "skipped")}
        for outcome in ("ok", "redis_error"):
            self.refits.labels(outcome)



EXCLUSION_REASONS = ("gold_item", "annotator_qualifying", "annotator_retraining", "below_min_raters",
                     "duplicate", "superseded", "retracted")


class BatchMetrics:
    """RLHF batches: records emitted, answers left out by reason, closed batches, late answers."""

    def __init__(self, r: CollectorRegistry):
        self.records = Counter(
            "alphawatch_batch_records", "Batch records emitted (emission=first|revision)",
            ["type", "emission"], registry=r,
        )
        self.exclusions = Counter(
            "alphawatch_batch_exclusions", "Answers left out of closed batches, by reason", ["reason"],
            registry=r,
        )
        self.included = Counter(
            "alphawatch_batch_answers_included", "Answers in the records of closed batches", registry=r,
        )
        self.closed = Counter(
            "alphawatch_batches_closed", "Batch manifests emitted", registry=r,
        )
        self.after_close = Counter(
            "alphawatch_batch_answers_after_close", "Answers for batches already closed (not in any "
            "record; logged)", registry=r,
        )
        self.repeats_after_close = Counter(
            "alphawatch_batch_repeats_after_close", "Repeats (same event id) of answers already in a "
            "closed batch: recognised, in no record", registry=r,
        )
        self.open_units = Gauge(
            "alphawatch_batch_open_units", "Units held for open batches, per owned partition",
            ["partition"], registry=r,
        )
        for kind in ("clip_rating.v1", "pairwise_preference.v1"):
            for emission in ("first", "revision"):
                self.records.labels(kind, emission)
        for reason in EXCLUSION_REASONS:
            self.exclusions.labels(reason)


BRIDGE_OUTCOMES = ("produced", "duplicate", "skipped", "dead_lettered")


class BridgeMetrics:
    """The Label Studio bridge: webhook requests by status, annotations by outcome, send time."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = r = registry or CollectorRegistry()
        self.requests = Counter(
            "alphawatch_bridge_requests", "Webhook requests by action and HTTP status (action 'unreadable' "
            "when the body is not a webhook)", ["action", "status"], registry=r,
        )
        self.annotations = Counter(
            "alphawatch_bridge_annotations", "Annotations in webhooks by outcome (produced, duplicate = a "
            "redelivery, skipped = cancelled in Label Studio, dead_lettered)", ["outcome"], registry=r,
        )
        self.dead_letters = Counter(
            "alphawatch_bridge_dead_letters", "Annotations sent to the DLQ, by reason", ["reason"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "alphawatch_bridge_send_seconds", "Time from a webhook's arrival to its events acknowledged",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r,
        )
        for outcome in BRIDGE_OUTCOMES:
            self.annotations.labels(outcome)
