"""The ranking stage under Faust's test_context: counts per partition, snapshots, refit and its outputs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import orjson
import pytest
from prometheus_client import generate_latest

from schemas.rankings import LeaderboardRecord, PairingRound
from stream.campaign.tournament import Tournament, draw, random_events
from stream.config import ranking_config
from stream.core.envelope import POSITION_SPAN
from stream.ranking.parts import load, save
from stream.ranking.stage import RankingStage
from stream.ranking.views import RankingView
from tests.agents.conftest import sender


@pytest.fixture
async def app(make_app: Any) -> AsyncIterator[Any]:
    yield make_app(ranking_refit_s=1e-6, ranking_bootstrap_samples=50, ranking_seed=1,
                   ranking_metrics_top=3, agents=["ranking"])


class FakeRedis:
    def __init__(self, members: set[str]):
        self.members = members

    async def smembers(self, key: str) -> set[str]:
        assert key.endswith(":annotators:qualified")
        return self.members


def _values(mock: AsyncMock) -> list[Any]:
    return [orjson.loads(call.kwargs["value"]) for call in mock.await_args_list]


async def _feed(app: Any, monkeypatch: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events through the partition agent; returns what it sent to ranking-partials."""
    for table in app.tables.values():
        monkeypatch.setattr(table, "send_changelog", MagicMock())
    partials = sender()
    monkeypatch.setattr(app.alphawatch.topics.ranking_partials, "send", partials)
    async with app.agents["ranking"].test_context() as agent:
        for event in events:
            await agent.put(orjson.dumps(event), key=f"p:{event['pair_id']}".encode())
        await agent.put(b'T{"src": 0, "wm": 1.0, "idle": false}', key=b"")
    return _values(partials)


async def test_votes_are_counted_snapshotted_and_refitted(app: Any, monkeypatch: Any) -> None:
    field = draw(Tournament(n_models=9, n_voters=12, noisy_share=0.25))
    events = random_events(field, 600)
    sent = await _feed(app, monkeypatch, events)
    stage: RankingStage = app.alphawatch.stages.ranking
    # the tick's position (offset x POSITION_SPAN: envelopes hold many votes per offset), after the votes
    assert sent[-1]["p"] == 0 and sent[-1]["o"] == len(events) * POSITION_SPAN
    assert sent[-1]["i"] == sent[-1]["n"] - 1 == 0  # a small book is one part
    saved = load(app.tables["ranking"], 0)
    assert saved == {"o": sent[-1]["o"], "z": sent[-1]["z"]}  # the same snapshot persisted in the table
    async with app.agents["ranking-refit"].test_context() as refit_agent:
        await refit_agent.put(orjson.dumps(sent[-1]))
    assert stage.latest == {0: saved}

    rankings, rounds = sender(), sender()
    monkeypatch.setattr(app.alphawatch.topics.model_rankings, "send", rankings)
    monkeypatch.setattr(app.alphawatch.topics.pairing_suggestions, "send", rounds)
    stage.redis, stage.owns_refit = FakeRedis(field.qualified), True
    await app.alphawatch.stages.ranking.refit_now()
    records = [LeaderboardRecord.model_validate(v) for v in _values(rankings)]
    assert len(records) == 3 * 5  # 3 modalities x (4 dimensions + overall)
    noisy_votes = sum(1 for e in events if e["annotator_id"] not in field.qualified)
    overall = [r for r in records if r.dimension == "overall"]
    assert sum(r.votes_excluded for r in overall) == noisy_votes > 0
    assert sum(r.votes for r in overall) == len(events) - noisy_votes
    suggestions = [PairingRound.model_validate(v) for v in _values(rounds)]
    assert {r.modality for r in suggestions} == {"t2v", "i2v", "v2v"} and all(r.pairs for r in suggestions)

    text = generate_latest(app.alphawatch.metrics.registry).decode()
    scores = [line for line in text.splitlines() if line.startswith("alphawatch_model_score{")]
    assert len(scores) == 3 * 5 * 3  # top 3 configurations per modality x dimension (label cap)
    assert 'alphawatch_ranking_refits_total{outcome="ok"} 1.0' in text

    async with app.agents["ranking-refit"].test_context() as refit_agent:  # the same counts resent
        await refit_agent.put(orjson.dumps(sent[-1]))
    await app.alphawatch.stages.ranking.refit_now()  # nothing changed: no new records
    assert len(rankings.await_args_list) == 15
    stage.redis = FakeRedis(set())  # everyone lost qualification: refit with no votes counted
    await app.alphawatch.stages.ranking.refit_now()
    latest = [LeaderboardRecord.model_validate(v) for v in _values(rankings)[15:]]
    assert len(latest) == 15 and all(r.votes == 0 and r.models[0].score is None for r in latest)


async def test_restored_book_skips_replayed_offsets(app: Any, monkeypatch: Any) -> None:
    events = random_events(draw(Tournament(n_models=6, n_voters=5)), 50)
    sent = await _feed(app, monkeypatch, events)
    config = ranking_config(app.alphawatch.settings)
    # a new worker, table recovered
    table: dict[str, Any] = {}
    save(table, 0, {"o": sent[-1]["o"], "z": sent[-1]["z"]})
    restarted = RankingStage(config, app.alphawatch.metrics, table)
    outcomes = [restarted.on_event(0, offset * POSITION_SPAN, orjson.dumps(e))
                for offset, e in enumerate(events)]
    assert set(outcomes) == {"replayed"}
    fresh = dict(events[0], pair_id="new-pair")
    assert restarted.on_event(0, (len(events) + 1) * POSITION_SPAN, orjson.dumps(fresh)) == "counted"


def test_view_keeps_newest_record_per_dimension() -> None:
    view = RankingView()
    for dim, votes in (("motion_quality", 1), ("overall", 2), ("overall", 3)):
        view.apply(orjson.dumps({"modality": "t2v", "dimension": dim, "votes": votes}))
    view.apply(orjson.dumps({"modality": "i2v", "dimension": "overall", "votes": 9}))
    rows = [(r["dimension"], r["votes"]) for r in view.select("t2v")]
    assert rows == [("overall", 3), ("motion_quality", 1)]
