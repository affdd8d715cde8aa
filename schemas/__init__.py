"""Event models of alphawatch (pydantic v2) and their exported JSON Schema files."""

from schemas.batches import BatchManifest, ClipRating, PairwisePreference
from schemas.events import (
    AnnotationEvent,
    Clip,
    PairClip,
    PairwiseEvent,
    RatingEvent,
    RetractionEvent,
    WatermarkEvent,
    unit_key,
)
from schemas.gold import GoldKeyRow
from schemas.outputs import AgreementRecord, AnnotatorStatus, DeadLetter, Flag

__all__ = [
    "AgreementRecord",
    "AnnotationEvent",
    "AnnotatorStatus",
    "BatchManifest",
    "Clip",
    "ClipRating",
    "DeadLetter",
    "Flag",
    "GoldKeyRow",
    "PairClip",
    "PairwiseEvent",
    "PairwisePreference",
    "RatingEvent",
    "RetractionEvent",
    "WatermarkEvent",
    "unit_key",
]
