"""Simulator scenarios against the ground truth they write: each planted change is in the events."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from stream.agreement.offline import collect, matrices
from stream.campaign.scenarios import SCENARIOS, scenario, write
from stream.campaign.simulate import generate, gold_key
from stream.report.annotators import offline_gold
from stream.settings import Settings

SETTINGS = Settings()


def _written(tmp_path: Path, name: str, **knobs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    paths = write(scenario(name, **knobs), name, tmp_path / name)
    events = [orjson.loads(line) for line in paths.events.read_bytes().splitlines()]
    return events, orjson.loads(paths.truth.read_bytes())


def _ts(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["submitted_at"]).timestamp()


def _alpha(events: list[dict[str, Any]], dimension: str) -> float:
    result = collect([orjson.dumps(e) for e in events], SETTINGS)
    matrix = matrices(result, SETTINGS)[(dimension, "all", None, None)]
    value = matrix.get(np.asarray(SETTINGS.scale, float), "ordinal").alpha
    assert value is not None
    return value


def _split(events: list[dict[str, Any]], at: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Non-gold ratings before and after a ground-truth time."""
    t0 = datetime.fromisoformat(at).timestamp()
    ratings = [e for e in events if e["kind"] == "rating" and not e["gold_item_id"]]
    return [e for e in ratings if _ts(e) < t0], [e for e in ratings if _ts(e) >= t0]


def test_ambiguous_guideline_collapses_one_dimension_from_the_onset(tmp_path: Path) -> None:
    events, truth = _written(tmp_path, "ambiguous-guideline", clips=1200)
    ambiguous = truth["ambiguous"]
    before, after = _split(events, ambiguous["from"])
    assert ambiguous["dimension"] == "text_alignment"
    assert _alpha(before, "text_alignment") > 0.75 and _alpha(after, "text_alignment") < 0.5
    for dim in ("motion_quality", "visual_fidelity", "viewer_interest"):
        assert _alpha(after, dim) > 0.75  # the others are untouched


def test_careless_annotator_answers_uniformly_after_the_onset(tmp_path: Path) -> None:
    events, truth = _written(tmp_path, "careless-annotator", clips=1200)
    (careless,) = truth["careless"]
    before, after = _split(events, truth["careless_from"])
    theirs = [s for e in after if e["annotator_id"] == careless for s in e["scores"].values()]
    assert len(theirs) > 500
    assert _chi2_uniform(theirs) < 18.47  # under the 0.1% critical value of chi-square, 4 dof
    # uniform means blind to the clip: no correlation with the co-raters, unlike before the onset
    # and unlike a careful annotator at the same time
    assert abs(_peer_correlation(after, careless)) < 0.15
    assert _peer_correlation(before, careless) > 0.7 and _peer_correlation(after, "ann-0000") > 0.7


def _chi2_uniform(scores: list[int]) -> float:
    counts = Counter(scores)
    expected = len(scores) / 5
    return sum((counts.get(v, 0) - expected) ** 2 / expected for v in range(1, 6))


def _peer_correlation(events: list[dict[str, Any]], annotator: str) -> float:
    """Correlation of the annotator's scores with the other raters' mean, over clips and dimensions."""
    by_clip: dict[str, dict[str, dict[str, int]]] = {}
    for e in events:
        by_clip.setdefault(e["clip_id"], {})[e["annotator_id"]] = e["scores"]
    mine, peers = [], []
    for raters in by_clip.values():
        if annotator in raters and len(raters) > 1:
            for dim, score in raters[annotator].items():
                mine.append(score)
                peers.append(np.mean([r[dim] for a, r in raters.items() if a != annotator]))
    assert len(mine) > 100
    return float(np.corrcoef(mine, peers)[0, 1])


def test_drifting_annotator_is_biased_on_one_dimension_after_the_onset(tmp_path: Path) -> None:
    events, truth = _written(tmp_path, "drifting-annotator", clips=1500)
    ((drifter, start),) = truth["drifting"].items()
    dim = truth["drift_dimension"]
    before, after = _split(events, start)
    assert abs(_bias(before, drifter, dim)) < 0.3
    assert _bias(after, drifter, dim) > 0.8  # +2 planted, less what the 1-5 scale clips
    assert abs(_bias(after, drifter, "visual_fidelity")) < 0.3


def _bias(events: list[dict[str, Any]], annotator: str, dim: str) -> float:
    """Mean of the annotator's score minus the other raters' mean on the same clips."""
    by_clip: dict[str, dict[str, int]] = {}
    for e in events:
        by_clip.setdefault(e["clip_id"], {})[e["annotator_id"]] = e["scores"][dim]
    gaps = [scores[annotator] - np.mean([v for a, v in scores.items() if a != annotator])
            for scores in by_clip.values() if annotator in scores and len(scores) > 1]
    assert len(gaps) > 30
    return float(np.mean(gaps))


def test_late_events_arrive_out_of_order_by_the_delay(tmp_path: Path) -> None:
    events, truth = _written(tmp_path, "late-events", clips=1500)
    late = set(truth["late_event_ids"])
    delay = truth["late_delay_s"]
    assert 0.01 < len(late) / len(events) < 0.03  # late_share 2%
    newest, end = float("-inf"), max(_ts(e) for e in events)
    for event in events:
        if event["event_id"] in late:
            # held back until the stream was `delay` past it (or, near the end, until the stream ended)
            assert newest - _ts(event) >= delay or (_ts(event) + delay > end and newest > _ts(event))
        else:
            assert _ts(event) >= newest - 1.0  # everything else in event-time order (gold: +1 ms)
        newest = max(newest, _ts(event))


def test_stationary_has_nothing_planted_and_steady_agreement(tmp_path: Path) -> None:
    events, truth = _written(tmp_path, "stationary", clips=1200)
    assert truth["careless"] == [] and truth["drifting"] == {} and truth["ambiguous"] is None
    assert truth["late_event_ids"] == []
    half = _ts(events[len(events) // 2])
    first = [e for e in events if e["kind"] == "rating" and _ts(e) < half]
    second = [e for e in events if e["kind"] == "rating" and _ts(e) >= half]
    for dim in SETTINGS.dimensions:
        assert abs(_alpha(first, dim) - _alpha(second, dim)) < 0.08


def test_gold_items_are_five_percent_and_all_in_the_key(tmp_path: Path) -> None:
    events, truth = _written(tmp_path, "stationary", clips=1200)
    gold = [e for e in events if e["gold_item_id"]]
    assert 0.04 < len(gold) / len(events) < 0.06
    assert truth["counts"]["gold"] == len(gold)
    keyed = {row["gold_item_id"] for row in gold_key(scenario("stationary", clips=1200))}
    assert {e["gold_item_id"] for e in gold} <= keyed
    kinds = Counter(e["kind"] for e in events)
    assert kinds["pairwise"] > 0.1 * len(events)  # pairwise comparisons are part of every campaign


def test_campaign_is_realistic_and_seeded() -> None:
    c = scenario("stationary", clips=300)
    events = list(generate(c))
    assert events == list(generate(scenario("stationary", clips=300)))
    assert events != list(generate(scenario("stationary", clips=300, seed=8)))
    clips = [e["clip"] for e in events if e["kind"] == "rating"]
    assert {x["source_category"] for x in clips} == {"cinematic", "street", "curated"}
    assert {x["modality"] for x in clips} == {"t2v", "i2v", "v2v"}
    assert len({x["model_id"] for x in clips}) == c.models and len({x["prompt"] for x in clips}) > 200
    per_clip = Counter(e["clip_id"] for e in events if e["kind"] == "rating" and not e["gold_item_id"])
    assert set(per_clip.values()) == {3}


def test_every_scenario_validates_and_unknown_names_are_refused() -> None:
    from stream.core.validate import Invalid, Validator

    validator = Validator(SETTINGS.dimensions, 1, 5, SETTINGS.max_payload_bytes)
    for name in SCENARIOS:
        for event in list(generate(scenario(name, clips=60)))[:100]:
            assert not isinstance(validator(orjson.dumps(event)), Invalid)
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario("chaos")


def test_onboarding_lets_every_annotator_qualify_before_the_campaign() -> None:
    """The simulator's default qualification test (ALPHAWATCH_GOLD_MIN_ANSWERS gold items each) is
    judged by the stream's own qualification replay: annotators are qualified at the campaign's start."""
    c = scenario("stationary", clips=300, onboarding_gold=SETTINGS.gold_min_answers)
    events = list(generate(c))
    first = datetime.fromisoformat(next(e for e in events if not e["gold_item_id"])["submitted_at"])
    onboarding = [e for e in events if datetime.fromisoformat(e["submitted_at"]) < first]
    per = Counter(e["annotator_id"] for e in onboarding)
    assert set(per.values()) == {SETTINGS.gold_min_answers} and len(per) == c.n_annotators
    for who in per:
        items = [e["gold_item_id"] for e in onboarding if e["annotator_id"] == who]
        assert len(set(items)) == len(items)  # distinct items, like a qualification test
    states = offline_gold(onboarding, gold_key(c), SETTINGS)
    assert sum(state == "qualified" for _, state in states.values()) >= 0.8 * c.n_annotators
    # its own random stream: the campaign after it is the same with or without it
    assert events[len(onboarding):] == list(generate(scenario("stationary", clips=300)))
