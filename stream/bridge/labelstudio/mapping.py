"""The Label Studio mapping file (TOML): control tags -> dimensions, answers -> scale, task fields (pure)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Preference = Literal["A", "B", "tie"]
FieldName = Annotated[str, Field(min_length=1, max_length=200)]


class MappingError(ValueError):
    """A mapping file that cannot be used, as lines naming the key and what it needs."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatingControl(_Strict):
    """A Rating (stars) or Choices tag answering one 1-5 dimension."""

    dimension: str
    # the tag's answer (stars as a string, or a Choices value) -> the score; empty: stars as they are
    values: dict[str, int] = Field(default_factory=dict)


def _default_preferences() -> dict[str, Preference]:
    return {"A": "A", "B": "B", "Tie": "tie"}


class PreferenceControl(_Strict):
    """A Choices tag answering which clip of a pair is better on one dimension."""

    dimension: str
    values: dict[str, Preference] = Field(default_factory=_default_preferences)


class ClipFields(_Strict):
    """Which task data fields hold a clip's id and metadata."""

    clip_id: FieldName = "clip_id"
    model_id: FieldName = "model_id"
    modality: FieldName = "modality"
    source_category: FieldName = "source_category"
    prompt: FieldName = "prompt"


class TaskFields(ClipFields):
    """Task data fields of a rating task; `gold_item` holds the gold item id of a gold task."""

    gold_item: FieldName = "gold_item_id"
    duration_s: FieldName | None = None


class PairFields(_Strict):
    """Task data fields of a pairwise task: the pair id, which clip was shown left, each side."""

    pair_id: FieldName = "pair_id"
    shown_left: FieldName | None = "shown_left"
    gold_item: FieldName = "gold_item_id"
    clip_a: ClipFields = ClipFields(clip_id="clip_a_id", model_id="clip_a_model_id",
                                    modality="modality", source_category="source_category",
                                    prompt="prompt")
    clip_b: ClipFields = ClipFields(clip_id="clip_b_id", model_id="clip_b_model_id",
                                    modality="modality", source_category="source_category",
                                    prompt="prompt")


class Mapping(_Strict):
    """One Label Studio project family -> alphawatch events (deploy/label-studio/mapping.toml)."""

    project_id: FieldName
    # event ids and bridge keys start with it: two Label Studio servers need two prefixes
    source: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")] = "ls"
    annotator_prefix: str = Field("ls-user-", max_length=50)
    ratings: dict[str, RatingControl] = Field(default_factory=dict)
    preferences: dict[str, PreferenceControl] = Field(default_factory=dict)
    confidence: str | None = None  # a Choices tag answering low / medium / high
    task: TaskFields = TaskFields()
    pair: PairFields = PairFields()

    @model_validator(mode="after")
    def _some_control(self) -> Mapping:
        if not self.ratings and not self.preferences:
            raise ValueError("map at least one control tag under [ratings.<from_name>] or "
                             "[preferences.<from_name>]")
        both = sorted(set(self.ratings) & set(self.preferences))
        if both:
            raise ValueError(f"control tag(s) {both} are both a rating and a preference")
        return self


def check(mapping: Mapping, dimensions: list[str], low: int, high: int) -> list[str]:
    """Problems against the worker's settings: unknown dimensions, scores off the scale, a
    dimension answered by two tags."""
    problems: list[str] = []
    for section, controls in (("ratings", mapping.ratings), ("preferences", mapping.preferences)):
        seen: dict[str, str] = {}
        for name, control in controls.items():
            if control.dimension not in dimensions:
                problems.append(f"{section}.{name}.dimension: {control.dimension!r} is not one of "
                                f"ALPHAWATCH_DIMENSIONS {dimensions}")
            if control.dimension in seen:
                problems.append(f"{section}.{name}.dimension: {control.dimension!r} is already "
                                f"answered by {section}.{seen[control.dimension]}")
            seen[control.dimension] = name
    for name, control in mapping.ratings.items():
        problems += [f"ratings.{name}.values.{key}: {score} is outside the scale {low}-{high}"
                     for key, score in control.values.items() if not low <= score <= high]
    return problems


def load(path: Path, dimensions: list[str], low: int, high: int) -> Mapping:
    """Read and validate a mapping file; MappingError names every bad key."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text())
    except OSError as exc:
        raise MappingError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: not TOML ({exc})") from None
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError("\n".join(f"{path}: {_where(e['loc'])}{e['msg'].removeprefix('Value error, ')}"
                                     for e in exc.errors(include_url=False))) from None
    problems = check(mapping, dimensions, low, high)
    if problems:
        raise MappingError("\n".join(f"{path}: {p}" for p in problems))
    return mapping


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) + ": " if loc else ""

