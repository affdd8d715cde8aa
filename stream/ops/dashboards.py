"""Grafana dashboards from grafana-foundation-sdk builders (`make dashboards` writes the JSON).

Never imported by the worker (the SDK is a dev dependency): `make dashboards` regenerates the JSON and
tests/unit/ops/test_dashboards.py fails when the committed files differ from what this module builds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, common, heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import (
    AnnotationQuery,
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as enums
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    DynamicConfigValue,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUT = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
PROJECT = 'project=~"$project"'
RATE = "[$__rate_interval]"
ONE_DIMENSION, INVALID = 'dimension="$dimension"', 'outcome="invalid"'
LOW, HIGH = 'bound="low"', 'bound="high"'


def m(metric: str, *matchers: str) -> str:
    """Selector scoped to the chosen projects: m("x", 'a="b"') is x{project=~"$project", a="b"}."""
    return f"{metric}{{{', '.join([PROJECT, *matchers])}}}"


def rate(metric: str, *matchers: str, fn: str = "rate") -> str:
    return f"{fn}({m(metric, *matchers)}{RATE})"


def inc(metric: str, *matchers: str) -> str:
    return rate(metric, *matchers, fn="increase")


def q(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref).datasource(DS)


def series(title: str, text: str, *queries: prometheus.Dataquery, unit: str = "short",
           w: int = 12, stacked: bool = False) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).description(text).datasource(DS).unit(unit).span(w).height(8)
             .fill_opacity(10 if not stacked else 60).legend(common.VizLegendOptions().show_legend(True)
                                                             .display_mode(enums.LegendDisplayMode.LIST)
                                                             .placement(enums.LegendPlacement.BOTTOM)))
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(enums.StackingMode.NORMAL))
    for query in queries:
        panel = panel.with_target(query)
    return panel


def single(title: str, text: str, *queries: prometheus.Dataquery, unit: str = "short",
           w: int = 6) -> stat.Panel:
    panel = (stat.Panel().title(title).description(text).datasource(DS).unit(unit).span(w).height(8)
             .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
             .graph_mode(enums.BigValueGraphMode.AREA))
    for query in queries:
        panel = panel.with_target(query)
    return panel


def label_variable(name: str, label: str, metric: str, multi: bool = True,
                   default: str | None = None) -> QueryVariable:
    """A variable listing a label's values; multi-value ones offer All as the regex `.*`."""
    var = (QueryVariable(name).label(label).datasource(DS).query(f"label_values({metric}, {name})")
           .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
           .multi(multi).include_all(multi))
    if multi:
        var = var.all_value(".*")
    if default is not None:
        value = "$__all" if default == "All" else default
        var = var.current(VariableOption(selected=True, text=default, value=value))
    return var


def base(uid: str, title: str, text: str) -> Dashboard:
    return (Dashboard(title).uid(uid).description(text).tags(["alphawatch", "generated"])
            .time("now-6h", "now").refresh("30s").tooltip(DashboardCursorSync.CROSSHAIR).editable()
            .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
            .with_variable(label_variable("project", "Project", "faust_total_rebalances")))


def alpha_panel() -> timeseries.Panel:
    """Alpha with its bootstrap band and the configured threshold, repeated per dimension."""
    key = (ONE_DIMENSION, 'slice="$slice"', 'window="$window"')
    band = [DynamicConfigValue(id_val="custom.lineWidth", value=0),
            DynamicConfigValue(id_val="custom.fillOpacity", value=20)]
    dashed = [DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
              DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "red"})]
    return (series(
        "Alpha: $dimension", "Krippendorff's alpha of the newest $window window (slice $slice), its 95% "
        "bootstrap interval (band) and the dimension's threshold (dashed).",
        q(f"max({m('alphawatch_alpha', *key)})", "alpha", "A"),
        q(f"max({m('alphawatch_alpha_ci', *key, LOW)})", "CI low", "B"),
        q(f"max({m('alphawatch_alpha_ci', *key, HIGH)})", "CI high", "C"),
        q(f"max({m('alphawatch_alpha_threshold', key[0])})", "threshold", "D"),
        unit="none")
        .max(1).repeat("dimension").repeat_direction("h").max_per_row(3)
        .override_by_name("CI high", [*band, DynamicConfigValue(id_val="custom.fillBelowTo", value="CI low")])
        .override_by_name("CI low", band)
        .override_by_name("threshold", dashed))


def agreement_rows(d: Dashboard) -> Dashboard:
    key = ('slice="$slice"', 'window="$window"', 'dimension=~"$dimension"')
    return (
        d.with_row(Row("Agreement: slice $slice, $window windows").repeat("slice"))
        .with_panel(alpha_panel())
        .with_panel(series(
            "Sample size (pairable values)", "n per dimension in the newest window; flags need at least "
            "Krippendorff's minimum (96 on a 1-5 scale at 0.667).",
            q(f"max by (dimension) ({m('alphawatch_pairable_values', *key)})", "{{dimension}}")))
        .with_panel(series(
            "Open flags", "agreement_low flags open now, per dimension (1 = open); flag events are the "
            "dashboard's annotations.",
            q(f"sum by (dimension) ({m('alphawatch_flags_open', *key)})", "{{dimension}}")))
    )


def people_rows(d: Dashboard) -> Dashboard:
    gold = inc("alphawatch_gold_agreement_bucket", 'dimension=~"$dimension"')
    return (
        d.with_row(Row("Annotators and gold items"))
        .with_panel(series("Annotators by state", "Qualifying, qualified and retraining annotators.",
                           q(f"sum by (state) ({m('alphawatch_annotators')})", "{{state}}"),
                           w=8, stacked=True))
        .with_panel(heatmap.Panel().title("Gold agreement distribution").datasource(DS).span(8).height(8)
                    .description("Annotators' agreement with gold answers, per evaluation (0 to 1).")
                    .calculate(False).with_target(
                        q(f"sum by (le) ({gold})", "{{le}}").format(PromQueryFormat.HEATMAP)))
        .with_panel(series("Qualification transitions", "State changes per interval.",
                           q(f"sum by (from_state, to_state) "
                             f"({inc('alphawatch_annotator_transitions_total')})",
                             "{{from_state}} -> {{to_state}}"), w=8))
    )


def ranking_rows(d: Dashboard) -> Dashboard:
    """Model selection: the overall leaderboard per modality, scores over time, position bias."""
    overall = 'dimension="overall"'
    board = (bargauge.Panel().title("Leaderboard (overall, Elo scale)").datasource(DS).span(12).height(10)
             .description("Bradley-Terry score of each configuration per modality (qualified annotators' "
                          "votes; anchor at 1000), newest fit. Top configurations only (label cap).")
             .display_mode(enums.BarGaugeDisplayMode.GRADIENT).orientation(enums.VizOrientation.HORIZONTAL)
             .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
             .with_target(q(f"sort_desc(max by (modality, model) ({m('alphawatch_model_score', overall)}))",
                            "{{modality}} {{model}}").instant()))
    return (
        d.with_row(Row("Model rankings"))
        .with_panel(board)
        .with_panel(series(
            "Overall scores and 95% intervals", "Scores over time per modality and configuration, with "
            "the bootstrap interval bounds.",
            q(f"max by (modality, model) ({m('alphawatch_model_score', overall)})", "{{modality}} {{model}}",
              "A"),
            q(f"max by (modality, model, bound) ({m('alphawatch_model_score_ci', overall)})",
              "{{modality}} {{model}} {{bound}}", "B"), unit="none"))
        .with_panel(series(
            "Votes in the fit", "Qualified pairwise votes per modality (overall: one per comparison).",
            q(f"max by (modality) ({m('alphawatch_ranking_votes', overall)})", "{{modality}}"), w=12))
        .with_panel(series(
            "Left-clip share", "Share of decisive votes for the clip shown left (0.5 = no position bias).",
            q(f"max by (modality) ({m('alphawatch_position_left_share', overall)})", "{{modality}}"),
            unit="percentunit", w=12))
    )


def agreement_dashboard() -> Dashboard:
    alpha = m("alphawatch_alpha")
    # a fixed range: annotation queries run with their own step, not a panel's interval
    selected = m("alphawatch_flags_total", 'slice=~"$slice"', 'window="$window"')
    flags = f"increase({selected}[5m])"
    d = (base("alphawatch-agreement", "alphawatch / Agreement",
              "Live Krippendorff's alpha per dimension, slice and window; flags; annotators.")
         .with_variable(label_variable("dimension", "Dimension", alpha, default="All"))
         .with_variable(label_variable("slice", "Slice", alpha, default="all"))
         .with_variable(label_variable("window", "Window size", alpha, multi=False))
         .annotation(AnnotationQuery().name("Flags").datasource(DS).enable(True).icon_color("red")
                     .expr(f"sum by (kind, dimension, slice, window) ({flags}) > 0")))
    return ranking_rows(people_rows(agreement_rows(d)))


def pipeline_rows(d: Dashboard) -> Dashboard:
    latency = f"sum by (le) ({rate('alphawatch_event_to_update_seconds_bucket')})"
    return (
        d.with_row(Row("Input"))
        .with_panel(series("Throughput", "Input messages per second by outcome.",
                           q(f"sum by (outcome) ({rate('alphawatch_ingest_events_total')})", "{{outcome}}"),
                           unit="ops", w=8, stacked=True))
        .with_panel(series("Dead-letter rate", "Invalid messages per second by reason (annotations-dlq).",
                           q(f"sum by (reason) ({rate('alphawatch_ingest_events_total', INVALID)})",
                             "{{reason}}"), unit="ops", w=8))
        .with_panel(series("Agreement-stage outcomes", "Valid events: applied, duplicate, stale, late.",
                           q(f"sum by (outcome) ({rate('alphawatch_unit_events_total')})", "{{outcome}}"),
                           unit="ops", w=8, stacked=True))
        .with_row(Row("Progress"))
        .with_panel(series("Consumer lag", "Messages not yet read, per topic.",
                           q(f"sum by (topic) ({m('alphawatch_consumer_lag')})", "{{topic}}"), w=8))
        .with_panel(series("Event to agreement update", "Wall time from submitted_at to the window update.",
                           q(f"histogram_quantile(0.5, {latency})", "p50", "A"),
                           q(f"histogram_quantile(0.95, {latency})", "p95", "B"),
                           q(f"histogram_quantile(0.99, {latency})", "p99", "C"), unit="s", w=8))
        .with_panel(series("Event-time watermark", "How far behind wall time each partition's watermark is.",
                           q(f"time() - max by (partition) ({m('alphawatch_watermark_seconds')})",
                             "partition {{partition}}"), unit="s", w=8))
    )


def worker_rows(d: Dashboard) -> Dashboard:
    return (
        d.with_row(Row("Output and workers"))
        .with_panel(series("Final windows", "Final agreement records per window size.",
                           q(f"sum by (window) ({inc('alphawatch_windows_final_total')})",
                             "{{window}}"), w=6))
        .with_panel(series("Webhook deliveries", "Flag deliveries by outcome.",
                           q(f"sum by (outcome) ({inc('alphawatch_webhook_deliveries_total')})",
                             "{{outcome}}"), w=6))
        .with_panel(series("Flag checks skipped", "Records whose flag check was skipped: Redis down.",
                           q(f"sum({inc('alphawatch_flag_check_errors_total')})", "skipped"),
                           w=6))
        .with_panel(series("Changelog records read", "Table recovery and standby reads; with the RocksDB "
                           "store a restart reads only the tail.",
                           q(f"sum by (table) ({inc('alphawatch_changelog_records_read_total')})",
                             "{{table}}"), w=6))
        .with_panel(series("Messages received per topic", "Faust sensor, all workers.",
                           q(f"sum by (topic) ({rate('faust_messages_received_per_topic_total')})",
                             "{{topic}}"), unit="ops", w=12))
        .with_panel(series("Rebalances", "Faust sensor: rebalances per worker.",
                           q(f"max by (instance) ({m('faust_total_rebalances')})", "{{instance}}"), w=12))
    )


def batch_rows(d: Dashboard) -> Dashboard:
    """RLHF batches: records sent, units waiting in open batches, closed batches and exclusions."""
    return (
        d.with_row(Row("RLHF batches"))
        .with_panel(series("Batch records", "Records sent to rlhf-batches: first versions and revisions.",
                           q(f"sum by (type, emission) ({inc('alphawatch_batch_records_total')})",
                             "{{type}} {{emission}}"), w=6, stacked=True))
        .with_panel(series("Units in open batches", "Batch progress: units held until their batch closes.",
                           q(f"sum({m('alphawatch_batch_open_units')})", "units"), w=6))
        .with_panel(series("Answers left out", "Answers of closed batches not in any record, by reason.",
                           q(f"sum by (reason) ({inc('alphawatch_batch_exclusions_total')})", "{{reason}}"),
                           w=6, stacked=True))
        .with_panel(series("Batches closed", "Manifests sent; answers that arrived after their batch closed.",
                           q(f"sum({inc('alphawatch_batches_closed_total')})", "manifests", "A"),
                           q(f"sum({inc('alphawatch_batch_answers_after_close_total')})", "after close", "B"),
                           w=6))
    )


def pipeline_dashboard() -> Dashboard:
    return batch_rows(worker_rows(pipeline_rows(base(
        "alphawatch-pipeline", "alphawatch / Pipeline",
        "Throughput, dead letters, lag, latency and delivery of the alphawatch workers."))))


DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "alphawatch-agreement.json": agreement_dashboard,
    "alphawatch-pipeline.json": pipeline_dashboard,
}


def render(build: Callable[[], Dashboard]) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n"


def stale(out: Path = OUT) -> list[str]:
    """Dashboard files missing or different from what the builders produce now."""
    return [name for name, build in DASHBOARDS.items()
            if not (out / name).is_file() or (out / name).read_text() != render(build)]


def write(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in DASHBOARDS.items():
        (out / name).write_text(render(build))
        paths.append(out / name)
    return paths


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(f"wrote {path}")
