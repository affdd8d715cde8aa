"""Batches and manifests agents under Faust's test_context: records, versions, closing, manifests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import orjson
import pytest

from tests.agents.conftest import sender, stopping, wait_for

START = datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.fixture
async def app(make_app: Any, monkeypatch: Any) -> AsyncIterator[Any]:
    app = make_app(partitions=1, windows=["1h"], grace="5m", batch_salt="s")
    for table in app.tables.values():  # no broker: table writes stay in the memory store
        monkeypatch.setattr(table, "send_changelog", MagicMock())
    states = {"a": "qualified", "b": "qualified", "c": "qualified", "q": "qualifying"}
    status = app.alphawatch.stages.batches.status
    monkeypatch.setattr(status, "state", AsyncMock(side_effect=lambda a: states[a]))
    status.ready.set()  # the annotator-status tail does not run under test_context
    yield app


def _rating(annotator: str, minute: int, score: int = 4) -> bytes:
    return orjson.dumps({
        "schema_version": 1, "kind": "rating", "event_id": f"{annotator}-{minute}", "project_id": "p",
        "clip_id": "clip-1", "annotator_id": annotator, "confidence": "high",
        "submitted_at": (START + timedelta(minutes=minute)).isoformat(),
        "scores": {"motion_quality": score, "visual_fidelity": 3, "viewer_interest": 3, "text_alignment": 3},
        "clip": {"source_category": "street", "modality": "t2v", "model_id": "m", "prompt": "x"}})


def _tick(watermark: datetime) -> bytes:
    return b"T" + orjson.dumps({"src": 0, "wm": watermark.timestamp(), "idle": False})


async def test_records_versions_and_a_closed_batch(app: Any, monkeypatch: Any) -> None:
    topics = app.alphawatch.topics
    records, partials = sender(), sender()
    monkeypatch.setattr(topics.batches, "send", records)
    monkeypatch.setattr(topics.batch_partials, "send", partials)
    async with app.agents["batches"].test_context() as agent:
        for annotator, minute in (("a", 0), ("q", 1), ("b", 2), ("c", 3), ("a", 0)):
            await agent.put(_rating(annotator, minute), key=b"c:clip-1")
        await agent.put(_rating("a", 9, score=1), key=b"c:clip-1")  # a revises: version 2
        await agent.put(_tick(START + timedelta(days=8)), key=b"c:clip-1")  # W47 closes, W48 not
        await agent.put(_rating("b", 2), key=b"c:clip-1")  # a repeat after the batch closed
    sent = [orjson.loads(call.kwargs["value"]) for call in records.await_args_list]
    assert [r["version"] for r in sent] == [1, 2]
    assert sent[1]["dimensions"]["motion_quality"]["consensus_median"] == 4.0
    assert {r["record_id"] for r in sent} == {records.await_args_list[0].kwargs["key"].decode()}
    (closing,) = [orjson.loads(call.kwargs["value"]) for call in partials.await_args_list]
    (summary,) = closing["batches"].values()
    assert summary["r"] == {"clip_rating.v1": 1} and summary["i"] == 3
    assert summary["x"] == {"annotator_qualifying": 1, "duplicate": 1, "superseded": 1}
    # once summarized, only the answers' event ids stay: the late repeat is known and left out
    assert app.alphawatch.stages.batches.units["c:clip-1"] == {
        "z": True, "p": 0, "b": int(datetime(2026, 11, 16, tzinfo=UTC).timestamp()),
        "s": ["a-0", "a-9", "b-2", "c-3", "q-1"]}
    assert len(records.await_args_list) == 2
    assert app.alphawatch.metrics.batch.repeats_after_close._value.get() == 1

    manifests = sender()
    monkeypatch.setattr(topics.manifests, "send", manifests)
    async with app.agents["manifests"].test_context() as agent:
        await agent.put(orjson.dumps(closing))
        await agent.put(orjson.dumps(closing))  # resent after a restart: no second manifest
    (manifest,) = [orjson.loads(call.kwargs["value"]) for call in manifests.await_args_list]
    assert manifest["batch_id"] == "2026-W47" and manifest["answers_received"] == 6
    assert manifest["record_counts"] == {"clip_rating.v1": 1} and manifest["revision"] == 1


async def test_a_record_not_delivered_leaves_its_unit_unmarked(app: Any, monkeypatch: Any) -> None:
    topics, ctx = app.alphawatch.topics, app.alphawatch
    monkeypatch.setattr(topics.batches, "send", sender(ConnectionError("no leader")))
    monkeypatch.setattr(topics.batch_partials, "send", sender())
    reasons = stopping(ctx)
    async with app.agents["batches"].test_context() as agent:
        for annotator, minute in (("a", 0), ("b", 2), ("c", 3)):  # the third answer emits version 1
            await agent.put(_rating(annotator, minute), key=b"c:clip-1")
        await wait_for(lambda: reasons)
    assert "to rlhf-batches not delivered" in reasons[0]
    # the unit's answers and its emitted version never reached the table (or its changelog): after
    # the restart the batch is read again and version 1 is emitted again
    assert ctx.stages.batches.units.table.get("c:clip-1") is None


async def test_a_record_repeated_after_a_crash_takes_the_next_version(app: Any, monkeypatch: Any) -> None:
    """Version 1 went out but the unit's table write was lost in a crash: the replayed answers,
    judged by the annotators' states of now (`q` no longer qualifying), go out as version 2, so
    no version is ever sent with two contents."""
    topics, stage = app.alphawatch.topics, app.alphawatch.stages.batches
    records = sender()
    monkeypatch.setattr(topics.batches, "send", records)
    monkeypatch.setattr(topics.batch_partials, "send", sender())
    stage.versions.table.data["c:clip-1"] = 1  # recovered from the changelog; the unit itself was not
    async with app.agents["batches"].test_context() as agent:
        for annotator, minute in (("a", 0), ("b", 2), ("c", 3)):
            await agent.put(_rating(annotator, minute), key=b"c:clip-1")
    (sent,) = [orjson.loads(call.kwargs["value"]) for call in records.await_args_list]
    assert sent["version"] == 2
    assert stage.versions["c:clip-1"] == 2 and stage.units["c:clip-1"]["v"] == 2


async def test_a_manifest_not_delivered_is_not_marked_sent(app: Any, monkeypatch: Any) -> None:
    ctx = app.alphawatch
    monkeypatch.setattr(ctx.topics.manifests, "send", sender(ConnectionError("no leader")))
    reasons = stopping(ctx)
    closing = {"p": 0, "through": int(START.timestamp()), "batches": {str(int(START.timestamp())): {
        "r": {}, "i": 0, "x": {}}}}
    async with app.agents["manifests"].test_context() as agent:
        await agent.put(orjson.dumps(closing))
        await wait_for(lambda: reasons)
    assert ctx.stages.manifests.table.table.get(f"b:{int(START.timestamp())}") is None
