"""Shared pieces of the Label Studio bridge tests: the shipped mapping and Label Studio-shaped payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stream.bridge.labelstudio import convert
from stream.bridge.labelstudio.mapping import Mapping, load
from stream.settings import DEFAULT_DIMENSIONS

SHIPPED = Path(__file__).resolve().parents[3] / "deploy" / "label-studio" / "mapping.toml"


@pytest.fixture
def mapping() -> Mapping:
    return load(SHIPPED, DEFAULT_DIMENSIONS, 1, 5)


@pytest.fixture
def check() -> convert.Check:
    return convert.checker(DEFAULT_DIMENSIONS, 1, 5, 1_048_576)


def clip_data(**extra: Any) -> dict[str, Any]:
    return {"clip_id": "vqa-1", "model_id": "cfg-03", "modality": "t2v", "source_category": "street",
            "prompt": "a dog on a skateboard", "video_url": "https://example.com/1.mp4", **extra}


def pair_data(**extra: Any) -> dict[str, Any]:
    return {"pair_id": "pair-9", "clip_a_id": "vqa-1", "clip_b_id": "vqa-2", "clip_a_model_id": "cfg-03",
            "clip_b_model_id": "cfg-07", "modality": "i2v", "source_category": "curated",
            "prompt": "a kite", **extra}


def rating(name: str, stars: int) -> dict[str, Any]:
    return {"from_name": name, "to_name": "video", "type": "rating", "value": {"rating": stars}}


def choice(name: str, label: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "clip_a", "type": "choices", "value": {"choices": [label]}}


def annotation(annotation_id: int, results: list[dict[str, Any]], user: int = 7,
               updated: str = "2026-11-20T14:03:11.123456Z", **extra: Any) -> dict[str, Any]:
    """As Label Studio 1.23 serializes an annotation in webhooks and exports."""
    return {"id": annotation_id, "result": results, "completed_by": user, "was_cancelled": False,
            "ground_truth": False, "created_at": "2026-11-20T14:00:00.000001Z", "updated_at": updated,
            "task": 3, "project": 1, **extra}
