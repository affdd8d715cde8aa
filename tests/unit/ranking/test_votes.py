"""Vote bookkeeping: counting, duplicates and replays, compact state, qualification, position bias."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest

from schemas.rankings import LeaderboardRecord
from stream.campaign.tournament import Tournament, draw, random_events
from stream.ranking.leaderboard import RankConfig, anchor_for, position_bias, refit, wilson
from stream.ranking.votes import OVERALL, Tally, VoteBook, overall_vote

DIMS = ("motion_quality", "visual_fidelity")


def vote(annotator: str, a: str, b: str, prefs: list[str | None], left: str = "A", pair: str = "p1",
         **extra: Any) -> dict[str, Any]:
    def clip(model: str) -> dict[str, Any]:
        return {"clip_id": f"c-{model}", "model_id": model, "modality": "t2v", "source_category": "curated",
                "prompt": "a cat"}

    return {"kind": "pairwise", "pair_id": pair, "annotator_id": annotator, "shown_left": left,
            "preferences": dict(zip(DIMS, prefs, strict=True)), "gold_item_id": None,
            "clip_a": clip(a), "clip_b": clip(b), **extra}


def test_counts_by_lower_model_id_and_overall_majority() -> None:
    book = VoteBook(DIMS)
    assert book.add(vote("x", "m2", "m1", ["A", "tie"]), 0) == "counted"  # clip A is m2, the higher id
    assert book.counts("x", "t2v", "motion_quality", "m1", "m2") == [0, 1, 0]
    assert book.counts("x", "t2v", "visual_fidelity", "m1", "m2") == [0, 0, 1]
    assert book.counts("x", "t2v", OVERALL, "m1", "m2") == [0, 1, 0]  # A beats tie
    assert book.left[("x", "t2v")] == [1, 1, 0, 0, 1, 1]  # shown left: A, which won; the tie is not decisive
    assert overall_vote(["A", "B"]) == "tie" and overall_vote([None, None]) is None
    assert overall_vote(["B", None]) == "B"


def test_duplicates_replays_gold_and_self_pairs_are_not_counted() -> None:
    book = VoteBook(DIMS)
    assert book.add(vote("x", "m1", "m2", ["A", "A"]), 5) == "counted"
    assert book.add(vote("x", "m1", "m2", ["B", "B"]), 6) == "duplicate"  # same annotator and pair
    assert book.add(vote("y", "m1", "m2", ["A", "A"]), 5) == "replayed"  # offset already counted
    assert book.add(vote("y", "m1", "m2", ["A", "A"], gold_item_id="g1"), 7) == "skipped"
    assert book.add(vote("y", "m1", "m1", ["A", "A"], pair="p2"), 8) == "skipped"
    assert book.add({"kind": "rating"}, 9) == "skipped"
    assert book.counts("x", "t2v", "motion_quality", "m1", "m2") == [1, 0, 0]
    assert list(book.cells) == [("x", "t2v", "m1", "m2")]


def test_state_round_trip_is_compact_json() -> None:
    events = random_events(draw(Tournament(n_voters=10)), 300)
    book = VoteBook(("motion_quality", "visual_fidelity", "viewer_interest", "text_alignment"))
    for offset, event in enumerate(events):
        book.add(event, offset)
    state = orjson.loads(orjson.dumps(book.to_state()))
    again = VoteBook.from_state(book.dimensions, state)
    assert again.cells == book.cells and again.left == book.left and again.compared == book.compared
    assert again.prompts == book.prompts and again.offset == len(events) - 1
    assert again.add(events[10], 10) == "replayed"
    assert len(orjson.dumps(state)) < sum(len(orjson.dumps(e)) for e in events) / 10


def test_qualification_filters_at_fit_time() -> None:
    book = VoteBook(DIMS)
    book.add(vote("good", "m1", "m2", ["A", "A"]), 0)
    book.add(vote("bad", "m1", "m2", ["B", "B"], pair="p2"), 1)
    tally = Tally([book])
    everyone = tally.pairs("t2v", "motion_quality", None)
    assert everyone.rows == [(0, 1, 1.0, 1.0, 0.0)] and everyone.excluded == 0
    only = tally.pairs("t2v", "motion_quality", {"good"})
    assert only.rows == [(0, 1, 1.0, 0.0, 0.0)] and only.excluded == 1 and only.annotators == 1
    # a later status change applies at the next fit, from the same counts
    assert tally.pairs("t2v", "motion_quality", {"bad"}).rows == [(0, 1, 0.0, 1.0, 0.0)]


def test_tally_sums_partitions() -> None:
    one, two = VoteBook(DIMS), VoteBook(DIMS)
    one.add(vote("x", "m1", "m2", ["A", "A"]), 0)
    two.add(vote("x", "m1", "m2", ["A", "tie"], pair="p9"), 0)
    tally = Tally([one, two])
    assert tally.cells[("x", "t2v", "m1", "m2")] == [2, 0, 0, 1, 0, 1, 2, 0, 0]
    assert tally.pairs("t2v", OVERALL, None).rows == [(0, 1, 2.0, 0.0, 0.0)]


def test_position_bias_counts_decisive_votes_for_the_left_clip() -> None:
    book = VoteBook(DIMS)
    for k in range(30):  # "lefty" picks the left clip 24 times of 30, "fair" 15 of 30
        left = "A" if k % 2 else "B"
        book.add(vote("lefty", "m1", "m2", [left if k < 24 else ("B" if left == "A" else "A"), "tie"],
                      left=left, pair=f"l{k}"), 2 * k)
        book.add(vote("fair", "m1", "m2", ["A", "tie"], left=left, pair=f"f{k}"), 2 * k + 1)
    tally = Tally([book])
    assert tally.position("t2v", "motion_quality") == {"lefty": (24, 30), "fair": (15, 30)}
    assert tally.position("t2v", "visual_fidelity") == {}  # ties are not decisive
    overall, people = position_bias(tally, "t2v", "motion_quality", {"fair"})
    assert overall.left_share == 0.5 and overall.decisive_votes == 30
    assert overall.ci_low is not None and overall.ci_low < 0.5 < (overall.ci_high or 0)
    assert [(p.annotator_id, p.left_share, p.qualified) for p in people] == [
        ("lefty", 0.8, False), ("fair", 0.5, True)]
    low, high = wilson(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.2 < high < 0.35


def test_anchor_is_configured_else_most_compared() -> None:
    book = VoteBook(DIMS)
    book.add(vote("x", "m1", "m2", ["A", "A"]), 0)
    book.add(vote("x", "m2", "m3", ["A", "A"], pair="p2"), 1)
    counts = Tally([book]).pairs("t2v", OVERALL, None)
    assert anchor_for(counts, "m3") == (2, "configured")
    assert anchor_for(counts, None) == (1, "most compared")
    assert anchor_for(counts, "m9")[0] == 1


def test_refit_records_validate_and_order_by_strength() -> None:
    field = draw(Tournament(n_models=6, n_voters=20, noisy_share=0.0))
    book = VoteBook(("motion_quality", "visual_fidelity", "viewer_interest", "text_alignment"))
    for offset, event in enumerate(random_events(field, 3000)):
        book.add(event, offset)
    cfg = RankConfig((*book.dimensions, OVERALL), {"t2v": "cfg-00"}, 1000.0, 0.01, 50, 0.2, True)
    boards = refit(Tally([book]), field.qualified, cfg, np.random.default_rng(0), datetime.now(UTC))
    assert len(boards) == 3 * 5
    t2v = next(b.record for b in boards
               if b.record.modality == "t2v" and b.record.dimension == "motion_quality")
    LeaderboardRecord.model_validate_json(t2v.model_dump_json())
    assert t2v.anchor == "cfg-00" and t2v.anchor_reason == "configured"
    assert next(s for s in t2v.models if s.model_id == "cfg-00").score == 1000.0
    truth = {f"cfg-{k:02d}": field.theta[k, 0] for k in (0, 3)}
    best = max(truth, key=truth.__getitem__)
    assert t2v.models[0].model_id == best and t2v.models[0].rank == 1
    assert t2v.votes == sum(s.votes for s in t2v.models) // 2


def test_compared_pairs_are_kept_for_remembered_prompts_only(monkeypatch: Any) -> None:
    from stream.ranking import votes
    monkeypatch.setattr(votes, "MAX_PROMPTS", 3)
    book = VoteBook(DIMS)
    for k in range(50):
        event = vote(f"x{k}", "m1", "m2", ["A", "A"], pair=f"p{k}")
        event["clip_a"]["prompt"] = event["clip_b"]["prompt"] = f"prompt {k}"
        assert book.add(event, k) == "counted"
    assert len(book.prompts["t2v"]) == 3 and len(book.compared) == 3
    assert {votes.pair_key("t2v", pid, "m1", "m2") for pid in book.prompts["t2v"]} == book.compared
    assert sum(book.counts(f"x{k}", "t2v", "motion_quality", "m1", "m2")[0] for k in range(50)) == 50
