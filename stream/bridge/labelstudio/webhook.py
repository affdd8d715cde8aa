"""Label Studio webhook bodies -> what the bridge must do with each annotation (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

# the actions the bridge turns into events; any other action (projects, tasks, labels) is ignored
ANSWER_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED")
DELETE_ACTION = "ANNOTATIONS_DELETED"
ACTIONS = (*ANSWER_ACTIONS, DELETE_ACTION)


class Unreadable(ValueError):
    """A body that is not a Label Studio webhook at all: answered 400, nothing produced."""


@dataclass(frozen=True)
class Upsert:
    """An annotation created or updated, with its task's data."""

    index: int
    annotation: dict[str, Any]
    task_data: Any


@dataclass(frozen=True)
class Delete:
    """An annotation deleted: Label Studio sends only its id."""

    index: int
    annotation_id: int


@dataclass(frozen=True)
class Webhook:
    action: str
    items: tuple[Upsert | Delete, ...]


def parse(body: bytes) -> Webhook:
    """The body's action and annotations; Unreadable when it is not JSON, not an object, has no
    action, or its annotations are not objects with an integer id."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unreadable(f"not JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("action"), str):
        raise Unreadable("not a Label Studio webhook: expected a JSON object with an 'action'")
    action = payload["action"]
    if action == DELETE_ACTION:
        deleted = _listed(payload, "annotations")
        return Webhook(action, tuple(Delete(i, _id(a)) for i, a in enumerate(deleted)))
    if action not in ANSWER_ACTIONS:
        return Webhook(action, ())
    annotations = _listed(payload, "annotation")
    tasks = [t for t in _as_list(payload.get("task")) if isinstance(t, dict)]
    by_id = {t.get("id"): t for t in tasks}
    items = []
    for index, annotation in enumerate(annotations):
        _id(annotation)
        task = by_id.get(annotation.get("task"))
        if task is None and len(tasks) == len(annotations):
            task = tasks[index]  # Label Studio lists each annotation's task in the same order
        items.append(Upsert(index, annotation, (task or {}).get("data")))
    return Webhook(action, tuple(items))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _listed(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = _as_list(payload.get(key))
    if not items or not all(isinstance(item, dict) for item in items):
        raise Unreadable(f"{payload['action']}: '{key}' must hold annotation objects")
    return items


def _id(annotation: dict[str, Any]) -> int:
    value = annotation.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unreadable("an annotation without an integer 'id'")
    return value
