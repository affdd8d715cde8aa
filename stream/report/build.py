"""`alphawatch report`: agreement report data from the output topics or an events JSONL, then HTML + PNGs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stream.agreement.offline import OfflineResult, collect, matrices
from stream.agreement.pilot import intervals, rank, scale_of
from stream.config import flag_policy
from stream.core import vocabulary
from stream.flags.policy import decide_raise
from stream.io.observe import Observed
from stream.report import charts, leaderboards
from stream.report import html as reporthtml
from stream.report.annotators import points
from stream.report.data import ReportData
from stream.settings import Settings


def _iso(value: Any) -> str:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC).isoformat()
    return str(value)


def series_from_topics(observed: Observed, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Per dimension, each window's newest record (its final once emitted) of slice all, every
    window size (each row says its size), oldest window first within a size."""
    out: dict[str, list[dict[str, Any]]] = {}
    for (dim, name, window, _), record in sorted(observed.windows.items()):
        if name == "all" and window in settings.window_seconds:
            out.setdefault(dim, []).append(_point(record, window))
    return out


def _point(row: dict[str, Any], size: int) -> dict[str, Any]:
    keep = ("alpha", "ci_low", "ci_high", "p_below_threshold", "n_pairable_values", "rarest_share",
            "n_units")
    return {"window_size_s": size, "window_start": _iso(row["window_start"]),
            "final": bool(row.get("final", True)), **{k: row.get(k) for k in keep}}


def series_offline(result: OfflineResult, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for size in settings.window_seconds:
        for row in intervals(result, settings, False, size):
            out.setdefault(row["dimension"], []).append(_point(row, size))
    return out


def offline_flags(series: dict[str, list[dict[str, Any]]], settings: Settings) -> list[dict[str, Any]]:
    """Without the stream, the windows the flag policy would raise on (final records only: no
    live snapshots offline, so each window is one look), marked as computed offline."""
    flags = []
    for dim, rows in series.items():
        policy = flag_policy(settings, dim)
        for row in rows:
            minimum = policy.minimum(row.get("rarest_share"))
            look = policy.look(row["n_pairable_values"], minimum)
            raised = decide_raise(policy, row, look, row["p_below_threshold"]) if look is not None else None
            if raised is not None:
                flags.append({"kind": "agreement_low", "dimension": dim, "slice": "all",
                              "window_size_s": row["window_size_s"], "window_start": row["window_start"],
                              "alpha": row["alpha"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                              "reason": raised.reason})
    return flags


def coincidences(result: OfflineResult, settings: Settings) -> dict[str, dict[str, Any]]:
    """Whole-campaign coincidence matrix per dimension (agreement records do not carry matrices)."""
    out = {}
    for (dim, _, _, _), matrix in sorted(matrices(result, settings).items()):
        pairwise = vocabulary.is_pairwise(dim)
        labels = list(vocabulary.PREFERENCES) if pairwise else [str(v) for v in settings.scale]
        out[dim] = {"values": labels, "matrix": np.round(matrix.o, 3).tolist(),
                    "alpha": matrix.get(scale_of(dim, settings), settings.level_for(dim)).alpha}
    return out


def slice_rows(result: OfflineResult, settings: Settings) -> list[dict[str, Any]]:
    """Whole-campaign alpha per slice: dimensions in the charts' order, the weakest slice first."""
    rows = [r for r in intervals(result, settings, by_slice=True) if r["slice"] != "all"]
    rank = {d: k for k, d in enumerate(charts.ordered({r["dimension"] for r in rows}))}
    return sorted(rows, key=lambda r: (rank[r["dimension"]], r["alpha"] is None, r["alpha"] or 0.0,
                                       r["slice"]))


def batch_summary(observed: Observed | None) -> dict[str, Any] | None:
    """None (the report says "no batches yet") until the batch topics hold records."""
    if observed is None or not (observed.batch_records or observed.manifests):
        return None
    return {"records": len(observed.batch_records),
            "batches": len(observed.batch_ids | set(observed.manifests)),
            "manifests": [observed.manifests[k] for k in sorted(observed.manifests)]}


def build(lines: list[bytes], settings: Settings, observed: Observed | None = None,
          key_rows: list[dict[str, Any]] | None = None) -> ReportData:
    """The report of a campaign: `lines` are its annotation events; `observed` the output topics
    (None: everything is computed offline from the events)."""
    result = collect(lines, settings)
    events = _events(lines)
    series = series_from_topics(observed, settings) if observed else series_offline(result, settings)
    flags = list(observed.flags.values()) if observed else offline_flags(series, settings)
    dims = sorted(series) or sorted(settings.dimensions)
    people = points(events, settings, observed.status if observed else None, key_rows)
    return ReportData(
        source="topics" if observed else "events", generated_at=datetime.now(UTC).isoformat(),
        thresholds={d: settings.threshold_for(d) for d in dims}, series=series, flags=flags,
        coincidence=coincidences(result, settings),
        annotators=people, slices=slice_rows(result, settings), pilot=rank(lines, settings),
        batches=batch_summary(observed),
        counts={"events": len(lines), "units": len(result.units), "invalid": result.invalid},
        gold_threshold=settings.gold_threshold, windows=settings.window_seconds,
        leaderboards=model_boards(observed, events, people, settings))


def model_boards(observed: Observed | None, events: list[dict[str, Any]], people: list[dict[str, Any]],
                 settings: Settings) -> list[dict[str, Any]]:
    """The newest leaderboards of the model-rankings topic; offline, fitted from the events' votes
    (qualified annotators' only, as the stream does, when the gold key says who qualified)."""
    if observed is not None:
        return leaderboards.ordered(observed.rankings.values())
    judged = [p for p in people if p["state"] != "unknown"]
    qualified = {p["annotator_id"] for p in judged if p["state"] == "qualified"} if judged else None
    return leaderboards.offline(events, settings, qualified)


def _events(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    out = []
    for raw in lines:
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("kind") in ("rating", "pairwise"):
            out.append(event)
    return out


def write(data: ReportData, out: Path) -> Path:
    """report.html, its PNG charts and report.json (the charts' data) under `out`; returns the HTML."""
    out.mkdir(parents=True, exist_ok=True)
    images = charts.draw_all(data, out)
    (out / "report.json").write_bytes(orjson.dumps(data.__dict__, option=orjson.OPT_INDENT_2))
    html = out / "report.html"
    html.write_text(reporthtml.render(data, images), encoding="utf-8")
    return html
