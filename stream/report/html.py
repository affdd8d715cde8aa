"""The agreement report's HTML page: tables next to the PNG charts (no template engine needed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from stream.report.data import ReportData

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee}.low{color:#b00}"""


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else escape(str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_num(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(images: dict[str, Path], name: str, alt: str) -> str:
    path = images.get(name)
    return f'<p><img src="{escape(path.name)}" alt="{escape(alt)}"></p>' if path else "<p>no data</p>"


def pilot_section(data: ReportData, images: dict[str, Path]) -> str:
    rows = [(r["dimension"], r["alpha"], r["ci_low"], r["ci_high"], r["n_pairable_values"], r["verdict"])
            for r in data.pilot]
    return ("<h2>Pilot ranking</h2><p>Dimensions ranked by alpha over the whole campaign. A bar is "
            "reached when the whole 95% interval is at or above it (0.667: tentative conclusions, "
            "0.800: reliable); <i>inconclusive</i> means the interval straddles 0.667: more pilot data.</p>"
            + table(["dimension", "alpha", "CI low", "CI high", "pairable values", "verdict"], rows)
            + _image(images, "pilot", "pilot ranking"))


def flags_section(data: ReportData) -> str:
    rows = [(f["kind"], f["dimension"], f["slice"], f["window_start"], f["alpha"], f.get("ci_low"),
             f.get("ci_high"), ", ".join(str(a.get("annotator_id")) for a in f.get("top_annotators", [])[:3]))
            for f in sorted(data.flags, key=lambda f: (str(f["window_start"]), f["dimension"]))]
    note = " (computed offline: windows whose bootstrap P(alpha &lt; threshold) reaches the flag " \
           "confidence)" if data.source == "events" else ""
    return (f"<h2>Flags</h2><p>{len(rows)} flag records{note}.</p>"
            + table(["kind", "dimension", "slice", "window", "alpha", "CI low", "CI high",
                     "top annotators"], rows))


def batches_section(data: ReportData) -> str:
    if data.batches is None:
        return "<h2>Batches</h2><p>no batches yet</p>"
    b = data.batches
    rows = [(m["batch_id"], m.get("revision"), sum(m.get("record_counts", {}).values()),
             m.get("answers_included"), m.get("answers_received"),
             ", ".join(f"{k}: {v}" for k, v in m.get("exclusions", {}).items()), m.get("closed_at"))
            for m in b["manifests"]]
    return (f"<h2>Batches</h2><p>{b['records']} records in {b['batches']} batches, "
            f"{len(rows)} closed (manifests).</p>"
            + table(["batch", "revision", "records", "answers included", "received", "exclusions",
                     "closed"], rows))


def annotators_section(data: ReportData, images: dict[str, Path]) -> str:
    rows = [(r["annotator_id"], r["state"], r["gold"], r["peer"]) for r in data.annotators]
    return ("<h2>Annotators</h2><p>High gold but low peer agreement points at the peers or the "
            "guideline; the reverse at an annotator who follows the crowd rather than the key.</p>"
            + _image(images, "annotators", "gold vs peer")
            + table(["annotator", "state", "gold agreement", "peer agreement"], rows))


def render(data: ReportData, images: dict[str, Path]) -> str:
    slices = [(r["dimension"], r["slice"], r["alpha"], r["ci_low"], r["ci_high"], r["n_pairable_values"])
              for r in data.slices]
    parts = [
        f"<h1>alphawatch agreement report</h1><p>source: {escape(data.source)}, generated "
        f"{escape(data.generated_at)}, {data.counts.get('events', 0)} events, "
        f"{data.counts.get('units', 0)} units.</p>",
        "<h2>Alpha over time</h2>", _image(images, "alpha_over_time", "alpha over time"),
        flags_section(data),
        "<h2>Coincidence matrices</h2><p>Computed from the annotation events (agreement records carry "
        "alpha, not matrices).</p>", _image(images, "coincidence", "coincidence heat maps"),
        annotators_section(data, images),
        "<h2>Slices</h2>", _image(images, "slices", "alpha per slice"),
        table(["dimension", "slice", "alpha", "CI low", "CI high", "pairable values"], slices),
        batches_section(data), pilot_section(data, images),
    ]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>alphawatch report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
