"""PNG charts of the agreement report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: a headless backend, so reports render in CI and over SSH

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from stream.core import vocabulary
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
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def ordered(dims: list[str] | set[str] | dict[str, Any]) -> list[str]:
    """Rating dimensions first, then their pairwise counterparts."""
    return sorted(dims, key=lambda d: (vocabulary.is_pairwise(d), d))


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def alpha_over_time(data: ReportData, path: Path) -> Path:
    """Alpha per dimension and window with its 95% band, the threshold dashed, flags as red lines."""
    dims = ordered(data.series)
    fig, axes = _grid(len(dims))
    for ax, dim in zip(axes, dims, strict=True):
        rows = [r for r in data.series[dim] if r["alpha"] is not None]
        x = [_time(r["window_start"]) for r in rows]
        ax.plot(x, [r["alpha"] for r in rows], marker="o", ms=3, label="alpha")
        band = [(t, r["ci_low"], r["ci_high"]) for t, r in zip(x, rows, strict=True)
                if r["ci_low"] is not None]
        if band:
            ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band], alpha=0.25,
                            label="95% CI")
        ax.axhline(data.thresholds.get(dim, 0.667), ls="--", color="black", lw=1, label="threshold")
        for flag in data.flags:
            if flag["dimension"] == dim and flag["kind"] == "agreement_low" and flag["slice"] == "all":
                ax.axvline(_time(str(flag["window_start"])), color="tab:red", lw=1.5, alpha=0.7)
        ax.set_title(dim, fontsize=10)
        ax.set_ylim(min(0.0, *(r["alpha"] for r in rows)) if rows else 0.0, 1.0)
        ax.tick_params(labelsize=7)
    if axes:
        axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Krippendorff's alpha per event-time window (red line: agreement_low flag raised)")
    return _save(fig, path)


def coincidence(data: ReportData, path: Path) -> Path:
    """Heat map of each dimension's coincidence matrix: mass off the diagonal is disagreement."""
    dims = ordered(data.coincidence)
    fig, axes = _grid(len(dims), cols=4, size=(3.2, 3.0))
    for ax, dim in zip(axes, dims, strict=True):
        entry = data.coincidence[dim]
        matrix = np.asarray(entry["matrix"], float)
        ax.imshow(matrix, cmap="viridis")
        ticks = range(len(entry["values"]))
        ax.set_xticks(list(ticks), entry["values"], fontsize=7)
        ax.set_yticks(list(ticks), entry["values"], fontsize=7)
        alpha = "n/a" if entry["alpha"] is None else f"{entry['alpha']:.2f}"
        ax.set_title(f"{dim}\nalpha {alpha}", fontsize=8)
    fig.suptitle("Coincidence matrices (whole campaign, slice all)")
    return _save(fig, path)


def annotators(data: ReportData, path: Path) -> Path:
    """Gold vs peer agreement per annotator, coloured by qualification state."""
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    for state, color in STATE_COLORS.items():
        rows = [r for r in data.annotators if r["state"] == state and r["gold"] is not None
                and r["peer"] is not None]
        if rows:
            ax.scatter([r["peer"] for r in rows], [r["gold"] for r in rows], c=color, label=state, s=30)
            for r in rows if state == "retraining" else []:
                ax.annotate(r["annotator_id"], (r["peer"], r["gold"]), fontsize=7)
    ax.set_xlabel("peer agreement (share of pairs within tolerance)")
    ax.set_ylabel("gold agreement (mean over dimensions)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("Annotators: gold vs peer agreement")
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
        rows = [r for r in data.slices if r["dimension"] == dim]
        _bars(ax, rows, [r["slice"] for r in rows])
        ax.set_title(dim, fontsize=9)
    fig.suptitle("Alpha per slice (whole campaign; dashed: 0.667 and 0.800)")
    return _save(fig, path)


def pilot(data: ReportData, path: Path) -> Path:
    """Dimensions ranked by alpha with 95% CI against the 0.667 / 0.800 bars."""
    rows = list(reversed(data.pilot))
    fig, ax = plt.subplots(figsize=(7.0, 0.4 * len(rows) + 1.2))
    _bars(ax, rows, [f"{r['dimension']} ({r['verdict']})" for r in rows])
    ax.set_title("Pilot ranking: alpha per dimension, 95% bootstrap CI")
    return _save(fig, path)


def draw_all(data: ReportData, out: Path) -> dict[str, Path]:
    """Every chart the data has content for, by name."""
    drawn: dict[str, Path] = {}
    jobs = (("alpha_over_time", alpha_over_time, data.series), ("coincidence", coincidence, data.coincidence),
            ("annotators", annotators, [r for r in data.annotators if r["gold"] is not None]),
            ("slices", slices, data.slices), ("pilot", pilot, data.pilot))
    for name, draw, content in jobs:
        if content:
            drawn[name] = draw(data, out / f"{name}.png")
    return drawn
