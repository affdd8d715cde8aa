"""The unit stage's answer read from ingest's JSON equals the one read from the validated model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import PairwiseEvent, RatingEvent, RetractionEvent
from stream.campaign.simulate import Campaign, generate
from stream.core.units import answer_from, read_answer, step
from stream.core.validate import Validator
from stream.settings import Settings

SETTINGS = Settings()
VALIDATE = Validator(SETTINGS.dimensions, SETTINGS.score_min, SETTINGS.score_max, SETTINGS.max_payload_bytes)
EVENTS = [orjson.dumps(e) for e in generate(Campaign(seed=3, n_clips=60, pairwise_share=0.5))]


def _both(raw: bytes) -> tuple[Any, Any]:
    event = VALIDATE(raw)
    assert isinstance(event, RatingEvent | PairwiseEvent | RetractionEvent), event
    dims, low = SETTINGS.dimensions, SETTINGS.score_min
    return read_answer(orjson.loads(raw), dims, low), answer_from(event, dims, low)


def test_campaign_events_read_alike() -> None:
    kinds = set()
    for raw in EVENTS:
        fast, model = _both(raw)
        assert fast == model
        kinds.add(fast.event_kind)
    assert kinds >= {"rating", "pairwise"}


@settings(max_examples=200, deadline=None)
@given(stamp=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(8999, 12, 31)),
       offset_min=st.integers(-14 * 60, 14 * 60), digits=st.sampled_from([0, 3, 6]))
def test_timestamps_in_any_zone_and_precision_read_alike(stamp: datetime, offset_min: int,
                                                         digits: int) -> None:
    sign, minutes = ("+" if offset_min >= 0 else "-"), abs(offset_min)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{stamp.microsecond:06d}"[:digits + 1] if digits else "")
    text += f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    raw = orjson.dumps({**orjson.loads(EVENTS[0]), "submitted_at": text})
    fast, model = _both(raw)
    assert fast.submitted == model.submitted


def test_a_retraction_first_then_a_rating_takes_the_ratings_slices() -> None:
    rating = orjson.loads(next(e for e in EVENTS if b'"kind":"rating"' in e))
    retraction = {k: rating[k] for k in ("schema_version", "event_id", "project_id", "annotator_id",
                                         "submitted_at")}
    retraction |= {"kind": "retraction", "unit_kind": "rating", "unit_id": rating["clip_id"],
                   "event_id": "r-1"}
    dims, low, n = SETTINGS.dimensions, SETTINGS.score_min, {"c": 5, "p": 3}
    first = step(None, read_answer(retraction, dims, low), 0, n)
    assert first.state["s"] == [None, None]
    second = step(first.state, read_answer(rating, dims, low), 0, n)
    assert second.state["s"] == [rating["clip"]["source_category"], rating["clip"]["modality"]]


@pytest.mark.parametrize("kind", ["rating", "pairwise"])
def test_codes_follow_the_dimension_order(kind: str) -> None:
    raw = next(e for e in EVENTS if f'"kind":"{kind}"'.encode() in e)
    fast, _ = _both(raw)
    assert fast.codes is not None and len(fast.codes) == len(SETTINGS.dimensions)
