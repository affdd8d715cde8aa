"""The bridge's decisions per webhook, with an in-memory store and a recording sender (no I/O)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from stream.bridge.labelstudio import convert
from stream.bridge.labelstudio.mapping import Mapping
from stream.bridge.labelstudio.server import Bridge, Message
from stream.bridge.labelstudio.store import MemoryStore
from stream.bridge.labelstudio.webhook import Unreadable
from stream.metrics import BridgeMetrics
from tests.unit.bridge.conftest import annotation, clip_data, rating

NOW = datetime(2026, 11, 22, tzinfo=UTC)


class Sent:
    def __init__(self, fail: bool = False) -> None:
        self.messages: list[Message] = []
        self.fail = fail

    async def __call__(self, messages: list[Message]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.messages += messages

    def values(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(m.value) for m in self.messages if m.topic == topic]


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def bridge(mapping: Mapping, check: convert.Check, sent: Sent) -> Bridge:
    return Bridge(mapping, check, MemoryStore(), sent, BridgeMetrics(), "annotations", "annotations-dlq",
                  10_000, clock=lambda: NOW)


def _hook(action: str, note: dict[str, Any], data: dict[str, Any] | None = None) -> bytes:
    task = {"id": 3, "data": data or clip_data()}
    return orjson.dumps({"action": action, "annotation": note, "task": task})


async def test_create_update_delete_and_redeliveries(bridge: Bridge, sent: Sent) -> None:
    created = _hook("ANNOTATION_CREATED", annotation(5, [rating("motion_quality", 3)]))
    updated = _hook("ANNOTATION_UPDATED", annotation(5, [rating("motion_quality", 1)],
                                                    updated="2026-11-20T15:00:00Z"))
    deleted = orjson.dumps({"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 5}]})
    counts = [(await bridge.handle(body)).counts for body in (created, created, updated, updated, deleted,
                                                               deleted)]
    assert [c["produced"] for c in counts] == [1, 0, 1, 0, 1, 0]
    assert [c["duplicate"] for c in counts] == [0, 1, 0, 1, 0, 1]
    events = sent.values("annotations")
    assert [e["kind"] for e in events] == ["rating", "rating", "retraction"]
    assert [m.key for m in sent.messages] == [b"vqa-1"] * 3
    assert events[0]["annotator_id"] == events[1]["annotator_id"] == events[2]["annotator_id"]
    assert events[1]["scores"] == {"motion_quality": 1} and events[1]["event_id"] != events[0]["event_id"]
    assert events[2]["unit_id"] == "vqa-1" and events[2]["submitted_at"] == "2026-11-22T00:00:00Z"


async def test_a_retraction_is_later_than_the_answer_even_with_a_slow_clock(
        mapping: Mapping, check: convert.Check, sent: Sent) -> None:
    bridge = Bridge(mapping, check, MemoryStore(), sent, BridgeMetrics(), "annotations", "dlq", 10_000,
                    clock=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    await bridge.handle(_hook("ANNOTATION_CREATED", annotation(5, [rating("motion_quality", 3)])))
    await bridge.handle(orjson.dumps({"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 5}]}))
    answer, retraction = sent.values("annotations")
    assert retraction["submitted_at"] > answer["submitted_at"]


async def test_skipped_is_nothing_and_unmappable_is_dead_lettered(bridge: Bridge, sent: Sent) -> None:
    skipped = _hook("ANNOTATION_CREATED", annotation(6, [], was_cancelled=True))
    bad = _hook("ANNOTATION_CREATED", annotation(7, [rating("motion_quality", 9)]))
    unknown = orjson.dumps({"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 99}]})
    assert (await bridge.handle(skipped)).counts["skipped"] == 1
    assert (await bridge.handle(bad)).counts["dead_lettered"] == 1
    assert (await bridge.handle(unknown)).counts["dead_lettered"] == 1
    assert sent.values("annotations") == []
    letters = sent.values("annotations-dlq")
    assert [d["reason"] for d in letters] == ["score_out_of_scale", "unknown_annotation"]
    assert base64.b64decode(letters[0]["payload_b64"]) == bad  # the original body
    assert letters[0]["source_topic"] == "label-studio-webhook" and letters[0]["source_index"] == 0


async def test_an_unreadable_body_raises_and_sends_nothing(bridge: Bridge, sent: Sent) -> None:
    with pytest.raises(Unreadable):
        await bridge.handle(b"{")
    assert sent.messages == []


async def test_nothing_is_remembered_when_the_send_fails(mapping: Mapping, check: convert.Check) -> None:
    store, failing, working = MemoryStore(), Sent(fail=True), Sent()
    body = _hook("ANNOTATION_CREATED", annotation(5, [rating("motion_quality", 3)]))
    with pytest.raises(ConnectionError):
        await Bridge(mapping, check, store, failing, BridgeMetrics(), "a", "d", 100).handle(body)
    assert store.records == {}
    # Label Studio's retry is then produced, not taken for a duplicate
    assert (await Bridge(mapping, check, store, working, BridgeMetrics(), "a", "d", 100).handle(body)
            ).counts["produced"] == 1
