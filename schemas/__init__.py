"""Event models of alphawatch (pydantic v2) and their exported JSON Schema files."""

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
from schemas.outputs import AgreementRecord, AnnotatorStatus, BatchRecord, DeadLetter, Flag

__all__ = [
    "AgreementRecord",
    "AnnotationEvent",
    "AnnotatorStatus",
    "BatchRecord",
    "Clip",
    "DeadLetter",
    "Flag",
    "GoldKeyRow",
    "PairClip",
    "PairwiseEvent",
    "RatingEvent",
    "RetractionEvent",
    "WatermarkEvent",
    "unit_key",
]
