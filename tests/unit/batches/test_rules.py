"""RLHF batching rules: batch clock, emission and versions, exclusions, accounting, summaries, records."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.batches import ClipRating, PairwisePreference
from stream.batches.records import Answer, RecordContext, build, hash_annotator, pair_agreement, tier
from stream.batches.rules import (
    BatchClock,
    Policy,
    Summary,
    accounting,
    apply_answer,
    eligible,
    emission,
    manifest_fields,
    mark_emitted,
    new_unit,
    record_hash,
)
from stream.core.vocabulary import event_codes as codes_of

DIMS = ["motion_quality", "visual_fidelity"]
START = datetime(2026, 11, 20, 10, tzinfo=UTC)  # a Friday of ISO week 47
POLICY = Policy(BatchClock(7 * 86400, 600), 3600, 600, required=3, min_ratings=2)


def rating(annotator: str, scores: list[int | None], minute: int = 0, event_id: str | None = None,
           gold: str | None = None, confidence: str | None = "high") -> dict[str, Any]:
    return {"kind": "rating", "event_id": event_id or f"{annotator}-{minute}", "annotator_id": annotator,
            "project_id": "p1", "clip_id": "clip-1", "confidence": confidence, "gold_item_id": gold,
            "submitted_at": (START + timedelta(minutes=minute)).isoformat(),
            "scores": dict(zip(DIMS, scores, strict=True)),
            "clip": {"source_category": "cinematic", "modality": "t2v", "model_id": "m1", "prompt": "a cat",
                     "duration_s": 4.0}}


def retraction(annotator: str, minute: int) -> dict[str, Any]:
    return {"kind": "retraction", "event_id": f"r-{annotator}-{minute}", "annotator_id": annotator,
            "project_id": "p1", "submitted_at": (START + timedelta(minutes=minute)).isoformat(),
            "unit_kind": "rating", "unit_id": "clip-1"}


def feed(events: list[tuple[dict[str, Any], str]],
         policy: Policy = POLICY) -> tuple[dict[str, Any], list[int]]:
    """Apply (event, annotator state) pairs; returns the unit and the versions emitted."""
    state = new_unit("c", 0, START.timestamp(), policy)
    versions = []
    for event, status in events:
        codes = None if event["kind"] == "retraction" else codes_of(event, DIMS, 1)
        state, _ = apply_answer(state, event, codes, status, 5)
        version = emission(state, policy)
        if version is not None:
            versions.append(version)
            state = mark_emitted(state, version, policy)
    return state, versions


def test_weekly_batches_are_iso_weeks() -> None:
    clock = POLICY.clock
    start = clock.start_of(START.timestamp())
    assert datetime.fromtimestamp(start, tz=UTC) == datetime(2026, 11, 16, tzinfo=UTC)  # Monday
    assert clock.batch_id(start) == "2026-W47"
    assert clock.closes_at(start) == start + 7 * 86400 + 600
    assert clock.start_of(datetime(2026, 11, 22, 23, 59, tzinfo=UTC).timestamp()) == start  # Sunday
    assert clock.batch_id(clock.start_of(datetime(2026, 11, 23, tzinfo=UTC).timestamp())) == "2026-W48"
    hourly = BatchClock(3600, 0, "1h")
    assert hourly.batch_id(hourly.start_of(START.timestamp())) == "2026-11-20T10:00Z+1h"


def test_emitted_at_the_required_qualified_ratings_and_versioned_after() -> None:
    state, versions = feed([(rating("a", [4, 3]), "qualified"), (rating("b", [4, 4], 1), "qualified"),
                            (rating("q", [1, 1], 2), "qualifying"), (rating("c", [5, 3], 3), "qualified")])
    assert versions == [1]  # the qualifying rater does not count towards the three
    state, more = feed([(rating("a", [4, 3]), "qualified"), (rating("b", [4, 4], 1), "qualified"),
                        (rating("c", [5, 3], 3), "qualified"), (rating("d", [2, 2], 4), "qualified"),
                        (rating("r", [1, 1], 5), "retraining")])
    assert more == [1, 2]  # d's late rating makes a second version; r's changes nothing
    included, left_out = accounting(state, POLICY)
    assert (included, left_out) == (4, Counter({"annotator_retraining": 1}))


def test_window_close_emits_with_the_minimum_or_excludes() -> None:
    two, versions = feed([(rating("a", [4, 3]), "qualified"), (rating("b", [4, 4], 1), "qualified")])
    assert versions == [] and emission({**two, "c": True}, POLICY) == 1
    one, _ = feed([(rating("a", [4, 3]), "qualified"), (rating("q", [4, 4], 1), "qualifying")])
    closed = {**one, "c": True}
    assert emission(closed, POLICY) is None
    assert accounting(closed, POLICY) == (0, Counter({"below_min_raters": 1, "annotator_qualifying": 1}))


def test_gold_items_are_left_out_unless_included_by_setting() -> None:
    events = [(rating(a, [3, 3], i, gold="g-1"), "qualified") for i, a in enumerate("abc")]
    state, versions = feed(events)
    assert versions == [] and accounting(state, POLICY) == (0, Counter({"gold_item": 3}))
    with_gold = Policy(POLICY.clock, 3600, 600, include_gold=True)
    assert feed(events, with_gold)[1] == [1]


def test_duplicates_revisions_and_retractions_are_counted() -> None:
    state, versions = feed([
        (rating("a", [4, 3], 0), "qualified"), (rating("a", [4, 3], 0), "qualified"),  # replayed
        (rating("b", [2, 2], 1), "qualified"), (rating("b", [3, 2], 2), "qualified"),  # b revises
        (rating("c", [5, 5], 3), "qualified"), (retraction("c", 4), ""),  # c withdraws
        (rating("b", [1, 1], 1, event_id="b-old"), "qualified"),  # older than b's kept answer
    ])
    assert versions == [1, 2]  # three eligible, then c's retraction changes the record
    assert accounting(state, POLICY) == (2, Counter({"duplicate": 1, "superseded": 2, "retracted": 1}))
    # repeats of the replaced, the withdrawn and the stale answers are duplicates, not counted again
    for event, status in ((rating("b", [2, 2], 1), "qualified"), (rating("c", [5, 5], 3), "qualified"),
                          (rating("b", [1, 1], 1, event_id="b-old"), "qualified")):
        state, outcome = apply_answer(state, event, codes_of(event, DIMS, 1), status, 5)
        assert outcome == "duplicate"
    assert accounting(state, POLICY) == (2, Counter({"duplicate": 4, "superseded": 2, "retracted": 1}))


ANNOTATORS = ["a", "b", "c", "d"]
STATES = ["qualified", "qualified", "qualifying", "retraining"]
event_strategy = st.tuples(st.sampled_from(range(4)), st.sampled_from(ANNOTATORS),
                           st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=2, max_size=2),
                           st.integers(0, 30), st.sampled_from(STATES), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(event_strategy, max_size=25), st.lists(st.integers(0, 24), max_size=8), st.booleans())
def test_every_answer_is_included_once_or_excluded_once(ops: list[Any], replays: list[int],
                                                        close: bool) -> None:
    """Accounting identity: answers received = in the latest record + left out by reason, and
    every repeat of an earlier answer (redelivery, in any order) is a duplicate."""
    events: list[tuple[dict[str, Any], str]] = []
    for i, (op, annotator, scores, minute, status, repeat) in enumerate(ops):
        if op == 0:
            events.append((retraction(annotator, minute), ""))
            continue
        event = rating(annotator, scores, minute, event_id=f"e{i}", gold="g" if op == 3 else None)
        events += [(event, status)] * (2 if repeat else 1)
    answers = [e for e in events if e[0]["kind"] == "rating"]
    repeats = [answers[k] for k in replays if k < len(answers)]
    state, versions = feed(events + repeats)
    if close:
        state = {**state, "c": True}
        if (version := emission(state, POLICY)) is not None:
            state = mark_emitted(state, version, POLICY)
    included, left_out = accounting(state, POLICY)
    distinct = len({e["event_id"] for e, _ in answers})
    assert included + sum(left_out.values()) == len(answers) + len(repeats)
    assert included + sum(left_out.values()) - left_out["duplicate"] == distinct
    assert versions == list(range(1, len(versions) + 1))
    assert included == (len(eligible(state, POLICY)) if state["v"] else 0)


def _context(kind: str, alpha: float | None = 0.8) -> RecordContext:
    return RecordContext("cr-x", 1, "2026-W47", START.timestamp(), 3600, DIMS, 1, 1, 3, lambda d: alpha)


def test_clip_record_consensus_and_tier() -> None:
    state, _ = feed([(rating(a, s, i), "qualified") for i, (a, s) in
                     enumerate([("a", [4, 2]), ("b", [5, 2]), ("c", [4, None])])])
    answers = [Answer(hash_annotator(b"salt", a), state["a"][a][2], "high", None)
               for a in eligible(state, POLICY)]
    record = build(state, answers, _context("c"), START.timestamp())
    assert isinstance(record, ClipRating)
    motion = record.dimensions["motion_quality"]
    assert (motion.consensus_median, motion.consensus_mean, motion.n_ratings) == (4.0, 13 / 3, 3)
    assert motion.unit_agreement == 1.0 and motion.confidence_tier == "high"
    fidelity = record.dimensions["visual_fidelity"]
    assert fidelity.n_ratings == 2 and fidelity.confidence_tier == "medium"  # under the required three
    assert record.clip.prompt == "a cat" and record.batch_id == "2026-W47"
    assert motion.ratings[0].annotator == hash_annotator(b"salt", "a") != hash_annotator(b"pepper", "a")


def test_tier_rule() -> None:
    assert tier(3, 1.0, ["high"] * 3, 3) == "high"
    assert tier(3, 2 / 3, ["high", None, "medium"], 3) == "high"
    assert tier(2, 1.0, ["high"] * 2, 3) == "medium"  # under the required raters
    assert tier(3, 1 / 3, ["high"] * 3, 3) == "low"  # raters disagree
    assert tier(3, 1.0, ["low", "high", "high"], 3) == "medium"  # one unsure
    assert tier(3, 1.0, ["low", "low", "high"], 3) == "low"  # most unsure
    assert pair_agreement([1, 2, 5], 1) == pytest.approx(1 / 3) and pair_agreement([3], 1) is None


def test_pairwise_record_votes() -> None:
    meta = {"project_id": "p1", "pair_id": "pair-1", "prompt": "a dog",
            "clip_a": {"clip_id": "x", "model_id": "m1", "modality": "t2v", "source_category": "street"},
            "clip_b": {"clip_id": "y", "model_id": "m2", "modality": "t2v", "source_category": "street"}}
    state = {**new_unit("p", 0, START.timestamp(), POLICY), "m": meta}
    answers = [Answer("h1", [0, 2], "high", "A"), Answer("h2", [0, 1], None, "B"),
               Answer("h3", [2, 1], "high", "B")]
    record = build(state, answers, _context("p"), START.timestamp())
    assert isinstance(record, PairwisePreference)
    motion = record.dimensions["motion_quality"]
    assert (motion.votes_a, motion.votes_b, motion.ties, motion.winner) == (2, 0, 1, "A")
    assert motion.p_a == pytest.approx(2.5 / 3) and motion.agreement == pytest.approx(1 / 3)
    assert record.dimensions["visual_fidelity"].winner == "B" and record.shown_left == "B"
    assert record.votes[0].preferences == {"motion_quality": "A", "visual_fidelity": "tie"}


def test_summaries_add_up_and_alpha_matches_krippendorff() -> None:
    rng = np.random.default_rng(3)
    parts = [Summary.empty(), Summary.empty()]
    data = []  # reliability data: one column per unit, one row per rater slot
    for unit in range(40):
        truth = rng.integers(1, 6)
        scores = [int(np.clip(truth + rng.integers(-1, 2), 1, 5)) for _ in range(3)]
        state, _ = feed([(rating(a, [s, None], i), "qualified")
                         for i, (a, s) in enumerate(zip("abc", scores, strict=True))])
        parts[unit % 2].add_unit(state, POLICY, "clip_rating.v1", f"r{unit}", DIMS, 5)
        data.append(scores)
    total = parts[0] + parts[1]
    assert total.records["clip_rating.v1"] == 40 and total.included == 120
    assert total.checksum == np.bitwise_xor.reduce([record_hash(f"r{u}", 1) for u in range(40)], dtype=object)
    again = Summary.from_state(total.to_state())
    fields = manifest_fields(again, {"motion_quality": ([1, 2, 3, 4, 5], "ordinal")})
    expected = krippendorff.alpha(np.array(data, dtype=float).T, level_of_measurement="ordinal")
    assert fields["alpha"]["motion_quality"]["alpha"] == pytest.approx(expected, abs=1e-9)
    assert fields["answers_received"] == 120 and fields["exclusions"] == {}
