"""Offline alpha over a JSONL file of annotation events: the pilot-study tool and the stream's reference."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from schemas.events import PairwiseEvent, RatingEvent, RetractionEvent, unit_key
from stream.core import vocabulary
from stream.core.units import answer_from, counts_for, step
from stream.core.validate import Invalid, Validator
from stream.core.windows import Tumbling
from stream.core.wire import UnitState
from stream.flags.policy import rarest_share
from stream.settings import Settings
from stream.stats import LEVELS, Coincidence

GroupKey = tuple[str, str, int | None, int | None]  # dimension, slice, window size, window start


@dataclass
class OfflineResult:
    units: dict[str, UnitState] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, why): the first 20


def read_lines(path: Path, numbered: bool = False) -> Iterator[bytes]:
    """The file's lines; with `numbered`, blank lines too (as b""), so positions are line numbers."""
    with path.open("rb") as handle:
        for line in handle:
            if line.strip() or numbered:
                yield line.rstrip(b"\r\n")


def collect(lines: Iterable[bytes], settings: Settings) -> OfflineResult:
    """Apply events in file order with the stream's own unit rules (latest answer wins)."""
    validator = Validator(settings.dimensions, settings.score_min, settings.score_max,
                          settings.max_payload_bytes)
    n_values = vocabulary.n_values(settings.scale)
    result = OfflineResult()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        event = validator(raw)
        if isinstance(event, Invalid):
            result.invalid[event.reason] = result.invalid.get(event.reason, 0) + 1
            if len(result.skipped) < 20:
                result.skipped.append((number, f"{event.reason}: {event.detail}"))
            continue
        if not isinstance(event, RatingEvent | PairwiseEvent | RetractionEvent):
            continue  # watermarks carry no answers
        key = unit_key(event)
        answer = answer_from(event, settings.dimensions, settings.score_min)
        outcome = step(result.units.get(key), answer, 0, n_values)
        result.outcomes[outcome.status] = result.outcomes.get(outcome.status, 0) + 1
        if outcome.status == "applied":
            result.units[key] = outcome.state
    return result


def slices_of(state: UnitState, by_slice: bool, fields: list[str]) -> list[str]:
    if not by_slice:
        return ["all"]
    category, modality = state["s"]
    names = {"all": "all", "source_category": f"source_category={category}",
             "modality": f"modality={modality}"}
    return [names[f] for f in fields if f == "all" or category is not None]


def matrices(
    result: OfflineResult, settings: Settings, by_slice: bool = False, window_s: int | None = None
) -> dict[GroupKey, Coincidence]:
    """Coincidence matrix per dimension and slice (and window of the unit's first answer)."""
    window = Tumbling(window_s, settings.grace_s) if window_s else None
    dims = {k: vocabulary.kind_dimensions(k, settings.dimensions) for k in ("c", "p")}
    n_values = vocabulary.n_values(settings.scale)
    out: dict[GroupKey, Coincidence] = {}
    for state in result.units.values():
        start = window.start_of(state["t"]) if window else None
        for index, dim in enumerate(dims[state["k"]]):
            counts = np.asarray(counts_for(state["a"], index, n_values[state["k"]]))
            if not counts.any():
                continue
            for name in slices_of(state, by_slice, settings.slices):
                key = (dim, name, window_s, start)
                out.setdefault(key, Coincidence(n_values[state["k"]])).update(counts)
    return out


def summarize(key: GroupKey, matrix: Coincidence, settings: Settings) -> dict[str, Any]:
    dim, name, size, start = key
    scale = np.asarray(settings.scale_for(dim), float)
    level = settings.level_for(dim)
    main = matrix.get(scale, level)
    return {
        "dimension": dim, "slice": name, "window_size_s": size, "window_start": start,
        "level": level, "alpha": main.alpha, "alpha_reason": main.reason,
        # A/B/tie has no order to measure distances on: pairwise dimensions are nominal only
        "alpha_by_level": {lv: matrix.get(scale, lv).alpha for lv in LEVELS
                           if lv == "nominal" or not vocabulary.is_pairwise(dim)},
        "n_units": matrix.n_units, "n_pairable_units": matrix.n_pairable_units,
        "n_pairable_values": main.n_pairable_values,
        "rarest_share": rarest_share(matrix.marginals),
    }


def report(path: Path, settings: Settings, by_slice: bool, window_s: int | None) -> dict[str, Any]:
    result = collect(read_lines(path, numbered=True), settings)
    groups = matrices(result, settings, by_slice, window_s)
    rows = [summarize(k, m, settings) for k, m in sorted(groups.items(), key=lambda kv: str(kv[0]))]
    return {"rows": rows, "invalid": result.invalid, "outcomes": result.outcomes,
            "n_units": len(result.units), "skipped": result.skipped}
