"""Webhook bodies: the four annotation actions, other actions ignored, unreadable bodies refused."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream.bridge.labelstudio.webhook import Delete, Unreadable, Upsert, parse
from tests.unit.bridge.conftest import annotation, clip_data, rating


def _body(**payload: Any) -> bytes:
    return orjson.dumps(payload)


def test_created_and_updated_carry_the_annotation_and_its_task_data() -> None:
    for action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
        hook = parse(_body(action=action, annotation=annotation(5, [rating("motion_quality", 3)]),
                           task={"id": 3, "data": clip_data()}, project={"id": 1}))
        (item,) = hook.items
        assert isinstance(item, Upsert) and item.annotation["id"] == 5 and item.task_data == clip_data()


def test_bulk_created_matches_each_annotation_to_its_task() -> None:
    first, second = annotation(5, [], task=3), annotation(6, [], task=4)
    hook = parse(_body(action="ANNOTATIONS_CREATED", annotation=[first, second],
                       task=[{"id": 4, "data": {"clip_id": "b"}}, {"id": 3, "data": {"clip_id": "a"}}]))
    assert [(i.index, i.task_data) for i in hook.items if isinstance(i, Upsert)] == [
        (0, {"clip_id": "a"}), (1, {"clip_id": "b"})]


def test_deleted_carries_only_ids() -> None:
    hook = parse(_body(action="ANNOTATIONS_DELETED", annotations=[{"id": 5}, {"id": 9}], project={"id": 1}))
    assert hook.items == (Delete(0, 5), Delete(1, 9))


def test_other_actions_are_ignored() -> None:
    assert parse(_body(action="TASKS_CREATED", tasks=[{"id": 1}])).items == ()


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", _body(annotation={"id": 1}), _body(action="ANNOTATION_CREATED"),
    _body(action="ANNOTATION_CREATED", annotation={"result": []}),
    _body(action="ANNOTATIONS_DELETED", annotations=[{"id": "5"}]),
    _body(action="ANNOTATIONS_DELETED", annotations=[]),
])
def test_a_body_that_is_not_a_webhook_is_unreadable(body: bytes) -> None:
    with pytest.raises(Unreadable):
        parse(body)
