"""Tailed output topics: a malformed record is counted and skipped, the view keeps the rest."""

from __future__ import annotations

import orjson

from stream.agreement.view import AgreementView
from stream.io.kafka import apply_safely
from stream.ranking.views import RankingView


def test_malformed_records_on_tailed_topics_are_skipped_and_reported() -> None:
    bad: list[Exception] = []
    agreement, rankings = AgreementView(), RankingView()
    good = orjson.dumps({"dimension": "motion_quality", "slice": "all", "window_size_s": 3600,
                         "window_start": "2026-11-20T00:00:00Z", "alpha": 0.8, "final": False})
    for view in (agreement, rankings):
        for value in (b"not json", b"{}", b"[1]", b"null"):
            assert not apply_safely(view.apply, value, bad.append)
    assert apply_safely(agreement.apply, good, bad.append)
    assert len(bad) == 8 and agreement.alpha_of("motion_quality", 3600, 1795132800) == 0.8
