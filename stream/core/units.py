"""Per-unit state: each annotator's latest answer, so duplicates and replays change nothing (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True, slots=True)
class Answer:
    """What a unit takes of one valid event. The stream reads it from the JSON that ingest
    validated (a second pydantic parse was a tenth of the unit stage's time); the offline tool
    from the validated model, through the same function, so the two cannot drift apart."""

    event_kind: str  # rating, pairwise or retraction
    unit_kind: Kind
    event_id: str
    annotator: str
    submitted: float
    slices: list[str | None]  # [source category, modality] of the rated clip (clip A of a pair)
    codes: list[int | None] | None  # value indices in dimension order; None for a retraction


def read_answer(data: Mapping[str, Any], dimensions: list[str], low: int) -> Answer:
    """The answer of a decoded event that passed validation (timestamps parse as the schema does)."""
    kind = data["kind"]
    clip: Mapping[str, Any] | None = None
    codes: list[int | None] | None = None
    if kind == "rating":
        unit: Kind = "c"
        clip, codes = data["clip"], answer_codes("c", data["scores"], dimensions, low)
    elif kind == "pairwise":
        # a pair compares two configurations on one prompt; clip A's metadata names the slice
        unit, clip, codes = "p", data["clip_a"], answer_codes("p", data["preferences"], dimensions, low)
    else:
        unit = "p" if data["unit_kind"] == "pairwise" else "c"
    slices = [clip["source_category"], clip["modality"]] if clip is not None else [None, None]
    return Answer(kind, unit, data["event_id"], data["annotator_id"],
                  datetime.fromisoformat(data["submitted_at"]).timestamp(), slices, codes)


def answer_from(event: RatingEvent | PairwiseEvent | RetractionEvent, dimensions: list[str],
                low: int) -> Answer:
    """The answer of a validated event model."""
    return read_answer(event.model_dump(mode="json"), dimensions, low)


def new_state(answer: Answer, partition: int) -> UnitState:
    return {"k": answer.unit_kind, "p": partition, "t": answer.submitted, "s": answer.slices, "a": {}}


def step(stored: UnitState | None, answer: Answer, partition: int, n_values: Mapping[str, int]) -> Outcome:
    """Apply one answer to its unit's stored state (None: the unit's first event)."""
    state = stored or new_state(answer, partition)
    if state["s"][0] is None and answer.codes is not None:
        state = {**state, "s": answer.slices}  # a retraction seen first knew no clip
    return apply(state, answer.event_id, answer.annotator, answer.submitted, answer.codes,
                 n_values[state["k"]])


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
