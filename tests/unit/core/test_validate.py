"""Validation: every dead-letter reason, and what is deliberately accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas.events import PairwiseEvent, RatingEvent, WatermarkEvent
from stream.core.validate import Invalid, Validator

DIMS = ["motion_quality", "visual_fidelity", "viewer_interest", "text_alignment"]
RATING = {
    "schema_version": 1, "event_id": "7f3c", "kind": "rating", "project_id": "t2v-rlhf-q4",
    "clip_id": "vqa-847291", "annotator_id": "ann-0193", "submitted_at": "2026-11-20T14:03:11Z",
    "scores": {"motion_quality": 4, "visual_fidelity": 3, "viewer_interest": 5, "text_alignment": 4},
    "confidence": "high", "gold_item_id": None,
    "clip": {"source_category": "cinematic", "modality": "t2v", "model_id": "cfg-17",
             "prompt": "A first-person view of ...", "duration_s": 4.2},
}
PAIR = {
    "schema_version": 1, "event_id": "a01b", "kind": "pairwise", "project_id": "t2v-rlhf-q4",
    "pair_id": "pair-55120", "annotator_id": "ann-0193", "submitted_at": "2026-11-20T14:05:40+01:00",
    "preferences": {"motion_quality": "A", "visual_fidelity": "tie", "viewer_interest": "B"},
    "shown_left": "A",
    "clip_a": {"clip_id": "vqa-1", "model_id": "cfg-17", "modality": "t2v", "source_category": "curated",
               "prompt": "..."},
    "clip_b": {"clip_id": "vqa-2", "model_id": "cfg-03", "modality": "t2v", "source_category": "curated",
               "prompt": "..."},
}
validate = Validator(DIMS, 1, 5, 4096)


def _with(**changes: object) -> bytes:
    return orjson.dumps({**RATING, **changes})


def test_examples_from_the_contract_are_valid() -> None:
    assert isinstance(validate(orjson.dumps(RATING)), RatingEvent)
    assert isinstance(validate(orjson.dumps(PAIR)), PairwiseEvent)  # a dimension absent: missing data
    missing = validate(_with(scores={"motion_quality": None, "visual_fidelity": 2}))
    assert isinstance(missing, RatingEvent) and missing.scores["motion_quality"] is None
    mark = validate(b'{"schema_version": 1, "kind": "watermark", "watermark": "2026-11-21T00:00:00Z"}')
    assert isinstance(mark, WatermarkEvent)


def _with_number(literal: str) -> bytes:
    """A rating whose clip duration is a number literal orjson would refuse (or overflows)."""
    raw = _with(clip={**RATING["clip"], "duration_s": 4.25})  # type: ignore[dict-item]
    assert b"4.25" in raw
    return raw.replace(b"4.25", literal.encode())


@pytest.mark.parametrize(("raw", "reason"), [
    (None, "not_json"),
    (b"{not json", "not_json"),
    (b"\xff\xfe{}", "not_utf8"),
    (b"[1, 2]", "not_an_object"),
    (_with(kind="review"), "unknown_kind"),
    (orjson.dumps({k: v for k, v in RATING.items() if k != "kind"}), "unknown_kind"),
    (_with(schema_version=2), "unsupported_schema_version"),
    (orjson.dumps({k: v for k, v in RATING.items() if k != "clip_id"}), "missing_field"),
    (_with(annotator_id=""), "missing_field"),
    (_with(extra=1), "unexpected_field"),
    (_with(submitted_at="2026-11-20T14:03:11"), "naive_timestamp"),
    (_with(scores={"sharpness": 3}), "unknown_dimension"),
    (_with(scores={"motion_quality": 0}), "score_out_of_scale"),
    (_with(scores={"motion_quality": 6}), "score_out_of_scale"),
    (_with(scores={"motion_quality": "4"}), "invalid_field"),
    (_with(scores={"motion_quality": 4.5}), "invalid_field"),
    (_with(clip={**RATING["clip"], "modality": "x2v"}), "invalid_field"),  # type: ignore[dict-item]
    (_with(clip={**RATING["clip"], "prompt": "p" * 5000}), "oversized"),  # type: ignore[dict-item]
    (_with_number("Infinity"), "non_finite_number"),
    (_with_number("-Infinity"), "non_finite_number"),
    (_with_number("NaN"), "non_finite_number"),
    (_with_number("1e400"), "non_finite_number"),
    (_with(schema_version=1.0), "unsupported_schema_version"),
    (_with(schema_version=True), "unsupported_schema_version"),
    (_with(submitted_at="1795132800"), "invalid_timestamp"),
    (_with(submitted_at=1795132800), "invalid_timestamp"),
    (_with(submitted_at="next tuesday"), "invalid_timestamp"),
    (_with(submitted_at="9999-12-31T23:59:59Z"), "timestamp_out_of_range"),
    (_with(submitted_at="1970-01-01T00:00:00Z"), "timestamp_out_of_range"),
    (_with(annotator_id="   "), "invalid_id"),
    (_with(annotator_id="ann\x00193"), "invalid_id"),
    (_with(clip_id="clip\n1"), "invalid_id"),
    (_with(scores={}), "empty_answer"),
    (b'{"schema_version": 1, "kind": "watermark", "watermark": "9999-01-01T00:00:00Z"}',
     "timestamp_out_of_range"),
])
def test_each_reason(raw: bytes | None, reason: str) -> None:
    result = validate(raw)
    assert isinstance(result, Invalid), result
    assert result.reason == reason and result.detail


NOW = 1_795_000_000.0  # the injected clock (November 2026)


@pytest.mark.parametrize(("raw", "ok"), [
    (_with(submitted_at="2099-01-01T00:00:00Z"), False),
    (b'{"schema_version": 1, "kind": "watermark", "watermark": "2099-01-01T00:00:00Z"}', False),
    (_with(submitted_at=datetime.fromtimestamp(NOW + 301, tz=UTC).isoformat()), False),
    (_with(submitted_at=datetime.fromtimestamp(NOW + 300, tz=UTC).isoformat()), True),
    (_with(submitted_at="2020-01-01T00:00:00Z"), True),  # old is fine: late, not invalid
])
def test_times_ahead_of_the_clock_are_refused_in_the_stream(raw: bytes, ok: bool) -> None:
    stream = Validator(DIMS, 1, 5, 4096, max_skew_s=300, clock=lambda: NOW)
    result = stream(raw)
    assert isinstance(result, Invalid) != ok
    if not ok:
        assert isinstance(result, Invalid) and result.reason == "future_timestamp"
        assert "ALPHAWATCH_MAX_CLOCK_SKEW" in result.detail
    assert not isinstance(validate(raw), Invalid)  # the offline tool has no clock
