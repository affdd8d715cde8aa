"""What an agreement report shows: the data behind its charts and tables (written as report.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReportData:
    """Everything the charts and the HTML show; written as report.json next to them."""

    source: str  # "topics" or "events"
    generated_at: str
    thresholds: dict[str, float]
    series: dict[str, list[dict[str, Any]]]  # dimension -> windows of slice all, every window size
    flags: list[dict[str, Any]]
    coincidence: dict[str, dict[str, Any]]  # dimension -> {"values", "matrix"}
    annotators: list[dict[str, Any]]
    slices: list[dict[str, Any]]
    pilot: list[dict[str, Any]]
    batches: dict[str, Any] | None
    counts: dict[str, Any] = field(default_factory=dict)
    gold_threshold: float = 0.85
    windows: list[int] = field(default_factory=list)  # window sizes (s), smallest first
    leaderboards: list[dict[str, Any]] = field(default_factory=list)  # model-rankings records
