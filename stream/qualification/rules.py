"""Gold-standard qualification: rolling gold agreement, peer agreement, gold rate, state machine (pure)."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from stream.core import vocabulary

State = Literal["qualifying", "qualified", "retraining"]
STATES: tuple[State, ...] = ("qualifying", "qualified", "retraining")
Kind = Literal["c", "p"]  # rating ('c'lip) or pairwise, as unit keys name them
# pairwise answers on a line, so a tolerance of 1 lets a tie agree with A or B, never A with B
PAIRWISE_POSITION = {"A": -1, "tie": 0, "B": 1}
_POSITION_OF_CODE = tuple(PAIRWISE_POSITION[p] for p in vocabulary.PREFERENCES)
Codes = tuple[int | None, ...]


def encode(kind: Kind, answers: Mapping[str, Any], dimensions: Sequence[str]) -> Codes:
    """Answers as comparable integers in dimension order: scores as is, A/tie/B as -1/0/1
    (the vocabulary's value codes, placed on a line so a tolerance means something)."""
    codes = vocabulary.answer_codes(kind, answers, dimensions, low=0)
    if kind == "c":
        return tuple(codes)
    return tuple(None if c is None else _POSITION_OF_CODE[c] for c in codes)


@dataclass(frozen=True)
class KeyRow:
    """One gold item compiled for scoring: kind, expert codes and tolerance per dimension."""

    kind: Kind
    answers: Codes
    tolerance: tuple[int, ...]

    @classmethod
    def of(cls, row: Mapping[str, Any], dimensions: Sequence[str], tolerance: int,
           tolerance_pairwise: int) -> KeyRow:
        kind: Kind = "c" if row["kind"] == "rating" else "p"
        default = tolerance if kind == "c" else tolerance_pairwise
        tol = row.get("tolerance") or {}
        return cls(kind, encode(kind, row.get("answers") or {}, dimensions),
                   tuple(int(tol.get(d, default)) for d in dimensions))

    def agrees(self, dim: int, value: int) -> bool | None:
        """|answer - gold| <= tolerance; None when the key has no answer for the dimension."""
        gold = self.answers[dim]
        return None if gold is None else abs(value - gold) <= self.tolerance[dim]


@dataclass(frozen=True)
class Agreement:
    """Share of agreeing answers over n; value None (with the reason) when there is nothing to count."""

    value: float | None
    n: float
    reason: str | None = None


Entry = tuple[float, str, Kind, Codes]  # submitted_at, gold item, kind of answer, codes


class GoldAnswers:
    """One annotator's recent gold answers: enough entries for the last K per dimension.

    A dimension pools rating and pairwise gold answers: each is one agree/disagree outcome on, say,
    motion quality. Answers are kept, not outcomes, so a corrected or withdrawn key item re-scores
    them; entries are ordered by submitted_at, so an answer that waited for its key lands in its place.
    """

    def __init__(self, k: int, n_dims: int):
        self.k = k
        self.n_dims = n_dims
        self.entries: list[Entry] = []

    def update(self, ts: float, gold_id: str, kind: Kind, values: Codes) -> None:
        bisect.insort(self.entries, (ts, gold_id, kind, values), key=lambda e: e[0])
        self._trim()

    def _trim(self) -> None:
        """Drop entries that are not among the newest K values of any of their dimensions."""
        seen = [0] * self.n_dims
        keep: list[Entry] = []
        for entry in reversed(self.entries):
            needed = False
            for dim, value in enumerate(entry[3]):
                if value is not None:
                    seen[dim] += 1
                    needed = needed or seen[dim] <= self.k
            if needed:
                keep.append(entry)
        self.entries = keep[::-1]

    def get(self, dim: int, key: Mapping[str, KeyRow]) -> Agreement:
        """Agreement over the last K answers of the dimension whose item is (still) in the key."""
        hits = n = taken = 0
        for _, gold_id, kind, values in reversed(self.entries):
            value = values[dim]
            if value is None:
                continue
            if taken == self.k:
                break
            taken += 1
            row = key.get(gold_id)
            outcome = row.agrees(dim, value) if row is not None and row.kind == kind else None
            if outcome is not None:
                n += 1
                hits += outcome
        if n == 0:
            return Agreement(None, 0, "no scored gold answers")
        return Agreement(hits / n, n)

    def references(self) -> set[str]:
        return {entry[1] for entry in self.entries}

    def to_state(self) -> list[list[Any]]:
        return [[ts, gold_id, kind, list(values)] for ts, gold_id, kind, values in self.entries]

    @classmethod
    def from_state(cls, k: int, n_dims: int, state: list[list[Any]]) -> GoldAnswers:
        out = cls(k, n_dims)
        out.entries = [(float(ts), str(gold_id), kind, tuple(values)) for ts, gold_id, kind, values in state]
        out._trim()  # K may have shrunk since the state was written
        return out


@dataclass(frozen=True)
class Transition:
    previous: State | None
    state: State
    reason: str


def _fmt(name: str, a: Agreement) -> str:
    value = "n/a" if a.value is None else f"{a.value:.2f}"
    return f"{name} {value} over {a.n:.0f}"


class Qualification:
    """qualifying -> qualified when every judged dimension has >= N answers at >= threshold;
    qualified -> retraining when any dimension with >= N answers falls below it;
    retraining -> qualified when the annotator passes again. A dimension is judged once the
    annotator has a scored gold answer in it; one never seen cannot be judged and is not required."""

    def __init__(self, threshold: float, min_answers: int, state: State | None = None):
        self.threshold = threshold
        self.min_answers = min_answers
        self.state = state

    def update(self, agreements: Mapping[str, Agreement]) -> Transition | None:
        """The transition these agreements cause, applied; None when the state stays."""
        transition = self._decide(agreements)
        if transition is not None:
            self.state = transition.state
        return transition

    def _decide(self, agreements: Mapping[str, Agreement]) -> Transition | None:
        if self.state is None:
            return Transition(None, "qualifying", "new annotator: no qualifying gold record yet")
        judged = {d: a for d, a in sorted(agreements.items()) if a.n > 0}
        below = {d: a for d, a in judged.items() if a.n >= self.min_answers and self._low(a)}
        if self.state == "qualified":
            if not below:
                return None
            return Transition("qualified", "retraining", f"gold agreement below {self.threshold} on "
                              + ", ".join(_fmt(d, a) for d, a in below.items()))
        short = {d: a for d, a in judged.items() if a.n < self.min_answers}
        if not judged or short or below:
            return None
        return Transition(self.state, "qualified", f"gold agreement >= {self.threshold} over >= "
                          f"{self.min_answers} answers on every dimension: "
                          + ", ".join(_fmt(d, a) for d, a in judged.items()))

    def _low(self, a: Agreement) -> bool:
        return a.value is not None and a.value < self.threshold

    def explain(self, agreements: Mapping[str, Agreement]) -> str:
        """Why the annotator is where they are now (for the status view, not a transition)."""
        judged = {d: a for d, a in sorted(agreements.items()) if a.n > 0}
        if not judged:
            return "no scored gold answers yet"
        short = [d for d, a in judged.items() if a.n < self.min_answers]
        low = [d for d, a in judged.items() if self._low(a)]
        parts = [f"fewer than {self.min_answers} answers: {', '.join(short)}"] if short else []
        parts += [f"below {self.threshold}: {', '.join(low)}"] if low else []
        return "; ".join(parts) or f"at or above {self.threshold} on every dimension"

    def get(self) -> State | None:
        return self.state

    def to_state(self) -> str | None:
        return self.state

    @classmethod
    def from_state(cls, threshold: float, min_answers: int, state: str | None) -> Qualification:
        if state is not None and state not in STATES:
            raise ValueError(f"unknown qualification state {state!r}")
        return cls(threshold, min_answers, state)


class PeerAgreement:
    """Per dimension, how often the annotator agrees (within the gold tolerance) with the other raters
    of the same units; exponentially weighted so it follows roughly the last `window` pairs."""

    def __init__(self, window: int):
        self.window = window
        self.counts: dict[str, list[float]] = {}

    def update(self, dim: str, agree: float, total: float) -> None:
        decay = (1.0 - 1.0 / self.window) ** total if self.window > 1 else 0.0
        entry = self.counts.setdefault(dim, [0.0, 0.0])
        entry[0] = entry[0] * decay + agree
        entry[1] = entry[1] * decay + total

    def get(self, dim: str) -> Agreement:
        agree, total = self.counts.get(dim, (0.0, 0.0))
        if total <= 0:
            return Agreement(None, 0, "no co-rated units")
        return Agreement(agree / total, total)

    def to_state(self) -> dict[str, list[float]]:
        return {d: [round(a, 6), round(t, 6)] for d, (a, t) in self.counts.items()}

    @classmethod
    def from_state(cls, window: int, state: Mapping[str, Sequence[float]]) -> PeerAgreement:
        out = cls(window)
        out.counts = {d: [float(a), float(t)] for d, (a, t) in state.items()}
        return out


class GoldRate:
    """Share of an annotator's tasks that were gold items, against the vendor's target."""

    def __init__(self, tasks: int = 0, gold: int = 0):
        self.tasks = tasks
        self.gold = gold

    def update(self, tasks: int, gold: int) -> None:
        self.tasks += tasks
        self.gold += gold

    def get(self) -> float | None:
        return self.gold / self.tasks if self.tasks else None

    def note(self, target: float, min_answers: int) -> str | None:
        """Far off = below half or above twice the target, once the target would have given
        `min_answers` gold items (before that a low count is not evidence of anything)."""
        rate = self.get()
        if rate is None or self.tasks * target < min_answers:
            return None
        if rate < target / 2:
            return (f"gold rate {rate:.1%} over {self.tasks} tasks is far below the target {target:.1%}: "
                    "too few gold items to judge this annotator")
        if rate > target * 2:
            return f"gold rate {rate:.1%} over {self.tasks} tasks is far above the target {target:.1%}"
        return None

    def to_state(self) -> list[int]:
        return [self.tasks, self.gold]

    @classmethod
    def from_state(cls, state: Sequence[int]) -> GoldRate:
        return cls(int(state[0]), int(state[1]))
