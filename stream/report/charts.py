"""PNG charts of the agreement report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: a headless backend, so reports render in CI and over SSH

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from stream.core import vocabulary
from stream.flags import wording
from stream.report import fmt
from stream.report.annotators import outside_pack
from stream.report.data import ReportData

STATE_COLORS = {"qualified": "tab:green", "qualifying": "tab:gray", "retraining": "tab:red",
                "unknown": "tab:blue"}


def _grid(n: int, cols: int = 2, size: tuple[float, float] = (6.0, 3.0)) -> tuple[Figure, list[Any]]:
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")  # the bounding box holds every label: none clipped
    plt.close(fig)
    return path


def ordered(dims: list[str] | set[str] | dict[str, Any]) -> list[str]:
    """Rating dimensions first, then their pairwise counterparts."""
    return sorted(dims, key=lambda d: (vocabulary.is_pairwise(d), d))


def _time(stamp: str) -> datetime:
    value = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def by_size(rows: list[dict[str, Any]], default: int) -> dict[int, list[dict[str, Any]]]:
    """A dimension's windows per window size, smallest size first (rows without one: `default`)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(int(row.get("window_size_s") or default), []).append(row)
    return dict(sorted(out.items()))


def span(data: ReportData, dim: str) -> tuple[datetime, datetime] | None:
    """The event time the chart shows: the smallest window size's windows (a day-long window of a
    seven-hour campaign would otherwise squeeze the hours into a corner)."""
    sizes = by_size(data.series.get(dim, []), min(data.windows, default=3600))
    if not sizes:
        return None
    size, rows = next(iter(sizes.items()))
    starts = [_time(r["window_start"]) for r in rows]
    return min(starts), max(starts) + timedelta(seconds=size)


def _middle(start: datetime, end: datetime, shown: tuple[datetime, datetime] | None) -> datetime:
    """Middle of the part of a window the chart shows."""
    if shown is not None:
        start, end = max(start, shown[0]), min(end, shown[1])
    return start + (end - start) / 2


def flag_marks(data: ReportData, dim: str) -> list[dict[str, Any]]:
    """Each agreement_low flag of slice all on its own window size's series: the span of the
    window it was raised on, at that window's alpha in the series (the flag's own alpha when the
    series lacks the window). A 24 h window's flag spans its day on the 24 h series."""
    smallest = min(data.windows, default=3600)
    series = by_size(data.series.get(dim, []), smallest)
    marks = []
    for flag in data.flags:
        if flag["dimension"] != dim or flag["kind"] != "agreement_low" or flag["slice"] != "all":
            continue
        size = int(flag.get("window_size_s") or smallest)
        start = _time(str(flag["window_start"]))
        same = [r for r in series.get(size, []) if _time(r["window_start"]) == start]
        alpha = same[0]["alpha"] if same and same[0]["alpha"] is not None else flag.get("alpha")
        marks.append({"window_size_s": size, "start": start, "end": start + timedelta(seconds=size),
                      "alpha": alpha, "flag_id": flag.get("flag_id")})
    return marks


def _size_line(ax: Any, size: int, rows: list[dict[str, Any]], style: dict[str, Any],
               shown: tuple[datetime, datetime] | None) -> None:
    """One window size's alpha: a point at the middle of each window (of its shown part), a bar
    across the window, the 95% interval as a band."""
    rows = [r for r in rows if r["alpha"] is not None]
    starts = [_time(r["window_start"]) for r in rows]
    ends = [t + timedelta(seconds=size) for t in starts]
    x = [_middle(a, b, shown) for a, b in zip(starts, ends, strict=True)]
    label = wording.window_label(size)
    alpha = [r["alpha"] for r in rows]
    ax.plot(x, alpha, marker="o", ms=4, label=f"alpha, {label} windows", **style)
    ax.hlines(alpha, starts, ends, lw=1, alpha=0.6, color=style["color"])
    band = [(t, r["ci_low"], r["ci_high"]) for t, r in zip(x, rows, strict=True) if r["ci_low"] is not None]
    if len(band) > 1:
        ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band], alpha=0.2,
                        color=style["color"], label=f"95% CI, {label}")
    elif band:
        ax.vlines([band[0][0]], [band[0][1]], [band[0][2]], color=style["color"], lw=4, alpha=0.3,
                  label=f"95% CI, {label}")


SIZE_STYLES = ({"color": "tab:blue", "ls": "-"}, {"color": "tab:purple", "ls": "--"},
               {"color": "tab:olive", "ls": ":"})


def _flags_on(ax: Any, marks: list[dict[str, Any]], shown: tuple[datetime, datetime] | None) -> None:
    smallest = min((m["window_size_s"] for m in marks), default=0)
    for mark in marks:
        if mark["alpha"] is None:
            continue
        middle = _middle(mark["start"], mark["end"], shown)
        ax.hlines(mark["alpha"], mark["start"], mark["end"], color="tab:red", lw=3)
        ax.plot([middle], [mark["alpha"]], marker="o", ms=10, mfc="none", mec="tab:red", mew=2, ls="none")
        ax.annotate(f"{wording.window_label(mark['window_size_s'])} flag", (middle, mark["alpha"]),
                    xytext=(0, -16 if mark["window_size_s"] == smallest else 9), textcoords="offset points",
                    ha="center", fontsize=7, color="tab:red")  # a longer window's label above: no overlap


def alpha_over_time(data: ReportData, path: Path) -> Path:
    """Alpha per dimension, one series per window size with its 95% band, the threshold dashed,
    each flag in red on the series of the window size it was raised on."""
    dims = ordered(data.series)
    fig, axes = _grid(len(dims), size=(6.5, 3.2))
    smallest = min(data.windows, default=3600)
    for ax, dim in zip(axes, dims, strict=True):
        shown = span(data, dim)
        for k, (size, rows) in enumerate(by_size(data.series[dim], smallest).items()):
            _size_line(ax, size, rows, SIZE_STYLES[k % len(SIZE_STYLES)], shown)
        ax.axhline(data.thresholds.get(dim, 0.667), ls="--", color="black", lw=1, label="threshold")
        _flags_on(ax, flag_marks(data, dim), shown)
        alphas = [r["alpha"] for r in data.series[dim] if r["alpha"] is not None]
        ax.set_ylim(min(0.0, *alphas) if alphas else 0.0, 1.0)
        if shown is not None:
            ax.set_xlim(*shown)
        ax.set_title(dim, fontsize=10)
        ax.set_ylabel("alpha", fontsize=8)
        ax.set_xlabel("event time (UTC)", fontsize=8)
        ax.tick_params(labelsize=7)
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    if axes:
        axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Krippendorff's alpha per event-time window (red: the window an agreement_low flag "
                 "was raised on, on its own window size's series)")
    return _save(fig, path)


def _cells(ax: Any, matrix: np.ndarray) -> None:
    """Each cell's coincidence count, white on dark cells."""
    top = float(matrix.max()) if matrix.size else 0.0
    for (i, j), value in np.ndenumerate(matrix):
        dark = top > 0 and value < 0.6 * top  # viridis is dark at its low end
        ax.text(j, i, fmt.count(value), ha="center", va="center", fontsize=6,
                color="white" if dark else "black")


def coincidence(data: ReportData, path: Path) -> Path:
    """Heat map of each dimension's coincidence matrix: mass off the diagonal is disagreement."""
    dims = ordered(data.coincidence)
    fig, axes = _grid(len(dims), cols=4, size=(3.8, 3.6))
    for ax, dim in zip(axes, dims, strict=True):
        entry = data.coincidence[dim]
        matrix = np.asarray(entry["matrix"], float)
        image = ax.imshow(matrix, cmap="viridis")
        _cells(ax, matrix)
        ticks = range(len(entry["values"]))
        ax.set_xticks(list(ticks), entry["values"], fontsize=7)
        ax.set_yticks(list(ticks), entry["values"], fontsize=7)
        ax.set_xlabel("one rater's answer", fontsize=7)
        ax.set_ylabel("another rater's answer", fontsize=7)
        bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        bar.ax.tick_params(labelsize=6)
        bar.set_label("pairs of answers", fontsize=6)
        alpha = "n/a" if entry["alpha"] is None else f"{entry['alpha']:.2f}"
        ax.set_title(f"{dim}\nalpha {alpha}", fontsize=8)
    fig.suptitle("Coincidence matrices (whole campaign, slice all): how often two raters of the same clip "
                 "gave these two answers")
    return _save(fig, path)


def _zoom(values: list[float], bar: float) -> tuple[float, float]:
    """Axis limits around the data and the threshold line, with room for labels."""
    low, high = min([*values, bar]), max([*values, bar])
    pad = max(0.02, 0.08 * (high - low))
    return low - pad, min(1.0 + pad / 2, high + pad)


def annotators(data: ReportData, path: Path) -> Path:
    """Peer agreement against each annotator's lowest gold agreement over dimensions (the one
    qualification judges), coloured by state, the gold threshold drawn, those outside the pack named."""
    rows = [r for r in data.annotators if r.get("gold_lowest") is not None and r["peer"] is not None]
    fig, ax = plt.subplots(figsize=(7.0, 5.5))
    for state, color in STATE_COLORS.items():
        chosen = [r for r in rows if r["state"] == state]
        if chosen:
            ax.scatter([r["peer"] for r in chosen], [r["gold_lowest"] for r in chosen], c=color, label=state,
                       s=30, zorder=3)
    bar = data.gold_threshold
    ax.axhline(bar, ls="--", color="tab:red", lw=1, label=f"gold threshold {bar:.2f} (retraining below)")
    ax.axvline(bar, ls=":", color="gray", lw=1, label=f"{bar:.2f} on peer agreement, for comparison")
    named = set(outside_pack(rows, bar))
    for r in rows:
        if r["annotator_id"] in named:
            ax.annotate(f"{r['annotator_id']} ({r['gold_lowest_dimension']})", (r["peer"], r["gold_lowest"]),
                        xytext=(6, -10), textcoords="offset points", fontsize=7)
    ax.set_xlim(*_zoom([r["peer"] for r in rows], bar))
    ax.set_ylim(*_zoom([r["gold_lowest"] for r in rows], bar))
    ax.set_xlabel("peer agreement (share of pairs with co-raters within tolerance)")
    ax.set_ylabel("gold agreement, lowest dimension (share within tolerance)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Annotators: gold vs peer agreement (named: outside the pack)")
    return _save(fig, path)


def _bars(ax: Any, rows: list[dict[str, Any]], labels: list[str]) -> None:
    y = np.arange(len(rows))
    alpha = [r["alpha"] or 0.0 for r in rows]
    low = [a - (r["ci_low"] if r["ci_low"] is not None else a) for a, r in zip(alpha, rows, strict=True)]
    high = [(r["ci_high"] if r["ci_high"] is not None else a) - a for a, r in zip(alpha, rows, strict=True)]
    ax.barh(y, alpha, xerr=[low, high], color="tab:blue", alpha=0.7, capsize=2)
    ax.set_yticks(list(y), labels, fontsize=7)
    for bar in (0.667, 0.8):
        ax.axvline(bar, ls="--", color="black", lw=1)
    ax.set_xlim(min(0.0, *alpha), 1.0)


def slices(data: ReportData, path: Path) -> Path:
    """Per-slice alpha with 95% CI, one panel per dimension."""
    dims = ordered({r["dimension"] for r in data.slices})
    fig, axes = _grid(len(dims), size=(5.0, 2.6))
    for ax, dim in zip(axes, dims, strict=True):
        rows = [r for r in reversed(data.slices) if r["dimension"] == dim]  # the weakest at the top
        _bars(ax, rows, [r["slice"] for r in rows])
        ax.set_title(dim, fontsize=9)
        ax.set_xlabel("alpha", fontsize=7)
    fig.suptitle("Alpha per slice, weakest at the top (whole campaign; dashed: 0.667 and 0.800)")
    return _save(fig, path)


def pilot(data: ReportData, path: Path) -> Path:
    """Dimensions ranked by alpha with 95% CI against the 0.667 / 0.800 bars."""
    rows = list(reversed(data.pilot))
    fig, ax = plt.subplots(figsize=(7.0, 0.4 * len(rows) + 1.2))
    _bars(ax, rows, [f"{r['dimension']} ({r['verdict']})" for r in rows])
    ax.set_xlabel("alpha", fontsize=8)
    ax.set_title("Pilot ranking: alpha per dimension, 95% bootstrap CI")
    return _save(fig, path)


def charted_boards(data: ReportData) -> list[dict[str, Any]]:
    """The overall leaderboard of each modality that has votes in its fit."""
    return [b for b in data.leaderboards if b["dimension"] == "overall" and b["votes"] > 0]


def leaderboards(data: ReportData, path: Path) -> Path:
    """Each modality's overall leaderboard: score with its 95% bootstrap interval, best at the top."""
    boards = charted_boards(data)
    height = max(len(b["models"]) for b in boards)
    fig, axes = _grid(len(boards), cols=len(boards), size=(5.0, 0.35 * height + 1.5))
    for ax, board in zip(axes, boards, strict=True):
        models = [m for m in reversed(board["models"]) if m["score"] is not None]
        y = np.arange(len(models))
        scores = np.asarray([m["score"] for m in models], float)
        low = np.asarray([m["ci_low"] if m["ci_low"] is not None else m["score"] for m in models], float)
        high = np.asarray([m["ci_high"] if m["ci_high"] is not None else m["score"] for m in models], float)
        ax.errorbar(scores, y, xerr=[scores - low, high - scores], fmt="o", capsize=3, color="tab:blue")
        ax.set_yticks(list(y), [m["model_id"] for m in models], fontsize=7)
        ax.axvline(board["elo_base"], ls=":", color="gray", lw=1)
        ax.set_xlabel(f"score (anchor {board.get('anchor')} at {board['elo_base']:.0f}; +400 = 10:1 odds)",
                      fontsize=7)
        ax.set_title(f"{board['modality']}: {board['votes']:,} votes", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("Model leaderboards (overall preference, 95% bootstrap intervals)")
    return _save(fig, path)


def draw_all(data: ReportData, out: Path) -> dict[str, Path]:
    """Every chart the data has content for, by name."""
    drawn: dict[str, Path] = {}
    people = [r for r in data.annotators if r.get("gold_lowest") is not None and r["peer"] is not None]
    boards = charted_boards(data)
    jobs = (("alpha_over_time", alpha_over_time, data.series), ("coincidence", coincidence, data.coincidence),
            ("annotators", annotators, people), ("slices", slices, data.slices), ("pilot", pilot, data.pilot),
            ("leaderboards", leaderboards, boards))
    for name, draw, content in jobs:
        if content:
            drawn[name] = draw(data, out / f"{name}.png")
    return drawn
