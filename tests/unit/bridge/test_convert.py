"""Label Studio annotations -> annotation events: fields, ids, versions, skips and unmappable answers."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.events import PairwiseEvent, RatingEvent
from stream.bridge.labelstudio import convert
from stream.bridge.labelstudio.convert import Unmappable
from stream.bridge.labelstudio.mapping import Mapping
from stream.settings import DEFAULT_DIMENSIONS
from tests.unit.bridge.conftest import annotation, choice, clip_data, pair_data, rating

FOUR = [rating("motion_quality", 4), rating("visual_fidelity", 3), rating("viewer_interest", 5),
        rating("text_alignment", 2)]


def test_a_rating_annotation_becomes_a_valid_rating_event(mapping: Mapping, check: convert.Check) -> None:
    answer = convert.to_answer(mapping, annotation(41, FOUR), clip_data(), check)
    event = RatingEvent.model_validate_json(__import__("orjson").dumps(answer.event), strict=True,
                                            context={"dimensions": DEFAULT_DIMENSIONS})
    assert event.scores == {"motion_quality": 4, "visual_fidelity": 3, "viewer_interest": 5,
                            "text_alignment": 2}
    assert event.annotator_id == "ls-user-7" and event.project_id == "t2v-rlhf-q4"
    assert event.clip_id == "vqa-1" and event.clip.model_id == "cfg-03" and event.clip.modality == "t2v"
    assert event.gold_item_id is None
    assert answer.event["submitted_at"] == "2026-11-20T14:03:11.123456Z"
    assert (answer.unit_kind, answer.unit_id) == ("rating", "vqa-1")


def test_event_ids_follow_the_annotation_and_its_version(mapping: Mapping, check: convert.Check) -> None:
    first = convert.to_answer(mapping, annotation(41, FOUR), clip_data(), check)
    again = convert.to_answer(mapping, annotation(41, FOUR), clip_data(), check)
    updated = convert.to_answer(mapping, annotation(41, FOUR, updated="2026-11-20T15:00:00Z"), clip_data(),
                                check)
    assert first.event_id == again.event_id == "ls-41-1795183391123456"
    assert updated.event_id != first.event_id and updated.event["annotator_id"] == first.event["annotator_id"]
    # a revision: the same annotator and unit, a later time; the stream keeps the latest
    assert updated.event["submitted_at"] > first.event["submitted_at"]


def test_the_version_is_the_creation_time_without_an_update(mapping: Mapping, check: convert.Check) -> None:
    answer = convert.to_answer(mapping, annotation(5, FOUR, updated=""), clip_data(), check)
    assert answer.event["submitted_at"] == "2026-11-20T14:00:00.000001Z"


def test_a_gold_task_carries_its_gold_item(mapping: Mapping, check: convert.Check) -> None:
    answer = convert.to_answer(mapping, annotation(1, FOUR), clip_data(gold_item_id="g-3"), check)
    assert answer.event["gold_item_id"] == "g-3"


def test_a_pairwise_annotation_becomes_a_pairwise_event(mapping: Mapping, check: convert.Check) -> None:
    results = [choice("pref_motion_quality", "A"), choice("pref_text_alignment", "Tie")]
    answer = convert.to_answer(mapping, annotation(9, results), pair_data(shown_left="B"), check)
    event = PairwiseEvent.model_validate_json(__import__("orjson").dumps(answer.event), strict=True)
    assert event.preferences == {"motion_quality": "A", "text_alignment": "tie"}
    assert event.pair_id == "pair-9" and event.shown_left == "B"
    assert (event.clip_a.clip_id, event.clip_b.model_id) == ("vqa-1", "cfg-07")
    assert (answer.unit_kind, answer.unit_id) == ("pairwise", "pair-9")


def test_mapped_values_and_other_tags(mapping: Mapping, check: convert.Check) -> None:
    custom = mapping.model_copy(update={"ratings": {"mq": mapping.ratings["motion_quality"].model_copy(
        update={"values": {"bad": 1, "good": 5}})}})
    results = [choice("mq", "good"), {"from_name": "comment", "type": "textarea", "value": {"text": ["x"]}}]
    answer = convert.to_answer(custom, annotation(2, results), clip_data(), check)
    assert answer.event["scores"] == {"motion_quality": 5}


@pytest.mark.parametrize(("results", "data", "reason"), [
    ([rating("motion_quality", 6)], clip_data(), "score_out_of_scale"),
    ([rating("motion_quality", 4)], {k: v for k, v in clip_data().items() if k != "clip_id"},
     "missing_task_field"),
    ([rating("motion_quality", 4)], clip_data(modality="3d"), "invalid_field"),
    ([{"from_name": "comment", "value": {"text": ["x"]}}], clip_data(), "no_mapped_control"),
    ([rating("motion_quality", 4), choice("pref_motion_quality", "A")], clip_data(), "mixed_controls"),
    ([choice("pref_motion_quality", "Left")], pair_data(), "unknown_answer"),
    ([choice("motion_quality", "great")], clip_data(), "unknown_answer"),
    ([rating("motion_quality", 4)], None, "missing_task_field"),
])
def test_what_cannot_be_mapped_says_why(mapping: Mapping, check: convert.Check, results: list[Any],
                                        data: Any, reason: str) -> None:
    with pytest.raises(Unmappable) as caught:
        convert.to_answer(mapping, annotation(3, results), data, check)
    assert caught.value.reason == reason


def test_an_annotation_without_a_user_cannot_be_mapped(mapping: Mapping, check: convert.Check) -> None:
    with pytest.raises(Unmappable, match="completed_by"):
        convert.to_answer(mapping, annotation(3, FOUR, completed_by=None), clip_data(), check)


def test_a_retraction_names_the_unit_and_annotator(mapping: Mapping) -> None:
    at = convert.timestamp("2026-11-21T00:00:00Z", "t")
    event = convert.retraction(mapping, 41, "ls-user-7", "rating", "vqa-1", at)
    assert event == {"schema_version": 1, "event_id": "ls-41-deleted", "kind": "retraction",
                     "project_id": "t2v-rlhf-q4", "annotator_id": "ls-user-7",
                     "submitted_at": "2026-11-21T00:00:00Z", "unit_kind": "rating", "unit_id": "vqa-1"}


def test_an_export_yields_answers_problems_and_no_skips(mapping: Mapping, check: convert.Check) -> None:
    tasks = [
        {"id": 3, "data": clip_data(), "annotations": [
            annotation(1, FOUR), annotation(2, [], was_cancelled=True),
            annotation(3, [rating("motion_quality", 9)])]},
        {"id": 4, "data": clip_data(clip_id="vqa-2"), "annotations": []},
        "not a task",
    ]
    out = list(convert.export_answers(mapping, tasks, check))
    answers = [a for a, _ in out if a is not None]
    problems = [p.reason for _, p in out if p is not None]
    assert [a.annotation_id for a in answers] == [1]
    assert problems == ["score_out_of_scale", "not_an_object"]
