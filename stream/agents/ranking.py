"""Ranking stage: vote counts per partition (memory), snapshots on the refit cadence, one refit worker."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import faust
import numpy as np
import orjson
from redis.exceptions import RedisError

from schemas.rankings import PairingRound
from stream.agents.ingest import TICK_PREFIX
from stream.leaderboard import Board, RankConfig, pairing_rounds, refit
from stream.ranking import MODALITIES, OVERALL, Tally, VoteBook
from stream.security import redis_client

if TYPE_CHECKING:
    from stream.app import Context

log = logging.getLogger(__name__)
SUGGESTED_MAX = 200_000  # (prompt, pair) keys suggested but maybe not voted yet, remembered


class RankingStage:
    """Partition side: one VoteBook per owned partition, restored from the `ranking` table. Refit side
    (owner of the single ranking-partials partition): the latest book of every partition."""

    def __init__(self, ctx: Context, table: Any):
        self.ctx, self.table = ctx, table
        s = ctx.settings
        self.dimensions = tuple(s.dimensions)
        self.cfg = RankConfig.of(s)
        self.books: dict[int, VoteBook] = {}
        self.saved_at: dict[int, float] = {}
        self.latest: dict[int, dict[str, Any]] = {}
        self.changed = False
        self.owns_refit = False
        self.last_qualified: set[str] | None = None
        self.suggested: set[int] = set()
        self.rounds = 0
        self.rng = np.random.default_rng(s.ranking_seed)
        self.redis: Any = None

    def book_for(self, partition: int) -> VoteBook:
        book = self.books.get(partition)
        if book is None:
            saved = self.table.get(str(partition))
            book = VoteBook.from_state(self.dimensions, saved, self.ctx.settings.ranking_dedup_votes)
            self.books[partition] = book
        return book

    def on_event(self, partition: int, offset: int, raw: bytes) -> str:
        """Per event: counter updates in memory only."""
        book = self.book_for(partition)
        if raw[:1] == TICK_PREFIX:
            book.offset = max(book.offset, offset)
            return "tick"
        outcome = book.add(orjson.loads(raw), offset)
        self.ctx.metrics.ranking.events[outcome].inc()
        return outcome

    def snapshot_due(self, partition: int, now: float) -> dict[str, Any] | None:
        if now - self.saved_at.get(partition, 0.0) < self.ctx.settings.ranking_refit_s:
            return None
        self.saved_at[partition] = now
        return self.book_for(partition).to_state()

    def receive(self, message: dict[str, Any]) -> None:
        """A partition's state; partitions resend it every interval, so only new counts mark a change."""
        partition, state = int(message["p"]), message["s"]
        previous = self.latest.get(partition)
        self.changed |= previous is None or previous["z"] != state["z"]
        self.latest[partition] = state

    def due(self, qualified: set[str] | None) -> bool:
        """Refit when votes arrived or qualification changed since the last fit."""
        return self.owns_refit and bool(self.latest) and (self.changed or qualified != self.last_qualified)

    def compute(self, states: list[dict[str, Any]], qualified: set[str] | None,
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
        m, top = self.ctx.metrics.ranking, self.ctx.settings.ranking_metrics_top
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


def register(app: faust.App, ctx: Context) -> None:
    settings, topics = ctx.settings, ctx.topics
    table = app.Table("ranking", default=None, partitions=settings.partitions)
    stage = RankingStage(ctx, table)
    app.alphawatch_ranking = stage  # type: ignore[attr-defined]
    stage.redis = redis_client(settings)
    qualified_key = f"{settings.app_id}:annotators:qualified"

    @app.agent(topics.valid, name="ranking")
    async def ranking_agent(stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            stage.on_event(partition, event.message.offset, event.value)
            state = stage.snapshot_due(partition, time.monotonic())
            if state is not None:  # the refit cadence: persist (changelog) and hand to the refit worker
                table[str(partition)] = state
                await topics.ranking_partials.send(value=orjson.dumps({"p": partition, "s": state}))

    @app.agent(topics.ranking_partials, name="ranking-refit")
    async def collect(stream: Any) -> None:
        async for event in stream.events():
            stage.receive(orjson.loads(event.value))

    async def refit_rankings() -> None:
        if not stage.owns_refit:
            return
        try:
            members = await stage.redis.smembers(qualified_key) if settings.ranking_qualified_only else None
            qualified = None if members is None else {
                m.decode() if isinstance(m, bytes) else m for m in members}
        except RedisError as exc:
            ctx.metrics.ranking.refits.labels("redis_error").inc()
            log.warning("rankings not refitted: qualification unavailable in Redis: %r", exc)
            return
        if not stage.due(qualified):
            return
        stage.changed, stage.last_qualified = False, qualified
        boards, rounds = await asyncio.to_thread(stage.compute, list(stage.latest.values()), qualified,
                                                 datetime.now(UTC))
        await publish(boards, rounds)

    app.timer(settings.ranking_refit_s)(refit_rankings)
    app.alphawatch_ranking_refit = refit_rankings  # type: ignore[attr-defined]

    async def publish(boards: list[Board], rounds: list[PairingRound]) -> None:
        for b in boards:
            await topics.model_rankings.send(key=f"{b.record.modality}|{b.record.dimension}".encode(),
                                             value=b.record.model_dump_json().encode())
        for r in rounds:
            await topics.pairing_suggestions.send(key=r.modality.encode(), value=r.model_dump_json().encode())
        stage.report(boards)
        ctx.metrics.ranking.refits.labels("ok").inc()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def assigned(sender: Any, assigned: Any, **_: Any) -> None:
        name = topics.ranking_partials.get_topic_name()
        stage.owns_refit = any(tp.topic == name for tp in assigned)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def revoked(sender: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            if tp.topic == topics.valid.get_topic_name():  # the new owner restores it from the table
                stage.books.pop(tp.partition, None)
                stage.saved_at.pop(tp.partition, None)
            if tp.topic == topics.ranking_partials.get_topic_name():
                stage.latest.clear()
                stage.owns_refit = False


class RankingView:
    """Newest leaderboard per modality and dimension, tailed from model-rankings on every worker."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}

    def apply(self, value: bytes) -> None:
        record = orjson.loads(value)
        self.records[(record["modality"], record["dimension"])] = record

    def select(self, modality: str) -> list[dict[str, Any]]:
        rows = [r for (m, _), r in self.records.items() if m == modality]
        return sorted(rows, key=lambda r: (r["dimension"] != OVERALL, r["dimension"]))


def register_views(app: faust.App, ctx: Context) -> None:
    """GET /rankings/{modality} on every worker, from the model-rankings topic."""
    view = RankingView()

    @app.task
    async def tail_rankings() -> None:
        from stream.web import tail_topic

        await tail_topic(ctx.settings, ctx.topics.model_rankings.get_topic_name(), view.apply)

    @app.page("/rankings/{modality}")
    async def rankings(web: Any, request: Any, modality: str) -> Any:
        if modality not in MODALITIES:
            return web.json({"error": f"modality must be one of {list(MODALITIES)}"}, status=404)
        return web.json(view.select(modality))
