"""The agreement report's HTML page: tables next to the PNG charts (no template engine needed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from stream.flags import wording
from stream.report import fmt, leaderboards
from stream.report.data import ReportData

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee}.low{color:#b00;font-weight:bold}
td.n{text-align:right}"""


class Low(str):
    """A cell shown in red: a value below its threshold."""


def _cell(value: Any) -> str:
    """Strings as given (callers format numbers with `fmt`); other values get a default format."""
    if isinstance(value, Low):
        return f'<td class="low">{escape(value)}</td>'
    if isinstance(value, str):
        return f"<td>{escape(value)}</td>"
    if value is None:
        return "<td>-</td>"
    text = fmt.ratio(value) if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else \
        str(value)
    return f'<td class="n">{escape(text)}</td>'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(images: dict[str, Path], name: str, alt: str) -> str:
    path = images.get(name)
    return f'<p><img src="{escape(path.name)}" alt="{escape(alt)}"></p>' if path else "<p>no data</p>"


def pilot_section(data: ReportData, images: dict[str, Path]) -> str:
    rows = [(r["dimension"], r["alpha"], fmt.interval(r["ci_low"], r["ci_high"], 3),
             fmt.count(r["n_pairable_values"]), r["verdict"]) for r in data.pilot]
    return ("<h2>Pilot ranking</h2><p>Dimensions ranked by alpha over the whole campaign. A bar is "
            "reached when the whole 95% interval is at or above it (0.667: tentative conclusions, "
            "0.800: reliable); <i>inconclusive</i> means the interval straddles 0.667: more pilot data.</p>"
            + table(["dimension", "alpha", "95% CI", "pairable values", "verdict"], rows)
            + _image(images, "pilot", "pilot ranking"))


def flag_rows(data: ReportData) -> list[tuple[Any, ...]]:
    """The flags table's rows, oldest window first; each says its window size."""
    flags = sorted(data.flags, key=lambda f: (str(f["window_start"]), f["dimension"],
                                              f.get("window_size_s") or 0))
    return [(f["kind"], f["dimension"], f["slice"], wording.window_label(f.get("window_size_s")),
             str(f["window_start"]), fmt.ratio(f["alpha"]), fmt.interval(f.get("ci_low"), f.get("ci_high")),
             wording.reason_in_words(f), wording.disagreeing_in_words(f)) for f in flags]


def flags_section(data: ReportData) -> str:
    rows = flag_rows(data)
    note = (" (computed offline: windows whose bootstrap P(alpha &lt; threshold) reaches the flag "
            "confidence of their single check)" if data.source == "events" else "")
    return (f"<h2>Flags</h2><p>{len(rows)} flag records{note}. {escape(wording.GLOSSARY)}</p>"
            + table(["kind", "dimension", "slice", "window size", "window start", "alpha", "95% CI", "why",
                     "most disagreeing"], rows))


def batches_section(data: ReportData) -> str:
    if data.batches is None:
        return "<h2>Batches</h2><p>no batches yet</p>"
    b = data.batches
    rows = [(m["batch_id"], m.get("revision"), sum(m.get("record_counts", {}).values()),
             m.get("answers_included"), m.get("answers_received"),
             ", ".join(f"{k}: {v}" for k, v in m.get("exclusions", {}).items()), m.get("closed_at"))
            for m in b["manifests"]]
    return (f"<h2>Batches</h2><p>{b['records']:,} records in {b['batches']:,} batches, "
            f"{len(rows)} closed (manifests).</p>"
            + table(["batch", "revision", "records", "answers included", "received", "exclusions",
                     "closed"], rows))


def annotator_rows(data: ReportData) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows: gold agreement per dimension (red below the gold threshold), mean, peer."""
    dims = sorted({d for r in data.annotators for d in r.get("gold_by_dimension", {})},
                  key=lambda d: (d.startswith("pairwise."), d))
    rows = []
    for r in data.annotators:
        values = r.get("gold_by_dimension", {})
        cells = [_judged(values.get(d), data.gold_threshold) for d in dims]
        rows.append([r["annotator_id"], r["state"], *cells, fmt.ratio(r.get("gold")), fmt.ratio(r["peer"])])
    return ["annotator", "state", *(f"gold: {d}" for d in dims), "gold mean", "peer agreement"], rows


def _judged(value: float | None, bar: float) -> str:
    text = fmt.ratio(value)
    return Low(text) if value is not None and value < bar else text


def annotators_section(data: ReportData, images: dict[str, Path]) -> str:
    headers, rows = annotator_rows(data)
    return ("<h2>Annotators</h2><p>Gold agreement is judged per dimension: an annotator goes to retraining "
            f"when any dimension falls below {data.gold_threshold:.2f} (red), even when the mean over "
            "dimensions does not; the chart plots each annotator's lowest dimension. High gold but low "
            "peer agreement points at the peers or the guideline; the reverse at an annotator who follows "
            "the crowd rather than the key.</p>"
            + _image(images, "annotators", "gold vs peer") + table(headers, rows))


def slices_section(data: ReportData, images: dict[str, Path]) -> str:
    rows = [(r["dimension"], r["slice"], fmt.ratio(r["alpha"]), fmt.interval(r["ci_low"], r["ci_high"], 3),
             fmt.count(r["n_pairable_values"])) for r in data.slices]
    return ("<h2>Slices</h2><p>Whole-campaign alpha per slice, dimension by dimension, the weakest slice "
            "first.</p>" + _image(images, "slices", "alpha per slice")
            + table(["dimension", "slice", "alpha", "95% CI", "pairable values"], rows))


def board_table(record: dict[str, Any]) -> str:
    title = (f"{record['modality']}, {record['dimension']}: {record['votes']:,} votes of "
             f"{record['annotators']:,} annotators ({record['votes_excluded']:,} left out: not qualified); "
             f"anchor {record.get('anchor') or '-'} at {record['elo_base']:.0f}")
    rows = [(r["rank"], r["model_id"], fmt.score(r["score"]), fmt.interval(r["ci_low"], r["ci_high"], 0),
             r["plausible_ranks"] or "-", fmt.count(r["wins"]), r["votes"])
            for r in leaderboards.rows(record)]
    return (f"<h3>{escape(title)}</h3>"
            + table(["rank", "model", "score", "95% CI", "plausible ranks", "wins", "votes"], rows))


def leaderboards_section(data: ReportData, images: dict[str, Path]) -> str:
    if not data.leaderboards:
        return "<h2>Model leaderboards</h2><p>no leaderboards yet (no qualified pairwise votes)</p>"
    overall = [b for b in data.leaderboards if b["dimension"] == "overall"]
    per_dim = [b for b in data.leaderboards if b["dimension"] != "overall"]
    return ("<h2>Model leaderboards</h2><p>Bradley-Terry scores from pairwise votes (a tie counts half): "
            "400 points more means 10:1 odds of being preferred. The 95% interval comes from resampling "
            "the votes; <i>plausible ranks</i> are the ranks the intervals allow, so two models whose "
            "ranges overlap are not yet told apart.</p>"
            + _image(images, "leaderboards", "model leaderboards") + "".join(board_table(b) for b in overall)
            + ("<details><summary>per dimension</summary>" + "".join(board_table(b) for b in per_dim)
               + "</details>" if per_dim else ""))


def render(data: ReportData, images: dict[str, Path]) -> str:
    sizes = ", ".join(wording.window_label(s) for s in data.windows) or "-"
    parts = [
        f"<h1>alphawatch agreement report</h1><p>source: {escape(data.source)}, generated "
        f"{escape(data.generated_at)}, {data.counts.get('events', 0):,} events, "
        f"{data.counts.get('units', 0):,} units.</p>",
        f"<h2>Alpha over time</h2><p>One series per window size ({escape(sizes)}); a flag is drawn in red on "
        "the series of the window size it was raised on, across the window it covers.</p>",
        _image(images, "alpha_over_time", "alpha over time"), flags_section(data),
        "<h2>Coincidence matrices</h2><p>How often two raters of the same clip gave each pair of answers "
        "(computed from the annotation events: agreement records carry alpha, not matrices); the "
        "diagonal is agreement, mass off it disagreement.</p>",
        _image(images, "coincidence", "coincidence heat maps"),
        annotators_section(data, images), slices_section(data, images),
        leaderboards_section(data, images), batches_section(data), pilot_section(data, images),
    ]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>alphawatch report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
