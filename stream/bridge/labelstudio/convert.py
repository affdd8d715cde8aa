"""Label Studio annotations (webhook payloads, export tasks) -> alphawatch annotation events (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from stream.bridge.labelstudio.mapping import ClipFields, Mapping
from stream.core.validate import Invalid, Validator

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Unmappable(ValueError):
    """An annotation the mapping cannot turn into an event: a dead letter with this reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Answer:
    """One mapped annotation: its event, and what a later deletion needs to retract it."""

    annotation_id: int
    event: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.event["event_id"])

    @property
    def unit_kind(self) -> str:
        return str(self.event["kind"])

    @property
    def unit_id(self) -> str:
        return str(self.event["clip_id"] if self.unit_kind == "rating" else self.event["pair_id"])


Check = Callable[[bytes], object]


def timestamp(value: Any, what: str) -> datetime:
    """Label Studio's ISO times ('2026-11-20T14:03:11.123456Z'); a time without zone is UTC."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise Unmappable("invalid_timestamp", f"{what}: {str(value)[:40]!r} is not an ISO time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def version_of(annotation: dict[str, Any]) -> datetime:
    """The annotation's own time: its last update, else its creation."""
    stamp = annotation.get("updated_at") or annotation.get("created_at")
    if not stamp:
        raise Unmappable("missing_field",
                         f"annotation {annotation.get('id')} has no updated_at or created_at")
    return timestamp(stamp, "annotation.updated_at")


def answer_id(mapping: Mapping, annotation_id: int, version: datetime) -> str:
    """Deterministic: one id per annotation version, so a redelivery or the export repeats it."""
    micros = (version - _EPOCH) // timedelta(microseconds=1)
    return f"{mapping.source}-{annotation_id}-{micros}"


def retraction_id(mapping: Mapping, annotation_id: int) -> str:
    return f"{mapping.source}-{annotation_id}-deleted"


def annotator_of(mapping: Mapping, annotation: dict[str, Any]) -> str:
    """Label Studio's user id (`completed_by`: an id, or a user object in some exports)."""
    user = annotation.get("completed_by")
    if isinstance(user, dict):
        user = user.get("id")
    if isinstance(user, bool) or not isinstance(user, int | str) or user == "":
        raise Unmappable("missing_field", f"annotation {annotation.get('id')} has no completed_by user")
    return f"{mapping.annotator_prefix}{user}"


def skipped(annotation: dict[str, Any]) -> bool:
    """A skipped (cancelled) annotation answers nothing."""
    return bool(annotation.get("was_cancelled"))


def to_answer(mapping: Mapping, annotation: dict[str, Any], data: Any, check: Check) -> Answer:
    """The rating or pairwise event of one annotation of a task with `data`; Unmappable if the
    mapping cannot express it or the event would not pass ingest validation (`check`)."""
    if not isinstance(data, dict):
        raise Unmappable("missing_task_field", f"annotation {annotation.get('id')}: the task has no data")
    annotation_id = int(annotation["id"])
    version = version_of(annotation)
    results = _results(annotation)
    kinds = {_kind(mapping, r.get("from_name")) for r in results} - {None}
    if not kinds:
        raise Unmappable("no_mapped_control", f"annotation {annotation_id}: no result from a control tag "
                         f"in the mapping ({sorted([*mapping.ratings, *mapping.preferences])})")
    if len(kinds) > 1:
        raise Unmappable("mixed_controls", f"annotation {annotation_id} answers both ratings and preferences")
    base = {"schema_version": 1, "event_id": answer_id(mapping, annotation_id, version),
            "project_id": mapping.project_id, "annotator_id": annotator_of(mapping, annotation),
            "submitted_at": rfc3339(version)}
    confidence = _confidence(mapping, results)
    if confidence is not None:
        base["confidence"] = confidence
    event = (_rating(mapping, results, data, base) if kinds == {"rating"}
             else _pairwise(mapping, results, data, base))
    verdict = check(orjson.dumps(event))
    if isinstance(verdict, Invalid):
        raise Unmappable(verdict.reason, f"annotation {annotation_id}: {verdict.detail}")
    return Answer(annotation_id, event)


def retraction(mapping: Mapping, annotation_id: int, annotator: str, unit_kind: str, unit_id: str,
               at: datetime) -> dict[str, Any]:
    """Withdraws a deleted annotation's answer (the bridge remembered whose and which unit)."""
    return {"schema_version": 1, "event_id": retraction_id(mapping, annotation_id), "kind": "retraction",
            "project_id": mapping.project_id, "annotator_id": annotator, "submitted_at": rfc3339(at),
            "unit_kind": unit_kind, "unit_id": unit_id}


def checker(dimensions: list[str], low: int, high: int, max_bytes: int) -> Check:
    """Ingest's own validation (no clock check: Label Studio's times are its own)."""
    return Validator(dimensions, low, high, max_bytes)


def _results(annotation: dict[str, Any]) -> list[dict[str, Any]]:
    results = annotation.get("result")
    if not isinstance(results, list):
        raise Unmappable("missing_field", f"annotation {annotation.get('id')} has no result list")
    return [r for r in results if isinstance(r, dict)]


def _kind(mapping: Mapping, from_name: Any) -> str | None:
    if from_name in mapping.ratings:
        return "rating"
    return "pairwise" if from_name in mapping.preferences else None


def _answer_text(result: dict[str, Any]) -> str:
    """A Rating's stars as text, or a single Choices value."""
    value = result.get("value")
    value = value if isinstance(value, dict) else {}
    if "rating" in value:
        return str(value["rating"])
    choices = value.get("choices")
    if isinstance(choices, list) and len(choices) == 1:
        return str(choices[0])
    raise Unmappable("unknown_answer", f"{result.get('from_name')}: expected a rating or one choice, "
                     f"got {str(value)[:80]}")


def _mapped(name: str, text: str, values: dict[str, Any]) -> Any:
    if text not in values:
        raise Unmappable("unknown_answer", f"{name}: answer {text!r} is not in the mapping's values "
                         f"{sorted(values)}")
    return values[text]


def _rating(mapping: Mapping, results: list[dict[str, Any]], data: dict[str, Any],
            base: dict[str, Any]) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for result in results:
        control = mapping.ratings.get(result.get("from_name"))  # type: ignore[arg-type]
        if control is None:
            continue
        text = _answer_text(result)
        if control.values:
            scores[control.dimension] = _mapped(str(result["from_name"]), text, control.values)
        else:
            scores[control.dimension] = _stars(str(result["from_name"]), text)
    fields = mapping.task
    clip = _clip(data, fields, with_clip_id=False)
    if fields.duration_s and data.get(fields.duration_s) is not None:
        clip["duration_s"] = data[fields.duration_s]
    return {**base, "kind": "rating", "clip_id": _field(data, fields.clip_id, "task.clip_id"),
            "scores": scores, "gold_item_id": _gold(data, fields.gold_item), "clip": clip}


def _pairwise(mapping: Mapping, results: list[dict[str, Any]], data: dict[str, Any],
              base: dict[str, Any]) -> dict[str, Any]:
    preferences: dict[str, Any] = {}
    for result in results:
        control = mapping.preferences.get(result.get("from_name"))  # type: ignore[arg-type]
        if control is not None:
            preferences[control.dimension] = _mapped(str(result["from_name"]), _answer_text(result),
                                                     control.values)
    fields = mapping.pair
    shown = data.get(fields.shown_left) if fields.shown_left else None
    return {**base, "kind": "pairwise", "pair_id": _field(data, fields.pair_id, "pair.pair_id"),
            "preferences": preferences, "shown_left": shown if shown in ("A", "B") else "A",
            "gold_item_id": _gold(data, fields.gold_item),
            "clip_a": _clip(data, fields.clip_a, with_clip_id=True),
            "clip_b": _clip(data, fields.clip_b, with_clip_id=True)}


def _stars(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Unmappable("unknown_answer", f"{name}: {text!r} is not a number of stars; map it under "
                         f"ratings.{name}.values") from None


def _clip(data: dict[str, Any], fields: ClipFields, with_clip_id: bool) -> dict[str, Any]:
    names = ["model_id", "modality", "source_category", "prompt"]
    clip = {name: _field(data, getattr(fields, name), name) for name in names}
    if with_clip_id:
        clip["clip_id"] = _field(data, fields.clip_id, "clip_id")
    return clip


def _field(data: dict[str, Any], name: str, key: str) -> Any:
    if data.get(name) is None:
        raise Unmappable("missing_task_field", f"task data has no {name!r} (mapping key {key})")
    value = data[name]
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _gold(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value in (None, "", False) else str(value)


def _confidence(mapping: Mapping, results: list[dict[str, Any]]) -> str | None:
    for result in results:
        if mapping.confidence is not None and result.get("from_name") == mapping.confidence:
            return _answer_text(result).lower()
    return None


def export_answers(mapping: Mapping, tasks: list[Any], check: Check
                   ) -> Iterator[tuple[Answer | None, Unmappable | None]]:
    """Every annotation of a Label Studio JSON export: its answer, or why it cannot be mapped
    (skipped annotations yield nothing)."""
    for task in tasks:
        if not isinstance(task, dict):
            yield None, Unmappable("not_an_object", "an export item is not a task object")
            continue
        for annotation in task.get("annotations") or []:
            if not isinstance(annotation, dict) or skipped(annotation):
                continue
            try:
                yield to_answer(mapping, annotation, task.get("data"), check), None
            except Unmappable as exc:
                yield None, exc
            except (KeyError, TypeError, ValueError) as exc:
                yield None, Unmappable("unreadable_annotation", repr(exc)[:200])
