"""The ranking stage's state: vote books per partition, the refit worker's latest books, refits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
import orjson

from schemas.rankings import PairingRound
from stream.core.ticks import is_tick
from stream.core.wire import BookPart, VoteBookState
from stream.metrics import Metrics
from stream.ranking.leaderboard import Board, RankConfig, pairing_rounds, refit
from stream.ranking.parts import Assembler, load
from stream.ranking.votes import Tally, VoteBook

SUGGESTED_MAX = 200_000  # (prompt, pair) keys suggested but maybe not voted yet, remembered


@dataclass(frozen=True)
class RankingConfig:
    """What the ranking stage reads of the settings (built by `stream.config.ranking_config`)."""

    rank: RankConfig
    dimensions: tuple[str, ...]
    seed: int | None
    dedup_votes: int
    refit_s: float
    metrics_top: int


class RankingStage:
    """Partition side: one VoteBook per owned partition, restored from the `ranking` table. Refit side
    (owner of the single ranking-partials partition): the latest book of every partition."""

    def __init__(self, config: RankingConfig, metrics: Metrics, table: Any):
        self.config, self.metrics, self.table = config, metrics, table
        self.dimensions = config.dimensions
        self.cfg = config.rank
        self.refit_now: Callable[[], Awaitable[None]] | None = None  # set by the agent: one refit
        self.books: dict[int, VoteBook] = {}
        self.saved_at: dict[int, float] = {}
        self.latest: dict[int, VoteBookState] = {}
        self.assembler = Assembler()
        self.changed = False
        self.owns_refit = False
        self.last_qualified: set[str] | None = None
        self.suggested: set[int] = set()
        self.rounds = 0
        self.rng = np.random.default_rng(config.seed)
        self.redis: Any = None

    def book_for(self, partition: int) -> VoteBook:
        book = self.books.get(partition)
        if book is None:
            book = VoteBook.from_state(self.dimensions, load(self.table, partition), self.config.dedup_votes)
            self.books[partition] = book
        return book

    def on_event(self, partition: int, offset: int, raw: bytes) -> str:
        """Per event: counter updates in memory only."""
        book = self.book_for(partition)
        if is_tick(raw):
            book.offset = max(book.offset, offset)
            return "tick"
        outcome = book.add(orjson.loads(raw), offset)
        self.metrics.ranking.events[outcome].inc()
        return outcome

    def snapshot_due(self, partition: int, now: float) -> VoteBookState | None:
        if now - self.saved_at.get(partition, 0.0) < self.config.refit_s:
            return None
        self.saved_at[partition] = now
        return self.book_for(partition).to_state()

    def receive(self, message: dict[str, Any]) -> None:
        """A part of a partition's book (or, from a worker of an earlier version, the whole book as
        `s`); partitions resend it every interval, so only new counts mark a change."""
        state = message["s"] if "s" in message else self.assembler.add(cast(BookPart, message))
        if state is None:
            return
        partition = int(message["p"])
        previous = self.latest.get(partition)
        self.changed |= previous is None or previous["z"] != state["z"]
        self.latest[partition] = state

    def due(self, qualified: set[str] | None) -> bool:
        """Refit when votes arrived or qualification changed since the last fit."""
        return self.owns_refit and bool(self.latest) and (self.changed or qualified != self.last_qualified)

    def compute(self, states: list[VoteBookState], qualified: set[str] | None,
                now: datetime) -> tuple[list[Board], list[PairingRound]]:
        """Pure work of a refit (runs in a thread): leaderboards, then a Swiss round per modality."""
        tally = Tally([VoteBook.from_state(self.dimensions, s) for s in states])
        boards = refit(tally, qualified, self.cfg, self.rng, now)
        rounds = pairing_rounds(tally, boards, self.suggested, self.cfg, self.rng, self.rounds + 1, now)
        self.rounds += len(rounds)
        while len(self.suggested) > SUGGESTED_MAX:
            self.suggested.pop()
        return boards, rounds

    def report(self, boards: list[Board]) -> None:
        """Gauges of the newest fit; the model label only for the top configurations."""
        m, top = self.metrics.ranking, self.config.metrics_top
        for gauge in (m.score, m.score_ci, m.votes, m.left_share):
            gauge.clear()
        for b in boards:
            r = b.record
            m.votes.labels(r.modality, r.dimension).set(r.votes)
            if r.position_bias.left_share is not None:
                m.left_share.labels(r.modality, r.dimension).set(r.position_bias.left_share)
            for s in [s for s in r.models if s.score is not None][:top]:
                m.score.labels(r.modality, r.dimension, s.model_id).set(s.score or 0.0)
                if s.ci_low is not None and s.ci_high is not None:
                    m.score_ci.labels(r.modality, r.dimension, s.model_id, "low").set(s.ci_low)
                    m.score_ci.labels(r.modality, r.dimension, s.model_id, "high").set(s.ci_high)
