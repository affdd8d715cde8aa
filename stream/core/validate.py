"""Turn raw message bytes into a validated annotation event or a dead-letter record (pure)."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.events import (
    AnnotationEvent,
    PairwiseEvent,
    RatingEvent,
    RetractionEvent,
    WatermarkEvent,
)
from schemas.outputs import DeadLetter

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
    # Infinity, NaN and overflowing literals (1e400): JSON has no such numbers, and the later
    # stages' parser (orjson) refuses them, so one would stop a stage on every restart
    "finite_number": "non_finite_number",
    "invalid_id": "invalid_id",
    "invalid_timestamp": "invalid_timestamp",
    "timestamp_out_of_range": "timestamp_out_of_range",
    "empty_answer": "empty_answer",
    "unsupported_schema_version": "unsupported_schema_version",
}
REASONS = (
    "oversized", "not_utf8", "future_timestamp", *sorted(set(_REASONS.values())),
    "unsupported_schema_version", "invalid_field",
)

Event = RatingEvent | PairwiseEvent | RetractionEvent | WatermarkEvent


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str
    detail: str


class Validator:
    """Validates against the configured dimensions, score scale and payload limit, and (in the
    stream, with `max_skew_s`) refuses times further ahead of the wall clock than that skew."""

    def __init__(self, dimensions: list[str], score_min: int, score_max: int, max_bytes: int,
                 max_skew_s: float | None = None, clock: Callable[[], float] = time.time):
        self._context = {"dimensions": tuple(dimensions), "scale": (score_min, score_max)}
        self._max_bytes = max_bytes
        self._max_skew_s = max_skew_s
        self._clock = clock

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
        return self._ahead(event) or event

    def _ahead(self, event: Event) -> Invalid | None:
        """future_timestamp when the event's time is past now + skew. One such rating would move
        its partition's watermark there and close every open window early; a watermark event
        would do it at once. The offline tool (no skew) reads any time."""
        if self._max_skew_s is None:
            return None
        field, stamp = (("watermark", event.watermark) if isinstance(event, WatermarkEvent)
                        else ("submitted_at", event.submitted_at))
        lead = stamp.timestamp() - self._clock()
        if lead <= self._max_skew_s:
            return None
        return Invalid("future_timestamp", f"{field}: {stamp.isoformat()} is {lead:,.0f} s ahead of this "
                       f"worker's clock (ALPHAWATCH_MAX_CLOCK_SKEW allows {self._max_skew_s:,.0f} s)")


def elements(raw: bytes | None) -> list[tuple[bytes | None, int | None]]:
    """A record's events: itself, or each element of the JSON array it holds (with its index).
    Producers may batch many events per record; each element is validated on its own."""
    if raw is None or raw.lstrip()[:1] != b"[":
        return [(raw, None)]
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [(raw, None)]  # reported as not_json by the validator
    return [(orjson.dumps(item), i) for i, item in enumerate(items)]


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


def dead_letter(raw: bytes | None, key: bytes | None, invalid: Invalid, topic: str,
                partition: int, offset: int, keep: int, index: int | None = None) -> bytes:
    """The DLQ record: reason, origin and the original bytes (truncated past `keep`, with a hash)."""
    payload = raw or b""
    record = DeadLetter(
        reason=invalid.reason, detail=invalid.detail[:2000], source_topic=topic,
        source_partition=partition, source_offset=offset, source_index=index,
        source_key_b64=base64.b64encode(key).decode() if key else None,
        payload_b64=base64.b64encode(payload[:keep]).decode(), payload_size=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(), payload_truncated=len(payload) > keep,
        received_at=datetime.now(UTC),
    )
    return record.model_dump_json().encode()
