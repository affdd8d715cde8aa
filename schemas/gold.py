"""Gold key rows: expert answers to known-answer items, one per gold_item_id (topic gold-items)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.events import Id, Preference

GoldAnswer = Annotated[int, Field(strict=True)] | Preference


class GoldKeyRow(BaseModel):
    """An expert answer per dimension (1-5 score or A/B/tie), with optional per-dimension tolerance;
    `deleted: true` withdraws the item (a tombstone on the compacted topic)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gold_item_id: Id
    kind: Literal["rating", "pairwise"] | None = Field(None, description="required unless deleted")
    answers: dict[str, GoldAnswer | None] = Field(
        default_factory=dict, description="dimension -> expert answer; null = not part of the key")
    tolerance: dict[str, Annotated[int, Field(ge=0, strict=True)]] = Field(
        default_factory=dict, description="dimension -> allowed distance (scores: |score - gold|; "
        "pairwise: A=-1, tie=0, B=+1); absent = the configured default")
    deleted: bool = False

    @field_validator("answers", "tolerance")
    @classmethod
    def _known_dimensions(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        allowed = (info.context or {}).get("dimensions")
        unknown = sorted(set(value) - set(allowed)) if allowed is not None else []
        if unknown:
            raise PydanticCustomError("unknown_dimension", "unknown dimension(s) {unknown}",
                                      {"unknown": unknown})
        return value

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> GoldKeyRow:
        if self.deleted:
            if self.answers or self.kind:
                raise ValueError("a deletion carries only gold_item_id and deleted: true")
            return self
        if self.kind is None or not any(v is not None for v in self.answers.values()):
            raise ValueError("a gold item needs kind and at least one answer")
        want: type = int if self.kind == "rating" else str
        wrong = sorted(d for d, v in self.answers.items() if v is not None and not isinstance(v, want))
        if wrong:
            raise ValueError(f"{self.kind} answers must be {'scores' if want is int else 'A/B/tie'}: {wrong}")
        scale = (info.context or {}).get("scale")
        if scale is not None and self.kind == "rating":
            low, high = scale
            bad = sorted(d for d, v in self.answers.items() if isinstance(v, int) and not low <= v <= high)
            if bad:
                raise ValueError(f"score out of scale {low}-{high}: {bad}")
        return self
