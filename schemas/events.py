"""Input event models: one JSON object per Kafka message on topic `annotations`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

SourceCategory = Literal["cinematic", "street", "curated"]
Modality = Literal["t2v", "i2v", "v2v"]
Preference = Literal["A", "B", "tie"]
Confidence = Literal["low", "medium", "high"]


# C0 controls and DEL; a regex search, since a per-character loop cost 3 us per event at ingest
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _clean_id(value: str) -> str:
    """An id is a name: not blank, no NUL or other control characters (they break keys, logs, CSVs)."""
    if not value.strip() or _CONTROL.search(value) is not None:
        raise PydanticCustomError("invalid_id", "id is blank or holds control characters: {value}",
                                  {"value": value[:80]})
    return value


def _version(value: Any) -> Any:
    """JSON numbers 1 and 1.0 look alike to pydantic; a schema version is the integer 1."""
    if type(value) is not int:
        raise PydanticCustomError("unsupported_schema_version", "schema_version must be the integer 1")
    return value


def _rfc3339(value: Any) -> Any:
    """A timestamp is an RFC 3339 string with a zone, not a number or a Unix time in a string;
    parsed here (strict pydantic would refuse the string after a validator ran)."""
    if not isinstance(value, str) or value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise PydanticCustomError("invalid_timestamp", "timestamps are RFC 3339 strings, e.g. "
                                  "2026-11-20T14:03:11Z; got {value}", {"value": str(value)[:40]})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PydanticCustomError("invalid_timestamp", "not an RFC 3339 timestamp: {value}",
                                  {"value": value[:40]}) from exc
    if parsed.tzinfo is None:
        raise PydanticCustomError("timezone_aware", "Input should have timezone info")
    return parsed


# years outside this range are typos or sentinels; 9999 would overflow window arithmetic (year 10000)
_EARLIEST, _LATEST = 2000, 9000


def _in_range(value: datetime) -> datetime:
    if not _EARLIEST <= value.year < _LATEST:
        raise PydanticCustomError("timestamp_out_of_range", "timestamp {value} is not within years "
                                  "{low}-{high}", {"value": value.isoformat(), "low": _EARLIEST,
                                                   "high": _LATEST - 1})
    return value


Id = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean_id)]
SchemaVersion = Annotated[Literal[1], BeforeValidator(_version)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_range)]


def _not_empty(value: dict[str, Any]) -> dict[str, Any]:
    if not value:
        raise PydanticCustomError("empty_answer", "an answer needs at least one dimension")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Clip(_Strict):
    """The rated clip's metadata, used for slicing and batch records."""

    source_category: SourceCategory
    modality: Modality
    model_id: Id
    prompt: str = Field(max_length=20_000)
    duration_s: float | None = Field(default=None, ge=0)


class PairClip(_Strict):
    """One side of a pairwise comparison."""

    clip_id: Id
    model_id: Id
    modality: Modality
    source_category: SourceCategory
    prompt: str = Field(max_length=20_000)


def _check_dimensions(value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    """Dimension names come from settings, passed in the validation context."""
    context = info.context or {}
    allowed = context.get("dimensions")
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise PydanticCustomError(
                "unknown_dimension",
                "unknown dimension(s) {unknown}; configured: {allowed}",
                {"unknown": unknown, "allowed": list(allowed)},
            )
    return value


class _Event(_Strict):
    schema_version: SchemaVersion
    event_id: Id
    project_id: Id
    annotator_id: Id
    submitted_at: Timestamp


class RatingEvent(_Event):
    """An annotator's 1-5 scores of one clip; a null or absent score is missing data."""

    kind: Literal["rating"]
    clip_id: Id
    scores: dict[str, int | None]
    confidence: Confidence | None = None
    gold_item_id: Id | None = None
    clip: Clip

    @field_validator("scores")
    @classmethod
    def _scores_ok(cls, value: dict[str, int | None], info: ValidationInfo) -> dict[str, int | None]:
        _check_dimensions(_not_empty(value), info)
        scale = (info.context or {}).get("scale")
        if scale is not None:
            low, high = scale
            bad = {k: v for k, v in value.items() if v is not None and not low <= v <= high}
            if bad:
                raise PydanticCustomError(
                    "score_out_of_scale",
                    "score out of scale {low}-{high}: {bad}",
                    {"low": low, "high": high, "bad": bad},
                )
        return value


class PairwiseEvent(_Event):
    """An annotator's A/B/tie preference between two clips, per dimension."""

    kind: Literal["pairwise"]
    pair_id: Id
    preferences: dict[str, Preference | None]
    shown_left: Literal["A", "B"]
    confidence: Confidence | None = None
    gold_item_id: Id | None = None
    clip_a: PairClip
    clip_b: PairClip

    @field_validator("preferences")
    @classmethod
    def _dims_ok(
        cls, value: dict[str, Preference | None], info: ValidationInfo
    ) -> dict[str, Preference | None]:
        return _check_dimensions(_not_empty(value), info)


class RetractionEvent(_Event):
    """Withdraws the annotator's current answer for one clip or pair (e.g. a rejected task)."""

    kind: Literal["retraction"]
    unit_kind: Literal["rating", "pairwise"]
    unit_id: Id


class WatermarkEvent(BaseModel):
    """A producer's promise that no event older than `watermark` will follow (e.g. end of replay)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)
    schema_version: SchemaVersion
    kind: Literal["watermark"]
    watermark: Timestamp


AnnotationEvent = Annotated[
    RatingEvent | PairwiseEvent | RetractionEvent | WatermarkEvent, Field(discriminator="kind")
]


def unit_key(event: RatingEvent | PairwiseEvent | RetractionEvent) -> str:
    """The agreement unit an event belongs to: 'c:<clip_id>' or 'p:<pair_id>'."""
    if isinstance(event, RatingEvent):
        return f"c:{event.clip_id}"
    if isinstance(event, PairwiseEvent):
        return f"p:{event.pair_id}"
    return ("c:" if event.unit_kind == "rating" else "p:") + event.unit_id
