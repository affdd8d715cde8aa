"""Ranking agents: vote counts per partition, snapshots on the refit cadence, one refit worker."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from redis.exceptions import RedisError

from schemas.rankings import PairingRound
from stream.config import ranking_config
from stream.context import Context
from stream.core.envelope import POSITION_SPAN, items_of
from stream.io.outbox import Outbox, guarded
from stream.io.rediskeys import RedisKeys
from stream.io.security import redis_client
from stream.ranking.leaderboard import Board
from stream.ranking.parts import save, split
from stream.ranking.stage import RankingStage

log = logging.getLogger(__name__)


def register(app: faust.App, ctx: Context) -> None:
    """Reads `valid` (votes per partition) and `ranking-partials` (one partition: the refit worker);
    writes `ranking-partials`, `model-rankings` and `pairing-suggestions`. Owns table `ranking`;
    reads the qualified set from Redis; refits every `ALPHAWATCH_RANKING_REFIT_S`."""
    settings, topics = ctx.settings, ctx.topics
    table = app.Table("ranking", default=None, partitions=settings.partitions)
    stage = ctx.stages.ranking = RankingStage(ranking_config(settings), ctx.metrics, table)
    stage.redis = redis_client(settings)
    qualified_key = RedisKeys(settings.app_id).qualified

    @app.agent(topics.valid, name="ranking")
    async def ranking_agent(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        async for event in stream.events():
            async with guarded(ctx.fatal, "ranking", ctx.work):  # no exception escapes an acked event
                await on_event(event, outbox)

    async def on_event(event: Any, outbox: Outbox) -> None:
        partition, offset = event.message.partition, event.message.offset
        for index, item in enumerate(items_of(event.value, event.key, None)):
            # an envelope holds many votes at one offset: count positions within it
            stage.on_event(partition, offset * POSITION_SPAN + index, item.value)
        state = stage.snapshot_due(partition, time.monotonic())
        if state is not None:  # the refit cadence: hand to the refit worker, then persist
            for part in split(partition, state):  # bounded messages however many votes
                await outbox.send(topics.ranking_partials, value=orjson.dumps(part))
            await outbox.flush()
            save(table, partition, state)

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
    stage.refit_now = refit_rankings

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
                stage.assembler.clear()
                stage.owns_refit = False
