"""Gold agreement windows, tolerance, the qualification state machine, peers and gold rate (pure)."""

from __future__ import annotations

import orjson
import pytest

from stream.qualification.annotator import Annotator, Config
from stream.qualification.peers import AnnotatorCounts, UnitCache
from stream.qualification.rules import (
    Agreement,
    GoldAnswers,
    GoldRate,
    KeyRow,
    PeerAgreement,
    Qualification,
    encode,
)

DIMS = ("motion_quality", "visual_fidelity")


def row(kind: str, answers: dict[str, object], tolerance: dict[str, int] | None = None) -> KeyRow:
    return KeyRow.of({"kind": kind, "answers": answers, "tolerance": tolerance or {}}, DIMS, 1, 0)


def test_rating_tolerance_defaults_to_one_and_is_overridden_per_dimension() -> None:
    key = row("rating", {"motion_quality": 3, "visual_fidelity": 3}, {"visual_fidelity": 0})
    assert key.agrees(0, 4) and key.agrees(0, 2) and not key.agrees(0, 5)
    assert key.agrees(1, 3) and not key.agrees(1, 4)


def test_pairwise_tolerance_zero_by_default_and_one_lets_a_tie_match_either_side() -> None:
    strict = row("pairwise", {"motion_quality": "A"})
    assert strict.agrees(0, encode("p", {"motion_quality": "A"}, DIMS)[0] or 0)
    assert not strict.agrees(0, 0)  # tie vs A
    loose = row("pairwise", {"motion_quality": "tie"}, {"motion_quality": 1})
    a, b = encode("p", {"motion_quality": "A"}, DIMS)[0], encode("p", {"motion_quality": "B"}, DIMS)[0]
    assert a is not None and b is not None and loose.agrees(0, a) and loose.agrees(0, b)
    assert not row("pairwise", {"motion_quality": "A"}, {"motion_quality": 1}).agrees(0, b)


def test_null_answers_are_not_counted() -> None:
    key = {"g1": row("rating", {"motion_quality": 3, "visual_fidelity": None}),
           "g2": row("rating", {"motion_quality": 3, "visual_fidelity": 3})}
    answers = GoldAnswers(k=50, n_dims=2)
    answers.update(1.0, "g1", "c", (3, 5))  # key has no visual_fidelity answer: not scored
    answers.update(2.0, "g2", "c", (None, 3))  # annotator left motion_quality empty
    assert answers.get(0, key) == Agreement(1.0, 1)
    assert answers.get(1, key) == Agreement(1.0, 1)
    empty = GoldAnswers(k=50, n_dims=2)
    assert empty.get(0, key).value is None and empty.get(0, key).reason


def test_window_keeps_the_last_k_answers_per_dimension_in_event_time_order() -> None:
    key = {f"g{i}": row("rating", {"motion_quality": 3, "visual_fidelity": 3}) for i in range(10)}
    answers = GoldAnswers(k=3, n_dims=2)
    for i in range(6):  # motion answered wrong in the first three, right in the last three
        answers.update(float(i), f"g{i}", "c", (5 if i < 3 else 3, None if i >= 2 else 3))
    assert answers.get(0, key) == Agreement(1.0, 3)
    # visual_fidelity's two answers are older than motion's window but still its last K
    assert answers.get(1, key) == Agreement(1.0, 2)
    answers.update(2.5, "g9", "c", (5, None))  # a late (resolved) answer lands in its place, too old to count
    assert answers.get(0, key) == Agreement(1.0, 3)
    assert len(answers.entries) == 5  # g0, g1 (visual) + g3..g5 (motion)


def test_key_updates_and_deletions_rescore_kept_answers() -> None:
    answers = GoldAnswers(k=50, n_dims=2)
    answers.update(1.0, "g1", "c", (1, None))
    answers.update(2.0, "g2", "c", (3, None))
    key = {"g1": row("rating", {"motion_quality": 4}), "g2": row("rating", {"motion_quality": 3})}
    assert answers.get(0, key) == Agreement(0.5, 2)
    key["g1"] = row("rating", {"motion_quality": 2})  # the expert corrects the key
    assert answers.get(0, key) == Agreement(1.0, 2)
    del key["g2"]  # withdrawn item: its answers no longer count
    assert answers.get(0, key) == Agreement(1.0, 1)


def test_answers_round_trip_through_state() -> None:
    answers = GoldAnswers(k=5, n_dims=2)
    answers.update(1.0, "g1", "p", (-1, 0))
    copy = GoldAnswers.from_state(5, 2, orjson.loads(orjson.dumps(answers.to_state())))
    assert copy.entries == answers.entries


def test_a_dimension_pools_rating_and_pairwise_gold_answers() -> None:
    key = {"r": row("rating", {"motion_quality": 3}), "p": row("pairwise", {"motion_quality": "A"})}
    answers = GoldAnswers(k=50, n_dims=2)
    answers.update(1.0, "r", "c", (5, None))  # off by 2
    answers.update(2.0, "p", "p", (-1, None))  # A, as the expert
    assert answers.get(0, key) == Agreement(0.5, 2)
    key["p"] = row("rating", {"motion_quality": 1})  # the item changed kind: its answer no longer fits
    assert answers.get(0, key) == Agreement(0.0, 1)


def ok(value: float, n: int) -> Agreement:
    return Agreement(value, n)


def test_every_transition() -> None:
    q = Qualification(threshold=0.85, min_answers=20)
    first = q.update({})
    assert first is not None and (first.previous, first.state) == (None, "qualifying")
    assert q.update({"m": ok(1.0, 19)}) is None  # too few answers
    assert q.update({"m": ok(1.0, 20), "v": ok(0.84, 20)}) is None  # one dimension below
    assert q.update({"m": ok(1.0, 20), "v": ok(1.0, 5)}) is None  # one dimension too short
    up = q.update({"m": ok(0.85, 20), "v": ok(0.9, 25)})
    assert up is not None and (up.previous, up.state) == ("qualifying", "qualified")
    assert "m 0.85 over 20" in up.reason
    assert q.update({"m": ok(0.9, 50), "v": ok(0.5, 3)}) is None  # below, but under N: no decision
    down = q.update({"m": ok(0.84, 50), "v": ok(0.9, 50)})
    assert down is not None and (down.previous, down.state) == ("qualified", "retraining")
    assert down.reason.endswith("on m 0.84 over 50")  # only the failing dimension
    assert q.update({"m": ok(0.8, 50)}) is None
    back = q.update({"m": ok(0.86, 50), "v": ok(0.9, 50)})
    assert back is not None and (back.previous, back.state) == ("retraining", "qualified")
    assert Qualification.from_state(0.85, 20, q.to_state()).get() == "qualified"


def test_no_gold_at_all_never_qualifies() -> None:
    q = Qualification(0.85, 20, "qualifying")
    assert q.update({"m": Agreement(None, 0, "none")}) is None
    assert "no scored gold" in q.explain({})


def test_peer_agreement_follows_recent_pairs() -> None:
    peer = PeerAgreement(window=10)
    peer.update("m", 10, 10)
    assert peer.get("m").value == pytest.approx(1.0)
    for _ in range(50):
        peer.update("m", 0, 1)
    assert peer.get("m").value is not None and peer.get("m").value < 0.01  # type: ignore[operator]
    assert peer.get("v").value is None
    assert PeerAgreement.from_state(10, peer.to_state()).get("m").n == pytest.approx(peer.get("m").n, 1e-4)


def test_unit_cache_pairs_each_rater_once_and_stays_bounded() -> None:
    cache = UnitCache(capacity=2, tolerance={"c": 1, "p": 0})
    assert cache.add("c:1", "c", "a", (3, 3)) == []
    assert cache.add("c:1", "c", "b", (4, 1)) == [("b", "a", 0, True), ("b", "a", 1, False)]
    assert cache.add("c:1", "c", "b", (3, 3)) == []  # revision or replay: no second count
    pairs = cache.add("c:1", "c", "c", (None, 3))
    assert sorted(pairs) == [("c", "a", 1, True), ("c", "b", 1, True)]
    cache.add("c:2", "c", "a", (1, 1))
    cache.add("c:3", "c", "a", (1, 1))
    assert list(cache.units) == ["c:2", "c:3"]
    counts = AnnotatorCounts()
    counts.task("a", gold=False)
    counts.task("a", gold=True)
    counts.pairs([("b", "a", 0, True), ("b", "a", 1, False)], ["m", "v"])
    taken = {m["a"]: m for m in counts.take()}
    assert taken["a"]["n"] == 2 and taken["a"]["ng"] == 1
    assert taken["a"]["peer"] == {"m": [1, 1], "v": [0, 1]} == taken["b"]["peer"]
    assert counts.take() == []


def test_gold_rate_note_only_when_far_off_with_enough_tasks() -> None:
    rate = GoldRate()
    rate.update(100, 0)
    assert rate.note(0.05, 20) is None  # 100 tasks would give 5 gold items: too early to say
    rate.update(300, 4)
    assert rate.get() == pytest.approx(0.01)
    note = rate.note(0.05, 20)
    assert note is not None and "far below" in note
    assert GoldRate(400, 20).note(0.05, 20) is None
    high = GoldRate(400, 50).note(0.05, 20)
    assert high is not None and "far above" in high
    assert GoldRate().get() is None


CFG = Config(dimensions=DIMS, window=10, min_answers=4, threshold=0.75, pending_max=2, peer_window=100,
             rate_target=0.05)


def gold_key(n: int) -> dict[str, KeyRow]:
    return {f"g{i}": row("rating", {"motion_quality": 3, "visual_fidelity": 3}) for i in range(n)}


def test_annotator_qualifies_then_drifts_to_retraining() -> None:
    key = gold_key(40)
    ann = Annotator(CFG, "ann-1", 0)
    seen = []
    for i in range(14):
        score = 3 if i < 6 else 5  # drifts (+2) from the seventh gold answer on
        assert ann.add_gold(f"e{i}", float(i), f"g{i}", "c", (score, 3), key).outcome == "scored"
        seen += [(i, t.previous, t.state) for t in ann.evaluate(key, now=100.0 + i, event_at=float(i))]
    assert seen[:2] == [(0, None, "qualifying"), (3, "qualifying", "qualified")]
    # window 10: 6 right + 3 wrong = 0.67 < 0.75 at the ninth answer, the third after the drift
    assert seen[2] == (8, "qualified", "retraining")
    assert ann.event_at == 8.0 and "motion_quality" in ann.reason
    copy = Annotator.from_state(CFG, "ann-1", orjson.loads(orjson.dumps(ann.to_state())))
    assert copy.to_state() == ann.to_state()


def test_unknown_keys_wait_bounded_and_resolve_when_the_key_arrives() -> None:
    key: dict[str, KeyRow] = {}
    ann = Annotator(CFG, "ann-2", 0)
    assert ann.add_gold("e1", 1.0, "g1", "c", (3, 3), key).outcome == "waiting"
    assert ann.add_gold("e1", 1.0, "g1", "c", (3, 3), key).outcome == "duplicate"
    ann.add_gold("e2", 2.0, "g2", "c", (3, 3), key)
    result = ann.add_gold("e3", 0.5, "g3", "c", (3, 3), key)  # the oldest waiting answer is dropped
    assert result.outcome == "waiting" and result.dropped == ["g3"]
    assert ann.references() == {"g1", "g2"}
    key["g2"] = gold_key(3)["g2"]
    assert ann.resolve(key) == [("g2", "scored")]
    assert [p[1] for p in ann.pending] == ["g1"]  # still waiting
    key["g1"] = row("pairwise", {"motion_quality": "A"})  # a rating answered as if pairwise
    assert ann.resolve(key) == [("g1", "kind_mismatch")]
    assert ann.pending == []
    assert ann.agreements(key)["motion_quality"] == Agreement(1.0, 1)  # g2 scored, g1 kind mismatch


def test_redis_fields_and_status_describe_the_annotator() -> None:
    key = gold_key(10)
    ann = Annotator(CFG, "ann-3", 1)
    ann.add_counts(400, 2, {"motion_quality": [8, 10]})
    ann.add_gold("e", 5.0, "g0", "c", (3, 3), key)
    (transition,) = ann.evaluate(key, now=50.0)
    fields = ann.redis_fields(key, now=60.0)
    assert fields["state"] == "qualifying" and fields["pending"] == "0"
    assert orjson.loads(fields["gold"]) == {"motion_quality": {"agreement": 1.0, "n": 1},
                                            "visual_fidelity": {"agreement": 1.0, "n": 1}}
    assert orjson.loads(fields["peer"])["motion_quality"]["agreement"] == pytest.approx(0.8)
    assert "far below" in orjson.loads(fields["gold_rate"])["note"]
    status = ann.status(transition, key)
    assert status.previous_state is None and status.gold_counts == {"motion_quality": 1, "visual_fidelity": 1}
    assert status.gold_rate == pytest.approx(2 / 400) and status.gold_rate_note
