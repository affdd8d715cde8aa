"""RLHF batching rules (pure): batch clock, per-unit answer fates, when to emit, batch summaries."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from stream.core.units import apply
from stream.core.wire import SummaryState, UnitState
from stream.stats.coincidence import Coincidence

WEEK_S = 7 * 86400
MONDAY_OFFSET_S = 4 * 86400  # the epoch was a Thursday; ISO weeks start on Monday
ANSWER_KINDS = {"rating": "c", "pairwise": "p"}

# Table value of one unit (compact: every write goes to the changelog):
# {"k": "c"|"p", "p": partition, "t": first answer time, "b": batch start, "w": unit close time,
#  "m": metadata for the record, "a": {annotator: [event_id, submitted, codes | None]} (units.apply),
#  "q": {annotator: [confidence, state when rated, gold, shown_left]}, "x": {reason: count} for
#  answers replaced or repeated, "v": version emitted (0: none), "h": hash of the included answers,
#  "c": the unit's window has closed, "r": event ids of answers replaced or withdrawn, "o": event
#  ids of the same key's answers in a batch already closed (repeats of either are duplicates)};
# once its batch closed, a stub {"z": True, "p", "b", "s": event ids counted}. A dict, not a
# TypedDict: the table holds both shapes and mypy cannot narrow a TypedDict union by a key.
BatchUnit = dict[str, Any]


@dataclass(frozen=True)
class BatchClock:
    """Tumbling batches in event time; weekly ones are ISO weeks (Monday 00:00 UTC)."""

    length_s: int
    grace_s: int
    label: str = "1w"

    @property
    def offset_s(self) -> int:
        return MONDAY_OFFSET_S if self.length_s % WEEK_S == 0 else 0

    def start_of(self, ts: float) -> int:
        return int((ts - self.offset_s) // self.length_s) * self.length_s + self.offset_s

    def closes_at(self, start: int) -> int:
        return start + self.length_s + self.grace_s

    def batch_id(self, start: int) -> str:
        begin = datetime.fromtimestamp(start, tz=UTC)
        if self.length_s == WEEK_S:
            year, week, _ = begin.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{begin:%Y-%m-%dT%H:%MZ}+{self.label}"


@dataclass(frozen=True)
class Policy:
    """Which answers count and when a unit is emitted (settings ALPHAWATCH_BATCH_*)."""

    clock: BatchClock
    unit_window_s: int  # the smallest agreement window: a unit closes with it
    grace_s: int
    required: int = 3
    min_ratings: int = 2
    require_qualified: bool = True
    include_gold: bool = False

    def unit_window_start(self, ts: float) -> int:
        return int(ts // self.unit_window_s) * self.unit_window_s

    def unit_closes_at(self, first: float) -> int:
        """End of the unit's window (or of its batch, if sooner) plus grace."""
        batch = self.clock.start_of(first)
        return min(self.unit_window_start(first) + self.unit_window_s, batch + self.clock.length_s) \
            + self.grace_s


def meta_of(event: dict[str, Any]) -> dict[str, Any]:
    """What the record needs from the event besides the answers."""
    if event["kind"] == "rating":
        clip = event["clip"]
        return {"project_id": event["project_id"], "clip": {
            "clip_id": event["clip_id"], "source_category": clip["source_category"],
            "modality": clip["modality"], "model_id": clip["model_id"], "prompt": clip["prompt"],
            "duration_s": clip.get("duration_s")}}
    side = ("clip_id", "model_id", "modality", "source_category")
    return {"project_id": event["project_id"], "pair_id": event["pair_id"],
            "prompt": event["clip_a"]["prompt"],
            "clip_a": {f: event["clip_a"][f] for f in side}, "clip_b": {f: event["clip_b"][f] for f in side}}


def new_unit(kind: str, partition: int, first: float, policy: Policy) -> BatchUnit:
    return {"k": kind, "p": partition, "t": first, "b": policy.clock.start_of(first),
            "w": policy.unit_closes_at(first), "m": None, "a": {}, "q": {}, "x": {}, "v": 0, "h": "",
            "c": False}


def _count(state: BatchUnit, reason: str) -> BatchUnit:
    return {**state, "x": {**state["x"], reason: state["x"].get(reason, 0) + 1}}


def apply_answer(state: BatchUnit, event: dict[str, Any], codes: list[int | None] | None,
                 status: str, n_values: int) -> tuple[BatchUnit, str]:
    """Apply a rating, pairwise vote or (codes None) retraction with the latest-answer rule of the
    units stage; answers that stop counting are counted by reason, and their event ids kept ("r"),
    so that a repeat of one is a duplicate, never counted twice. Returns (state, outcome)."""
    annotator, event_id = event["annotator_id"], event["event_id"]
    if codes is not None and (event_id in state.get("o", ()) or event_id in state.get("r", ())):
        return _count(state, "duplicate"), "duplicate"
    kept = state["a"].get(annotator)
    submitted = datetime.fromisoformat(event["submitted_at"]).timestamp()
    # a batch unit carries the unit fields (k, p, t, a) and more: the unit rules apply to it as is
    outcome = apply(cast(UnitState, state), event_id, annotator, submitted, codes, n_values)
    if outcome.status == "duplicate":
        return (_count(state, "duplicate") if codes is not None else state), "duplicate"
    if outcome.status != "applied":  # older than the answer kept: superseded on arrival
        if codes is None:
            return state, outcome.status
        return {**_count(state, "superseded"), "r": [*state.get("r", ()), event_id]}, outcome.status
    updated: BatchUnit = dict(outcome.state)
    if kept is not None and kept[2] is not None:
        updated = _count(updated, "retracted" if codes is None else "superseded")
        updated["r"] = [*state.get("r", ()), kept[0]]
    if codes is not None:
        updated["q"] = {**state["q"], annotator: [event.get("confidence"), status,
                                                  event.get("gold_item_id") is not None,
                                                  event.get("shown_left")]}
        if state["m"] is None:
            updated["m"] = meta_of(event)
    return updated, "applied"


def seen_ids(state: BatchUnit) -> list[str]:
    """Every answer event id the unit has counted: current, replaced, and from an earlier batch."""
    current = [entry[0] for entry in state["a"].values() if entry[2] is not None]
    return sorted({*current, *state.get("r", ()), *state.get("o", ())})


def fate(state: BatchUnit, annotator: str, policy: Policy) -> str | None:
    """Why a current answer is left out, or None if it is eligible for the record."""
    _, status, gold, _ = state["q"][annotator]
    if gold and not policy.include_gold:
        return "gold_item"
    if policy.require_qualified and status != "qualified":
        return f"annotator_{status}"
    return None


def eligible(state: BatchUnit, policy: Policy) -> list[str]:
    """Annotators whose current answer would go into the unit's record, in a stable order."""
    return sorted(a for a, entry in state["a"].items()
                  if entry[2] is not None and fate(state, a, policy) is None)


def included_hash(state: BatchUnit, annotators: Iterable[str]) -> str:
    text = "|".join(f"{a}:{state['a'][a][0]}" for a in annotators)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def emission(state: BatchUnit, policy: Policy) -> int | None:
    """The version to emit now: the first once the unit has the required eligible answers (or the
    minimum when its window has closed), a new one whenever its eligible answers change after."""
    chosen = eligible(state, policy)
    if state["v"] == 0:
        enough = len(chosen) >= policy.required or (state["c"] and len(chosen) >= policy.min_ratings)
        return 1 if enough and chosen else None
    return state["v"] + 1 if included_hash(state, chosen) != state["h"] else None


def mark_emitted(state: BatchUnit, version: int, policy: Policy) -> BatchUnit:
    return {**state, "v": version, "h": included_hash(state, eligible(state, policy))}


def accounting(state: BatchUnit, policy: Policy) -> tuple[int, Counter[str]]:
    """(answers in the unit's latest record, answers left out by reason): every answer that reached
    the stage for this unit is in exactly one of them."""
    left_out: Counter[str] = Counter(state["x"])
    included = 0
    for annotator, entry in state["a"].items():
        if entry[2] is None:
            continue  # a retraction: the answer it withdrew is counted under 'retracted'
        reason = fate(state, annotator, policy)
        if reason is None and state["v"] == 0:
            reason = "below_min_raters"
        if reason is None:
            included += 1
        else:
            left_out[reason] += 1
    return included, left_out


def record_hash(record_id: str, version: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{record_id}:{version}".encode()).digest(), "big")


@dataclass
class Summary:
    """One partition's share of a closed batch; summaries of all partitions add up to the manifest."""

    records: Counter[str]
    included: int
    exclusions: Counter[str]
    checksum: int
    matrices: dict[str, Coincidence]

    def add_unit(self, state: BatchUnit, policy: Policy, record_type: str, rid: str,
                 dimension_names: Sequence[str], n_values: int) -> None:
        included, left_out = accounting(state, policy)
        self.included += included
        self.exclusions.update(left_out)
        if state["v"] == 0:
            return
        self.records[record_type] += 1
        self.checksum ^= record_hash(rid, state["v"])
        chosen = eligible(state, policy)
        for i, name in enumerate(dimension_names):
            counts = [0] * n_values
            for a in chosen:
                value = state["a"][a][2][i]
                if value is not None:
                    counts[value] += 1
            if sum(counts):
                self.matrices.setdefault(name, Coincidence(n_values)).update(counts)

    def to_state(self) -> SummaryState:
        return {"r": dict(self.records), "i": self.included, "x": dict(self.exclusions),
                "h": f"{self.checksum:064x}", "m": {k: m.to_state() for k, m in self.matrices.items()}}

    @classmethod
    def from_state(cls, state: SummaryState) -> Summary:
        return cls(Counter(state["r"]), int(state["i"]), Counter(state["x"]), int(state["h"], 16),
                   {k: Coincidence.from_state(m) for k, m in state["m"].items()})

    @classmethod
    def empty(cls) -> Summary:
        return cls(Counter(), 0, Counter(), 0, {})

    def __add__(self, other: Summary) -> Summary:
        matrices = dict(self.matrices)
        for name, matrix in other.matrices.items():
            matrices[name] = matrices[name] + matrix if name in matrices else matrix
        return Summary(self.records + other.records, self.included + other.included,
                       self.exclusions + other.exclusions, self.checksum ^ other.checksum, matrices)


def manifest_fields(summary: Summary, scales: dict[str, tuple[Sequence[int], str]]) -> dict[str, Any]:
    """The manifest's counts, alphas and checksum from the partitions' summed summary."""
    alphas: dict[str, dict[str, Any]] = {}
    for name, matrix in sorted(summary.matrices.items()):
        scale, level = scales[name]
        result = matrix.get(scale, level)  # type: ignore[arg-type]
        alphas[name] = {"alpha": result.alpha, "alpha_reason": result.reason,
                        "n_pairable_values": result.n_pairable_values}
    excluded = sum(summary.exclusions.values())
    return {"record_counts": dict(sorted(summary.records.items())),
            "answers_received": summary.included + excluded, "answers_included": summary.included,
            "exclusions": dict(sorted(summary.exclusions.items())), "alpha": alphas,
            "record_checksum": f"{summary.checksum:064x}"}
