"""Per-unit state: each annotator's latest answer, so duplicates and replays change nothing (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.events import PairwiseEvent, RatingEvent, RetractionEvent
from stream.core.vocabulary import answer_codes
from stream.core.wire import Kind, UnitState


@dataclass(frozen=True, slots=True)
class Change:
    """One dimension of one unit changed: its value-count vector before and after."""

    dim: int
    old: tuple[int, ...]
    new: tuple[int, ...]
    annotator: str
    old_value: int | None
    new_value: int | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an event did to its unit: 'applied', 'duplicate' or 'stale' (older than the answer kept)."""

    status: str
    state: UnitState
    changes: tuple[Change, ...]


def answer_of(event: RatingEvent | PairwiseEvent, dimensions: list[str], low: int) -> list[int | None]:
    """The event's answers as value indices (score - low, or A/B/tie codes), in dimension order."""
    if isinstance(event, RatingEvent):
        return answer_codes("c", event.scores, dimensions, low)
    return answer_codes("p", event.preferences, dimensions, low)


def new_state(event: RatingEvent | PairwiseEvent | RetractionEvent, partition: int) -> UnitState:
    kind: Kind = "p" if isinstance(event, PairwiseEvent) else "c"
    if isinstance(event, RetractionEvent):
        kind = "p" if event.unit_kind == "pairwise" else "c"
    return {"k": kind, "p": partition, "t": event.submitted_at.timestamp(), "s": _slices(event), "a": {}}


def _slices(event: RatingEvent | PairwiseEvent | RetractionEvent) -> list[str | None]:
    if isinstance(event, RatingEvent):
        return [event.clip.source_category, event.clip.modality]
    if isinstance(event, PairwiseEvent):
        # a pair compares two configurations on one prompt; clip A's metadata names the slice
        return [event.clip_a.source_category, event.clip_a.modality]
    return [None, None]


def apply(
    state: UnitState, event_id: str, annotator: str, submitted: float,
    answer: list[int | None] | None, n_values: int,
) -> Outcome:
    """Apply one answer (None = retraction); the later submitted_at wins, ties by event_id."""
    answers: dict[str, list[Any]] = state["a"]
    kept = answers.get(annotator)
    if kept is not None:
        if kept[0] == event_id:
            return Outcome("duplicate", state, ())
        if (submitted, event_id) < (kept[1], kept[0]):
            return Outcome("stale", state, ())
    old = kept[2] if kept is not None else None
    changes = _changes(answers, annotator, old, answer, n_values)
    updated: UnitState = {**state, "a": {**answers, annotator: [event_id, submitted, answer]}}
    if state["t"] > submitted and not _has_answers(answers):
        updated["t"] = submitted  # a retraction seen first must not pin the unit's window
    return Outcome("applied", updated, changes)


def _has_answers(answers: dict[str, list[Any]]) -> bool:
    return any(entry[2] is not None for entry in answers.values())


def _changes(
    answers: dict[str, list[Any]], annotator: str, old: list[int | None] | None,
    new: list[int | None] | None, n_values: int,
) -> tuple[Change, ...]:
    n_dims = len(old if old is not None else new or [])
    out: list[Change] = []
    for dim in range(n_dims):
        before = old[dim] if old is not None else None
        after = new[dim] if new is not None else None
        if before == after:
            continue
        counts = counts_for(answers, dim, n_values)
        old_counts = tuple(counts)
        if before is not None:
            counts[before] -= 1
        if after is not None:
            counts[after] += 1
        out.append(Change(dim, old_counts, tuple(counts), annotator, before, after))
    return tuple(out)


def counts_for(answers: dict[str, list[Any]], dim: int, n_values: int) -> list[int]:
    """Value-count vector n_u of one dimension from the annotators' kept answers."""
    counts = [0] * n_values
    for entry in answers.values():
        values = entry[2]
        if values is not None and dim < len(values) and values[dim] is not None:
            counts[values[dim]] += 1
    return counts


def annotators_for(state: UnitState, dim: int) -> list[str]:
    """Annotators whose kept answer has a value in this dimension."""
    return [
        name
        for name, entry in state["a"].items()
        if entry[2] is not None and dim < len(entry[2]) and entry[2][dim] is not None
    ]
