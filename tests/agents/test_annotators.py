"""Gold re-key and annotator agents under Faust's test_context: what they send and store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import orjson
import pytest
from prometheus_client import generate_latest

from stream.campaign.simulate import Campaign, generate
from tests.agents.conftest import sender, stopping, wait_for


@pytest.fixture
async def app(make_app: Any) -> AsyncIterator[Any]:
    yield make_app(gold_window=4, gold_min_answers=2, gold_threshold=0.75)


def _events(n: int) -> list[dict[str, Any]]:
    return [e for e in generate(Campaign(n_clips=n, pairwise_share=0.0))]


async def test_gold_answers_go_by_annotator_and_others_only_count(app: Any, monkeypatch: Any) -> None:
    send = sender()
    monkeypatch.setattr(app.alphawatch.topics.annotator_events, "send", send)
    events = _events(2)  # 6 ratings: 2 clips x 3 annotators
    events[4] = {**events[4], "gold_item_id": "gold-1"}
    async with app.agents["gold"].test_context() as agent:
        await agent.put(b'T{"wm": 1.0, "src": 0, "idle": false}', key=None)
        for event in events:
            await agent.put(orjson.dumps(event), key=f"c:{event['clip_id']}".encode())
    (call,) = send.await_args_list
    message = orjson.loads(call.kwargs["value"])
    assert call.kwargs["key"] == events[4]["annotator_id"].encode()
    assert message["t"] == "g" and message["g"] == "gold-1" and message["e"] == events[4]["event_id"]
    assert message["v"] == [events[4]["scores"][d] for d in app.alphawatch.settings.dimensions]
    counts = {m["a"]: m for m in app.alphawatch.stages.rekey.counts.take()}
    assert sum(m["n"] for m in counts.values()) == 6 and sum(m["ng"] for m in counts.values()) == 1
    # the first clip's three raters made three pairs, each counted for both raters, per dimension
    first = {e["annotator_id"] for e in events[:3]}
    assert all(counts[a]["peer"]["motion_quality"][1] == 2 for a in first)


async def test_annotator_agent_qualifies_emits_status_and_writes_redis(app: Any, monkeypatch: Any) -> None:
    for table in app.tables.values():
        monkeypatch.setattr(table, "send_changelog", MagicMock())
    stage = app.alphawatch.stages.annotators
    status_send = AsyncMock(return_value=_done())
    monkeypatch.setattr(app.alphawatch.topics.annotator_status, "send", status_send)
    pushed: list[list[str]] = []
    monkeypatch.setattr(stage, "push", AsyncMock(side_effect=lambda ids: pushed.append(ids)))
    stage.key.apply(b"g1", b'{"gold_item_id": "g1", "kind": "rating", "answers": {"motion_quality": 3}}')
    stage.key.apply(b"g2", b'{"gold_item_id": "g2", "kind": "rating", "answers": {"motion_quality": 4}}')
    stage.key.ready.set()

    def gold(event_id: str, gold_id: str, score: int, ts: float) -> bytes:
        return orjson.dumps({"t": "g", "a": "ann-1", "e": event_id, "g": gold_id, "k": "c", "ts": ts,
                             "v": [score, None, None, None]})

    async with app.agents["annotators"].test_context() as agent:
        await agent.put(gold("e1", "g1", 3, 1.0), key=b"ann-1")
        await agent.put(gold("e1", "g1", 3, 1.0), key=b"ann-1")  # replay
        await agent.put(gold("e2", "g2", 5, 2.0), key=b"ann-1")
        await agent.put(gold("e3", "g9", 5, 3.0), key=b"ann-1")  # key unknown: waits
    states = [orjson.loads(c.kwargs["value"]) for c in status_send.await_args_list]
    assert [(s["previous_state"], s["state"]) for s in states] == [(None, "qualifying"),
                                                                   ("qualifying", "qualified")]
    assert states[1]["gold_counts"] == {"motion_quality": 2} and states[1]["event_at"] is not None
    record = stage.table["ann-1"]
    assert record["st"] == "qualified" and [w[1] for w in record["w"]] == ["g9"]
    assert pushed == [["ann-1"], ["ann-1"]]  # each transition reaches Redis at once
    text = generate_latest(app.alphawatch.metrics.registry).decode()
    for outcome, n in (("scored", 2), ("duplicate", 1), ("waiting", 1)):
        assert f'alphawatch_gold_answers_total{{outcome="{outcome}"}} {n}.0' in text
    assert 'alphawatch_annotator_transitions_total{from_state="qualifying",to_state="qualified"} 1.0' in text


def _done() -> Any:
    import asyncio

    future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
    future.set_result(None)
    return future


async def test_a_status_not_delivered_stops_the_worker_before_the_table_moves(app: Any,
                                                                              monkeypatch: Any) -> None:
    """The send fails after the producer's retries and the outbox's resends: the worker stops
    without committing (the event is read again after the restart); the agent does not crash,
    which would let Faust ack the event and restart the agent past it."""
    from functools import partial

    from stream.agents import annotators
    from stream.io.outbox import Outbox

    monkeypatch.setattr(annotators, "Outbox", partial(Outbox, backoff_s=0.0))  # resend at once
    ctx, stage = app.alphawatch, app.alphawatch.stages.annotators
    for table in app.tables.values():
        monkeypatch.setattr(table, "send_changelog", MagicMock())
    failing = sender(ConnectionError("NotLeaderForPartition"))
    monkeypatch.setattr(ctx.topics.annotator_status, "send", failing)
    monkeypatch.setattr(stage, "push", AsyncMock())
    reasons = stopping(ctx)
    stage.key.ready.set()
    event = orjson.dumps({"t": "g", "a": "ann-1", "e": "e1", "g": "g1", "k": "c", "ts": 1.0,
                          "v": [3, None, None, None]})
    async with app.agents["annotators"].test_context() as agent:
        await agent.put(event, key=b"ann-1")  # the first answer: a transition to qualifying
        await wait_for(lambda: reasons)
    assert "to" in reasons[0] and "not delivered after 3 resends" in reasons[0]
    assert failing.await_count == 4  # sent, then resent three times
    assert stage.table.get("ann-1") is None  # the table did not move past an undelivered status


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


async def test_idle_annotators_who_are_not_qualified_are_forgotten_in_redis_then_the_table(
        app: Any, monkeypatch: Any) -> None:
    from stream.agents import annotators
    from stream.qualification.stage import AnnotatorStage

    clock = Clock(1_000_000.0)
    monkeypatch.setattr(annotators, "time", clock)
    for table in app.tables.values():
        monkeypatch.setattr(table, "send_changelog", MagicMock())
    stage: AnnotatorStage = app.alphawatch.stages.annotators
    monkeypatch.setattr(app.alphawatch.topics.annotator_status, "send", AsyncMock(return_value=_done()))
    monkeypatch.setattr(stage, "push", AsyncMock())
    forgotten: list[str] = []
    monkeypatch.setattr(stage.store, "forget", AsyncMock(side_effect=forgotten.append))
    for item in ("g1", "g2"):
        row = {"gold_item_id": item, "kind": "rating", "answers": {"motion_quality": 3}}
        stage.key.apply(item.encode(), orjson.dumps(row))
    stage.key.ready.set()
    stage.owned = {0}
    retention = app.alphawatch.settings.annotator_retention_s

    def counts(annotator: str) -> bytes:
        return orjson.dumps({"t": "c", "a": annotator, "n": 1, "ng": 0, "peer": {}})

    def gold(event_id: str, item: str) -> bytes:
        return orjson.dumps({"t": "g", "a": "good", "e": event_id, "g": item, "k": "c", "ts": 1.0,
                             "v": [3, None, None, None]})

    async with app.agents["annotators"].test_context() as agent:
        for annotator in ("idle", "back", "down"):
            await agent.put(counts(annotator), key=annotator.encode())
        await agent.put(gold("e1", "g1"), key=b"good")
        await agent.put(gold("e2", "g2"), key=b"good")  # qualified: kept however long idle
        await wait_for(lambda: (stage.table.get("good") or {}).get("st") == "qualified")
        assert all(stage.table[a]["st"] == "qualifying" for a in ("idle", "back", "down"))
        assert stage.expired(clock.now + retention - 1) == []
        clock.now += retention + 1
        assert sorted(stage.expired(clock.now)) == ["back", "down", "idle"]
        assert stage.expired(clock.now) == []  # asked once, not again within the minute
        await agent.put(counts("back"), key=b"back")  # answered again before the agent got to it
        await agent.put(orjson.dumps({"t": "x", "a": "idle"}), key=b"idle")
        await agent.put(orjson.dumps({"t": "x", "a": "back"}), key=b"back")
        await wait_for(lambda: "back" not in stage.forgetting)
        monkeypatch.setattr(stage.store, "forget", AsyncMock(side_effect=refused()))
        await agent.put(orjson.dumps({"t": "x", "a": "down"}), key=b"down")
        await wait_for(lambda: "down" not in stage.forgetting)
    assert forgotten == ["idle"]  # Redis first ...
    assert "idle" not in stage.table and stage.table["back"] is not None  # ... then the table row
    assert stage.table["down"] is not None and stage.redis.tripped  # Redis failed: kept, asked again
    assert sorted(stage.expired(clock.now + 61)) == ["down"]
    text = generate_latest(app.alphawatch.metrics.registry).decode()
    assert "alphawatch_annotators_forgotten_total 1.0" in text
    assert "alphawatch_annotator_store_errors_total 1.0" in text


def refused() -> Exception:
    """What redis raises when the server is away."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    return RedisConnectionError("Connection refused")
