"""Agents under Faust's test_context (memory store, no broker): what each one sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from unittest.mock import ANY, AsyncMock, MagicMock

import orjson
import pytest

from stream.campaign.simulate import Campaign, generate
from stream.core.envelope import Item, partition_of, unpack
from stream.core.ticks import tick_message
from tests.agents.conftest import sender, stopping, wait_for


@pytest.fixture
async def app(make_app: Any) -> AsyncIterator[Any]:
    yield make_app(bootstrap_samples=100)


def _sent(mock: AsyncMock) -> list[dict[str, Any]]:
    return [call.kwargs for call in mock.await_args_list]


async def test_ingest_forwards_valid_and_dead_letters_invalid(app: Any, monkeypatch: Any) -> None:
    ctx = app.alphawatch
    forward, dlq = sender(), sender()
    monkeypatch.setattr(ctx.topics.valid, "send", forward)
    monkeypatch.setattr(ctx.topics.dlq, "send", dlq)
    event = next(e for e in generate(Campaign(n_clips=3)) if e["kind"] == "rating")
    good = orjson.dumps(event)
    async with app.agents["ingest"].test_context() as agent:
        await agent.put(good)
        await agent.put(b"{not json")
        await agent.put(orjson.dumps({**event, "scores": {"motion_quality": 9}}))
        # a number orjson refuses: dead-lettered here, where it would stop every later stage
        await agent.put(orjson.dumps({**event, "clip": {**event["clip"], "duration_s": 4.25}}).replace(
            b"4.25", b"Infinity"))
    (sent,) = _sent(forward)  # one envelope, to the unit's partition, holding the event as it came
    assert sent["partition"] == partition_of(f"c:{event['clip_id']}".encode(), ctx.settings.partitions)
    assert list(unpack(sent["value"])) == [Item(f"c:{event['clip_id']}".encode(), good, ANY)]
    reasons = [orjson.loads(call["value"])["reason"] for call in _sent(dlq)]
    assert reasons == ["not_json", "score_out_of_scale", "non_finite_number"]
    text = _metrics(app)
    assert 'alphawatch_ingest_events_total{outcome="invalid",reason="not_json"} 1.0' in text
    assert 'alphawatch_ingest_events_total{outcome="valid",reason=""} 1.0' in text


async def test_units_agent_applies_once_and_counts_duplicates(app: Any, monkeypatch: Any) -> None:
    for table in app.tables.values():  # no broker: keep table writes in the memory store only
        monkeypatch.setattr(table, "send_changelog", MagicMock())
    partials = sender()
    monkeypatch.setattr(app.alphawatch.topics.partials, "send", partials)
    events = [e for e in generate(Campaign(n_clips=4, pairwise_share=0.0))][:6]
    async with app.agents["units"].test_context() as agent:
        for event in events + events[:2]:  # the first two replayed
            key = f"c:{event['clip_id']}".encode()
            await agent.put(orjson.dumps(event), key=key)
    text = _metrics(app)
    assert 'alphawatch_unit_events_total{kind="rating",outcome="applied"} 6.0' in text
    assert 'alphawatch_unit_events_total{kind="rating",outcome="duplicate"} 2.0' in text
    stage = app.alphawatch.stages.units
    (agg,) = stage.aggs.values()
    window = agg.open[("motion_quality", "all", 3600, agg.windows[0].start_of(stage.units[
        f"c:{events[0]['clip_id']}"]["t"]))]
    assert window.matrix.n_units == 2  # 6 ratings = 2 clips x 3 annotators
    assert not partials.await_args_list  # no window closed, nothing to announce


def _metrics(app: Any) -> str:
    from prometheus_client import generate_latest

    return generate_latest(app.alphawatch.metrics.registry).decode()


async def test_a_closure_not_delivered_is_not_recorded(app: Any, monkeypatch: Any) -> None:
    for table in app.tables.values():
        monkeypatch.setattr(table, "send_changelog", MagicMock())
    monkeypatch.setattr(app.alphawatch.topics.partials, "send", sender(ConnectionError("no leader")))
    reasons = stopping(app.alphawatch)
    events = [e for e in generate(Campaign(n_clips=2, pairwise_share=0.0))][:6]
    far = max(orjson.loads(orjson.dumps(e))["submitted_at"] for e in events)
    wm = datetime.fromisoformat(far).timestamp() + 3 * 86400
    async with app.agents["units"].test_context() as agent:
        for event in events:
            await agent.put(orjson.dumps(event), key=f"c:{event['clip_id']}".encode())
        for source in range(app.alphawatch.settings.partitions):  # every input partition moved on
            await agent.put(tick_message(wm, source), key=b"c:x")
        await wait_for(lambda: reasons)
    assert "agreement-partials not delivered" in reasons[0]
    stage = app.alphawatch.stages.units
    assert not list(stage.closures.items())  # the closure is announced again after the restart


async def test_ingest_splits_arrays_dead_letters_elements_with_index(app: Any, monkeypatch: Any) -> None:
    ctx = app.alphawatch
    forward, dlq = sender(), sender()
    monkeypatch.setattr(ctx.topics.valid, "send", forward)
    monkeypatch.setattr(ctx.topics.dlq, "send", dlq)
    ratings = [e for e in generate(Campaign(n_clips=3)) if e["kind"] == "rating"][:3]
    batch = [ratings[0], {**ratings[1], "kind": "review"}, ratings[2]]
    async with app.agents["ingest"].test_context() as agent:
        await agent.put(orjson.dumps(batch))
    forwarded = [orjson.loads(item.value)["event_id"] for call in _sent(forward)
                 for item in unpack(call["value"])]
    assert sorted(forwarded) == sorted([ratings[0]["event_id"], ratings[2]["event_id"]])
    (dead,) = [orjson.loads(call["value"]) for call in _sent(dlq)]
    assert dead["reason"] == "unknown_kind" and dead["source_index"] == 1 and dead["source_offset"] == 0
