"""Flag policy: minimum sample (Krippendorff 2013), raise on confidence, hysteresis on recovery."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from stream.flags.notifier import body_of, signature, slack_text, verify
from stream.flags.policy import (
    Policy,
    confused_values,
    decide_clear,
    decide_raise,
    flag_id,
    min_pairable_values,
    rarest_share,
    top_annotators,
)

POLICY = Policy(threshold=0.667, confidence=0.95, margin=0.05, n_values=5, min_pairable=81)


def _record(alpha: float, n: float, p_below: float) -> dict[str, Any]:
    return {"dimension": "motion_quality", "slice": "all", "window_size_s": 3600,
            "window_start": "2026-11-20T00:00:00Z", "alpha": alpha, "n_pairable_values": n,
            "p_below_threshold": p_below}


def test_minimum_sample_matches_krippendorffs_published_checks() -> None:
    assert min_pairable_values(0.800, 0.95, 0.25) == 139
    assert min_pairable_values(0.667, 0.95, 0.25) == 81


def test_minimum_grows_as_the_rarest_value_gets_rarer() -> None:
    derived = Policy(threshold=0.667, confidence=0.95, margin=0.05, n_values=5)
    assert derived.minimum(None) == min_pairable_values(0.667, 0.95, 0.2)  # evenly used scale
    assert derived.minimum(0.25) == 81
    assert derived.minimum(0.08) > derived.minimum(0.2)
    assert derived.minimum(0.001) == derived.minimum(0.05)  # floored at min_share
    assert derived.minimum(1.0) == derived.minimum(0.5)  # a single value: no division by zero
    assert POLICY.minimum(0.01) == 81  # a fixed minimum wins
    assert rarest_share([0, 30, 10, 60]) == 0.1  # absent values do not count
    assert rarest_share([0, 0]) is None


def test_looks_begin_at_the_minimum_and_double() -> None:
    assert POLICY.look(80, 81) is None
    assert [POLICY.look(n, 81) for n in (81, 161, 162, 323, 324, 81 * 2**10)] == [0, 0, 1, 1, 2, 10]


def test_looks_share_the_error_budget() -> None:
    spent = sum(POLICY.look_error(k) for k in range(100_000))
    assert 0.04999 < spent <= 0.05  # every look of a window together: at most 1 - confidence
    assert POLICY.look_confidence(0) == pytest.approx(1 - 0.05 * 6 / math.pi**2)
    confidences = [POLICY.look_confidence(k) for k in range(20)]
    assert confidences == sorted(confidences) and confidences[0] > POLICY.confidence


def test_look_replicates_resolve_the_tail() -> None:
    assert POLICY.look_replicates(0, 1000) == 1000  # 25 / 0.0304 = 823: the floor is enough
    assert POLICY.look_replicates(3, 1000) == math.ceil(25 / POLICY.look_error(3))
    assert POLICY.look_replicates(500, 1000) == 20_000  # capped


def test_raise_needs_the_looks_confidence() -> None:
    assert decide_raise(POLICY, _record(0.6, 200, 0.96), 0, 0.96) is None  # look 0 needs 0.9696
    raised = decide_raise(POLICY, _record(0.5, 200, 0.99), 0, 0.99)
    assert raised is not None and raised.kind == "agreement_low"
    assert raised.p_below == 0.99 and raised.required == pytest.approx(POLICY.look_confidence(0))
    assert decide_raise(POLICY, _record(0.5, 200, 0.99), 1, 0.99) is None  # look 1 needs 0.9924
    assert decide_raise(POLICY, {**_record(0.5, 200, 0.99), "alpha": None}, 0, 1.0) is None


def test_recovery_needs_confidence_above_threshold_plus_margin() -> None:
    # alpha above threshold but not confidently above threshold + margin: stays open
    assert decide_clear(POLICY, _record(0.70, 400, 0.10), 0.40, 81) is None
    cleared = decide_clear(POLICY, _record(0.80, 400, 0.0), 0.01, 81)
    assert cleared is not None and cleared.kind == "agreement_recovered"
    assert decide_clear(POLICY, _record(0.80, 50, 0.0), 0.0, 81) is None  # too few pairable values


def test_flag_ids_are_deterministic() -> None:
    r = _record(0.5, 200, 0.99)
    assert flag_id("agreement_low", r, "w") == flag_id("agreement_low", dict(r), "w")
    assert flag_id("agreement_low", r, "w") != flag_id("agreement_recovered", r, "w")


def test_confused_values_and_message() -> None:
    import numpy as np

    o = np.zeros((5, 5))
    o[0, 0], o[1, 3], o[3, 1], o[2, 4], o[4, 2] = 10, 6, 6, 2, 2
    top = confused_values(o, [1, 2, 3, 4, 5])
    assert top[0] == {"values": "2~4", "share_of_pairs": round(12 / 26, 4)}
    assert [c["values"] for c in top] == ["2~4", "3~5"]
    flag = {**_record(0.5, 200, 0.99), "kind": "agreement_low", "flag_id": "f1", "ci_low": 0.4,
            "ci_high": 0.6, "threshold": 0.667, "confused_values": top,
            "top_annotators": [{"annotator_id": "ann-7", "mean_disagreement": 2.5}]}
    assert "ann-7" in slack_text(flag) and "motion_quality" in slack_text(flag)
    body = body_of(flag)
    header = signature("s3cret", body, 1000)
    assert header == signature("s3cret", body, 1000) != signature("other", body, 1000)
    assert header.startswith("t=1000,v1=") and signature("s3cret", body, 1001) != header
    assert verify("s3cret", header, body, now=1200) and not verify("s3cret", header, body, now=1400)
    assert not verify("s3cret", header, body + b" ", now=1000) and not verify("s3cret", "v1=x", body, 1000)


def test_a_flag_at_its_first_look_names_the_careless_annotator() -> None:
    """A window flagged at look 0 holds the minimum sample (96 pairable values: 32 units of 3
    answers); spread over 20 annotators nobody has 10 pairs, and the flag named no one."""
    from stream.agreement.attribution import add, contributions, explain_distance

    dist = explain_distance(5, nominal=False)
    totals: dict[str, list[float]] = {}
    careful = itertools.cycle([f"ann-{k:02d}" for k in range(19)])
    for unit in range(32):
        truth = unit % 5
        raters = {next(careful): truth, next(careful): min(4, truth + unit % 2)}
        raters["careless" if unit % 4 == 0 else next(careful)] = 4 - truth if unit % 4 == 0 else truth
        add(totals, contributions(raters, dist))
    assert max(p for _, p in totals.values()) < 10  # every annotator under the old 10-pair floor
    ranked = top_annotators(totals)
    assert [r["annotator_id"] for r in ranked][:1] == ["careless"] and len(ranked) == 5
    assert ranked[0]["pairs"] == 8 and ranked[0]["mean_disagreement"] > 2 * ranked[1]["mean_disagreement"]
