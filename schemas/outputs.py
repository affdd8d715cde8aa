"""Output event models: agreement windows, flags, annotator status, dead letters (batches: batches.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

LevelName = Literal["nominal", "ordinal", "interval", "ratio"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadLetter(_Out):
    """An input message that failed validation, kept with its reason and origin (topic annotations-dlq)."""

    schema_version: Literal[1] = 1
    reason: str = Field(description="machine-readable reason, e.g. not_json, score_out_of_scale")
    detail: str = Field(description="human-readable explanation, first validation error")
    source_topic: str
    source_partition: int
    source_offset: int
    source_index: int | None = Field(None, description="position in the record's JSON array (arrays only)")
    source_key_b64: str | None = None
    payload_b64: str = Field(description="original bytes, base64; truncated when payload_truncated")
    payload_size: int
    payload_sha256: str
    payload_truncated: bool = False
    received_at: AwareDatetime


class AgreementRecord(_Out):
    """Krippendorff's alpha of one dimension, slice and event-time window (topic agreement)."""

    schema_version: Literal[1] = 1
    dimension: str
    slice: str = Field(description="'all', 'source_category=<v>' or 'modality=<v>'")
    window_size_s: int
    window_start: AwareDatetime
    window_end: AwareDatetime
    level: LevelName
    alpha: float | None
    alpha_reason: str | None = Field(None, description="why alpha is undefined, when it is")
    ci_low: float | None = None
    ci_high: float | None = None
    p_below_threshold: float | None = None
    p_below_recovery: float | None = Field(
        None, description="P(alpha < threshold + recovery margin), for clearing a flag")
    threshold: float
    n_units: int
    n_pairable_units: int
    n_pairable_values: float
    rarest_share: float | None = Field(
        None, description="share of the pairable values taken by the rarest value that occurs "
        "(Krippendorff's minimum sample for a flag grows as it shrinks)")
    n_annotators: int
    late: int = Field(0, description="ratings that arrived after this window's final and were not applied")
    last_event_at: AwareDatetime | None = Field(
        None, description="producer timestamp of the newest answer in this record")
    final: bool
    partitions_reporting: int
    computed_at: AwareDatetime


class Flag(_Out):
    """A raised or cleared agreement flag (topic qa-flags)."""

    schema_version: Literal[1] = 1
    flag_id: str
    kind: Literal["agreement_low", "agreement_recovered"]
    opened_flag_id: str | None = Field(None, description="on agreement_recovered: the flag it clears")
    reason: str
    dimension: str
    slice: str
    window_size_s: int
    window_start: AwareDatetime
    window_end: AwareDatetime
    alpha: float | None
    ci_low: float | None
    ci_high: float | None
    p_below_threshold: float | None
    required_confidence: float | None = Field(
        None, description="on agreement_low: the confidence its look required (a window's looks share "
        "the error budget 1 - flag_confidence)")
    threshold: float
    n_pairable_values: float
    final: bool
    top_annotators: list[dict[str, float | str]] = Field(default_factory=list)
    confused_values: list[dict[str, float | str]] = Field(default_factory=list)
    tipping_event_at: AwareDatetime | None = Field(
        None, description="producer timestamp of the newest answer in the record that tipped the flag")
    raised_at: AwareDatetime


class AnnotatorStatus(_Out):
    """An annotator's qualification state transition (topic annotator-status)."""

    schema_version: Literal[1] = 1
    annotator_id: str
    state: Literal["qualifying", "qualified", "retraining"]
    previous_state: Literal["qualifying", "qualified", "retraining"] | None
    reason: str
    gold_agreement: dict[str, float | None]
    gold_counts: dict[str, int]
    peer_agreement: dict[str, float | None] = Field(
        default_factory=dict, description="per dimension: share of recent pairs with the other raters "
        "of the same (non-gold) units that agree within the gold tolerance")
    peer_pairs: dict[str, float] = Field(default_factory=dict, description="pairs behind peer_agreement "
                                         "(exponentially weighted)")
    tasks: int = Field(0, description="annotations seen from this annotator (gold included)")
    gold_tasks: int = Field(0, description="of which answered gold items")
    gold_rate: float | None = Field(None, description="gold_tasks / tasks")
    gold_rate_note: str | None = Field(
        None, description="set when the gold rate is far from the target: too few gold items to judge, "
        "or too many")
    event_at: AwareDatetime | None = Field(
        None, description="submitted_at of the gold answer that caused the transition (null for a new "
        "annotator or a gold key change)")
    changed_at: AwareDatetime


OUTPUT_MODELS: dict[str, type[BaseModel]] = {
    "dead_letter": DeadLetter,
    "agreement_record": AgreementRecord,
    "flag": Flag,
    "annotator_status": AnnotatorStatus,
}
