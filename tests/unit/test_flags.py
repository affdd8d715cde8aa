"""Flag policy: minimum sample (Krippendorff 2013), raise on confidence, hysteresis on recovery."""

from __future__ import annotations

from typing import Any

from stream.flags import Policy, confused_values, decide, flag_id, min_pairable_values
from stream.notify import body_of, signature, slack_text

POLICY = Policy(threshold=0.667, confidence=0.95, margin=0.05, min_pairable=81)


def _record(alpha: float, n: float, p_below: float) -> dict[str, Any]:
    return {"dimension": "motion_quality", "slice": "all", "window_size_s": 3600,
            "window_start": "2026-11-20T00:00:00Z", "alpha": alpha, "n_pairable_values": n,
            "p_below_threshold": p_below}


def test_minimum_sample_matches_krippendorffs_published_checks() -> None:
    assert min_pairable_values(0.800, 0.95, 4) == 139  # p_c = .25
    assert min_pairable_values(0.667, 0.95, 4) == 81


def test_raise_needs_enough_data_and_confidence() -> None:
    assert decide(POLICY, _record(0.3, 80, 1.0), False, 1.0) is None  # too few pairable values
    assert decide(POLICY, _record(0.6, 200, 0.90), False, 1.0) is None  # not confident enough
    raised = decide(POLICY, _record(0.5, 200, 0.99), False, 1.0)
    assert raised is not None and raised.kind == "agreement_low"
    assert decide(POLICY, _record(0.5, 200, 0.99), True, 1.0) is None  # already open


def test_recovery_needs_confidence_above_threshold_plus_margin() -> None:
    # alpha above threshold but not confidently above threshold + margin: stays open
    assert decide(POLICY, _record(0.70, 400, 0.10), True, 0.40) is None
    cleared = decide(POLICY, _record(0.80, 400, 0.0), True, 0.01)
    assert cleared is not None and cleared.kind == "agreement_recovered"
    assert decide(POLICY, _record(0.80, 400, 0.0), False, 0.01) is None  # nothing to clear


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
    assert signature("s3cret", body) == signature("s3cret", body) != signature("other", body)
