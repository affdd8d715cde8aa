"""One annotator's qualification record: gold answers, answers awaiting their key, peers, gold rate (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from schemas.outputs import AnnotatorStatus
from stream.core.wire import AnnotatorState
from stream.qualification.rules import (
    Agreement,
    Codes,
    GoldAnswers,
    GoldRate,
    KeyRow,
    Kind,
    PeerAgreement,
    Qualification,
    Transition,
)

Outcome = Literal["scored", "waiting", "duplicate", "kind_mismatch"]


@dataclass(frozen=True)
class Config:
    dimensions: tuple[str, ...]
    window: int
    min_answers: int
    threshold: float
    pending_max: int
    peer_window: int
    rate_target: float
    retention_s: float = 90 * 86_400  # an annotator this long without a message is forgotten


@dataclass
class GoldResult:
    outcome: Outcome
    dropped: list[str]  # gold ids of waiting answers pushed out of the bounded buffer


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


class Annotator:
    """State of one annotator, kept in the annotators table as a compact dict (to_state)."""

    def __init__(self, cfg: Config, annotator_id: str, partition: int):
        self.cfg = cfg
        self.id = annotator_id
        self.partition = partition
        n = len(cfg.dimensions)
        self.answers = GoldAnswers(cfg.window, n)
        self.pending: list[list[Any]] = []  # [submitted_at, gold_id, kind, codes], oldest first
        self.ids: list[str] = []  # recent gold event ids: a replayed answer counts once
        self.qual = Qualification(cfg.threshold, cfg.min_answers)
        self.peer = PeerAgreement(cfg.peer_window)
        self.rate = GoldRate()
        self.since = 0.0  # wall time of the last transition
        self.reason = ""
        self.event_at: float | None = None  # submitted_at of the answer behind the last transition
        self.seq = 0  # bumped on every change; Redis ignores older writes
        self.seen = 0.0  # wall time of the last message that changed the record (for the retention)

    def add_gold(self, event_id: str, ts: float, gold_id: str, kind: Kind, codes: Codes,
                 key: Mapping[str, KeyRow]) -> GoldResult:
        if event_id in self.ids:
            return GoldResult("duplicate", [])
        self.ids = [*self.ids, event_id][-2 * self.cfg.window:]
        row = key.get(gold_id)
        if row is None:
            self.pending.append([ts, gold_id, kind, list(codes)])
            self.pending.sort(key=lambda p: p[0])
            dropped = self.pending[:max(0, len(self.pending) - self.cfg.pending_max)]
            self.pending = self.pending[len(dropped):]
            return GoldResult("waiting", [str(p[1]) for p in dropped])
        return GoldResult(self._score(ts, gold_id, kind, codes, row), [])

    def _score(self, ts: float, gold_id: str, kind: Kind, codes: Codes, row: KeyRow) -> Outcome:
        if row.kind != kind:
            return "kind_mismatch"
        # only dimensions the key answers take a place in the window
        kept = tuple(v if g is not None else None for v, g in zip(codes, row.answers, strict=True))
        self.answers.update(ts, gold_id, kind, kept)
        return "scored"

    def resolve(self, key: Mapping[str, KeyRow]) -> list[tuple[str, Outcome]]:
        """Score the waiting answers whose key item has arrived; the others keep waiting."""
        done: list[tuple[str, Outcome]] = []
        waiting = []
        for ts, gold_id, kind, codes in self.pending:
            row = key.get(gold_id)
            if row is None:
                waiting.append([ts, gold_id, kind, codes])
            else:
                done.append((gold_id, self._score(ts, gold_id, kind, tuple(codes), row)))
        self.pending = waiting
        return done

    def add_counts(self, tasks: int, gold: int, peer: Mapping[str, list[float]]) -> None:
        self.rate.update(tasks, gold)
        for dim, (agree, total) in sorted(peer.items()):
            self.peer.update(dim, agree, total)

    def agreements(self, key: Mapping[str, KeyRow]) -> dict[str, Agreement]:
        return {name: self.answers.get(i, key) for i, name in enumerate(self.cfg.dimensions)}

    def evaluate(self, key: Mapping[str, KeyRow], now: float, event_at: float | None = None
                 ) -> list[Transition]:
        """Every transition the current answers cause (a new annotator enters qualifying first)."""
        out = []
        agreements = self.agreements(key)
        while (transition := self.qual.update(agreements)) is not None:
            out.append(transition)
            self.since, self.reason, self.event_at = now, transition.reason, event_at
        return out

    def references(self) -> set[str]:
        return self.answers.references() | {str(p[1]) for p in self.pending}

    def status(self, transition: Transition, key: Mapping[str, KeyRow]) -> AnnotatorStatus:
        agreements = self.agreements(key)
        peers = {d: self.peer.get(d) for d in sorted(self.peer.counts)}
        return AnnotatorStatus(
            annotator_id=self.id, state=transition.state, previous_state=transition.previous,
            reason=transition.reason,
            gold_agreement={d: a.value for d, a in agreements.items() if a.n},
            gold_counts={d: int(a.n) for d, a in agreements.items() if a.n},
            peer_agreement={d: a.value for d, a in peers.items()},
            peer_pairs={d: round(a.n, 2) for d, a in peers.items()},
            tasks=self.rate.tasks, gold_tasks=self.rate.gold, gold_rate=self.rate.get(),
            gold_rate_note=self.rate.note(self.cfg.rate_target, self.cfg.min_answers),
            event_at=datetime.fromtimestamp(self.event_at, tz=UTC) if self.event_at else None,
            changed_at=datetime.fromtimestamp(self.since, tz=UTC),
        )

    def redis_fields(self, key: Mapping[str, KeyRow], now: float) -> dict[str, str]:
        """The annotator's hash (see docs/qualification.md): flat strings and JSON."""
        agreements = self.agreements(key)
        gold = {d: {"agreement": a.value, "n": int(a.n)} for d, a in agreements.items() if a.n}
        peers = {d: self.peer.get(d) for d in sorted(self.peer.counts)}
        peer = {d: {"agreement": a.value, "pairs": round(a.n, 2)} for d, a in peers.items()}
        rate = {"rate": self.rate.get(), "tasks": self.rate.tasks, "gold_tasks": self.rate.gold,
                "target": self.cfg.rate_target,
                "note": self.rate.note(self.cfg.rate_target, self.cfg.min_answers)}
        return {"state": str(self.qual.get()), "since": _iso(self.since), "updated_at": _iso(now),
                "reason": self.reason, "detail": self.qual.explain(agreements),
                "gold": orjson.dumps(gold).decode(), "peer": orjson.dumps(peer).decode(),
                "gold_rate": orjson.dumps(rate).decode(), "pending": str(len(self.pending)),
                "seq": str(self.seq)}

    def to_state(self) -> AnnotatorState:
        return {"p": self.partition, "seq": self.seq, "st": self.qual.to_state(), "since": self.since,
                "why": self.reason, "at": self.event_at, "g": self.answers.to_state(), "w": self.pending,
                "ids": self.ids, "peer": self.peer.to_state(), "rate": self.rate.to_state(),
                "seen": self.seen}

    @classmethod
    def from_state(cls, cfg: Config, annotator_id: str, state: AnnotatorState) -> Annotator:
        out = cls(cfg, annotator_id, int(state["p"]))
        n = len(cfg.dimensions)
        out.seq, out.since, out.reason = int(state["seq"]), float(state["since"]), str(state["why"])
        out.event_at = state.get("at")
        out.seen = float(state.get("seen", out.since))  # rows written before `seen`: last transition
        out.qual = Qualification.from_state(cfg.threshold, cfg.min_answers, state["st"])
        out.answers = GoldAnswers.from_state(cfg.window, n, state["g"])
        out.pending, out.ids = list(state["w"]), list(state["ids"])
        out.peer = PeerAgreement.from_state(cfg.peer_window, state["peer"])
        out.rate = GoldRate.from_state(state["rate"])
        return out
