"""Peer agreement pairs and task counts per annotator, gathered on the unit-keyed stream (pure)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from stream.qualification.rules import Codes, Kind

# one pair outcome: (annotator, other rater, dimension index, agree within tolerance)
Pair = tuple[str, str, int, bool]


class UnitCache:
    """Recent units' answers (bounded, least recently touched evicted) to compare each new answer
    with the unit's earlier raters. In memory only: the main stream pays no table write for peers."""

    def __init__(self, capacity: int, tolerance: dict[Kind, int]):
        self.capacity = capacity
        self.tolerance = tolerance
        self.units: OrderedDict[str, dict[str, Codes]] = OrderedDict()

    def add(self, unit: str, kind: Kind, annotator: str, values: Codes) -> list[Pair]:
        """The pairs a first answer makes with the unit's other raters. A revision or a replayed
        event replaces the kept answer without counting again: each pair is counted once."""
        if self.capacity <= 0:
            return []
        answers = self.units.get(unit)
        if answers is None:
            answers = self.units[unit] = {}
            while len(self.units) > self.capacity:
                self.units.popitem(last=False)
        else:
            self.units.move_to_end(unit)
        known = annotator in answers
        answers[annotator] = values
        if known:
            return []
        tol = self.tolerance[kind]
        return [(annotator, other, dim, abs(a - b) <= tol)
                for other, theirs in answers.items() if other != annotator
                for dim, (a, b) in enumerate(zip(values, theirs, strict=False))
                if a is not None and b is not None]


class AnnotatorCounts:
    """Per annotator, what was seen since the last flush: tasks, gold tasks and peer pair outcomes
    per dimension; flushed as one compact message per annotator, so the per-annotator table is
    written once per flush interval, not once per event."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[str, Any]] = {}

    def _entry(self, annotator: str) -> dict[str, Any]:
        entry = self.pending.get(annotator)
        if entry is None:
            entry = self.pending[annotator] = {"t": "c", "a": annotator, "n": 0, "ng": 0, "peer": {}}
        return entry

    def task(self, annotator: str, gold: bool) -> None:
        entry = self._entry(annotator)
        entry["n"] += 1
        entry["ng"] += int(gold)

    def pairs(self, pairs: list[Pair], names: list[str]) -> None:
        """Each pair counts for both raters, on the dimension's name (pairwise.<d> for pairs)."""
        for annotator, other, dim, agree in pairs:
            for who in (annotator, other):
                counts = self._entry(who)["peer"].setdefault(names[dim], [0, 0])
                counts[0] += int(agree)
                counts[1] += 1

    def take(self) -> list[dict[str, Any]]:
        out = list(self.pending.values())
        self.pending = {}
        return out
