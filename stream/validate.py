"""Turn raw message bytes into a validated annotation event or a dead-letter reason (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from schemas.events import (
    AnnotationEvent,
    PairwiseEvent,
    RatingEvent,
    RetractionEvent,
    WatermarkEvent,
)

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnnotationEvent)

# pydantic error type -> dead-letter reason; the first error of a message decides.
_REASONS = {
    "json_invalid": "not_json",
    "dict_type": "not_an_object",
    "union_tag_invalid": "unknown_kind",
    "union_tag_not_found": "unknown_kind",
    "timezone_aware": "naive_timestamp",
    "unknown_dimension": "unknown_dimension",
    "score_out_of_scale": "score_out_of_scale",
    "missing": "missing_field",
    "extra_forbidden": "unexpected_field",
}
REASONS = (
    "oversized", "not_utf8", *sorted(set(_REASONS.values())),
    "unsupported_schema_version", "invalid_field",
)

Event = RatingEvent | PairwiseEvent | RetractionEvent | WatermarkEvent


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str
    detail: str


class Validator:
    """Validates against the configured dimensions, score scale and payload limit."""

    def __init__(self, dimensions: list[str], score_min: int, score_max: int, max_bytes: int):
        self._context = {"dimensions": tuple(dimensions), "scale": (score_min, score_max)}
        self._max_bytes = max_bytes

    def __call__(self, raw: bytes | None) -> Event | Invalid:
        if raw is None:
            return Invalid("not_json", "empty message (null value)")
        if len(raw) > self._max_bytes:
            return Invalid("oversized", f"{len(raw)} bytes > limit {self._max_bytes}")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Invalid("not_utf8", str(exc))
        try:
            event: Event = _ADAPTER.validate_json(raw, strict=True, context=self._context)
        except ValidationError as exc:
            return _invalid(exc)
        return event


def _invalid(exc: ValidationError) -> Invalid:
    first = exc.errors(include_url=False)[0]
    kind = str(first["type"])
    loc = ".".join(str(part) for part in first["loc"])
    reason = _REASONS.get(kind, "invalid_field")
    field = str(first["loc"][-1]) if first["loc"] else ""
    if kind == "literal_error" and field == "schema_version":
        reason = "unsupported_schema_version"
    elif kind == "string_too_short" and field.endswith("_id"):
        reason = "missing_field"  # an empty id is a missing id
    return Invalid(reason, f"{loc}: {first['msg']}" if loc else str(first["msg"]))
