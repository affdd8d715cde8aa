"""RLHF batch records (topic rlhf-batches) and batch manifests (topic rlhf-batch-manifests)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Tier = Literal["high", "medium", "low"]
Winner = Literal["A", "B", "tie"]
CLIP_RATING = "clip_rating.v1"
PAIRWISE = "pairwise_preference.v1"
RECORD_TYPES = (CLIP_RATING, PAIRWISE)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Record(_Out):
    """Fields every batch record carries; consumers keep the highest version per record_id."""

    schema_version: Literal[1] = 1
    record_id: str = Field(description="deterministic: the same unit in the same batch keeps its id")
    version: int = Field(ge=1, description="1 at first emission; +1 whenever a later answer changes it")
    batch_id: str = Field(description="ISO week of the unit's window (e.g. 2026-W47) for weekly batches")
    project_id: str
    window_start: AwareDatetime = Field(description="start of the unit's (smallest) agreement window")
    window_size_s: int
    first_answer_at: AwareDatetime
    last_answer_at: AwareDatetime
    emitted_at: AwareDatetime = Field(description="wall clock of this version's emission (metadata)")


class Rating(_Out):
    annotator: str = Field(description="HMAC-SHA256 of the annotator id with ALPHAWATCH_BATCH_SALT, 16 hex")
    score: int
    confidence: Literal["low", "medium", "high"] | None


class RatingDimension(_Out):
    consensus_median: float
    consensus_mean: float
    n_ratings: int
    ratings: list[Rating]
    unit_agreement: float | None = Field(
        description="share of rater pairs within the gold tolerance of each other; null below 2 ratings")
    window_alpha: float | None = Field(description="alpha of the unit's window (slice all) when emitted")
    confidence_tier: Tier


class ClipMeta(_Out):
    clip_id: str
    source_category: str
    modality: str
    model_id: str
    prompt: str
    duration_s: float | None


class ClipRating(_Record):
    """One rated clip: consensus and every qualified rating, per dimension (clip_rating.v1)."""

    record_type: Literal["clip_rating.v1"] = "clip_rating.v1"
    clip: ClipMeta
    dimensions: dict[str, RatingDimension]


class Vote(_Out):
    annotator: str = Field(description="HMAC-SHA256 of the annotator id with ALPHAWATCH_BATCH_SALT, 16 hex")
    shown_left: Literal["A", "B"]
    confidence: Literal["low", "medium", "high"] | None
    preferences: dict[str, Winner | None]


class PreferenceDimension(_Out):
    winner: Winner
    p_a: float = Field(description="(votes A + 0.5 ties) / n")
    n: int
    votes_a: int
    votes_b: int
    ties: int
    agreement: float | None = Field(description="share of voter pairs that agree; null below 2 votes")
    window_alpha: float | None = Field(description="alpha of pairwise.<dimension> in the unit's window")
    confidence_tier: Tier


class PairSide(_Out):
    clip_id: str
    model_id: str
    modality: str
    source_category: str


class PairwisePreference(_Record):
    """One compared pair: per dimension winner, p_a and agreement, with the votes (pairwise_preference.v1)."""

    record_type: Literal["pairwise_preference.v1"] = "pairwise_preference.v1"
    pair_id: str
    prompt: str
    clip_a: PairSide
    clip_b: PairSide
    shown_left: Literal["A", "B"] = Field(description="side shown on the left to most voters (A on a tie)")
    dimensions: dict[str, PreferenceDimension]
    votes: list[Vote]


class DimensionAlpha(_Out):
    alpha: float | None
    alpha_reason: str | None
    n_pairable_values: float


class BatchManifest(_Out):
    """A closed batch: what it holds, what was left out and why, and how to verify it."""

    schema_version: Literal[1] = 1
    batch_id: str
    batch_start: AwareDatetime
    batch_end: AwareDatetime
    revision: int = Field(1, description="raised if a partition's summary changed after the first manifest")
    record_counts: dict[str, int] = Field(description="latest-version records per record type")
    answers_received: int = Field(description="valid ratings and pairwise votes of this batch's units")
    answers_included: int = Field(description="of which in the records")
    exclusions: dict[str, int] = Field(description="answers left out, by reason; included + these = received")
    alpha: dict[str, DimensionAlpha] = Field(description="per dimension over the included answers")
    record_checksum: str = Field(description="XOR of SHA-256('<record_id>:<version>') over the latest "
                                 "version of every record, hex")
    partitions: int
    closed_at: AwareDatetime


BATCH_MODELS: dict[str, type[BaseModel]] = {
    "clip_rating": ClipRating,
    "pairwise_preference": PairwisePreference,
    "batch_manifest": BatchManifest,
}
