"""Input event models: one JSON object per Kafka message on topic `annotations`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

SourceCategory = Literal["cinematic", "street", "curated"]
Modality = Literal["t2v", "i2v", "v2v"]
Preference = Literal["A", "B", "tie"]
Confidence = Literal["low", "medium", "high"]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


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
    schema_version: Literal[1]
    event_id: Id
    project_id: Id
    annotator_id: Id
    submitted_at: AwareDatetime


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
        _check_dimensions(value, info)
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
        return _check_dimensions(value, info)


class RetractionEvent(_Event):
    """Withdraws the annotator's current answer for one clip or pair (e.g. a rejected task)."""

    kind: Literal["retraction"]
    unit_kind: Literal["rating", "pairwise"]
    unit_id: Id


class WatermarkEvent(BaseModel):
    """A producer's promise that no event older than `watermark` will follow (e.g. end of replay)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    schema_version: Literal[1]
    kind: Literal["watermark"]
    watermark: AwareDatetime


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
