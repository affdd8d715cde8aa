"""Ranking and pairing settings: defaults and bad values that stop startup naming the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stream.settings import AGENTS, Settings


@pytest.mark.parametrize(("name", "value"), [
    ("PAIRING_RANDOM_SHARE", "1"), ("PAIRING_RANDOM_SHARE", "-0.1"), ("RANKING_REGULARIZATION", "0"),
    ("RANKING_REFIT_S", "0"), ("RANKING_BOOTSTRAP_SAMPLES", "-1"), ("RANKING_ANCHORS", '{"x2v": "cfg-1"}'),
    ("RANKING_METRICS_TOP", "1000"),
])
def test_bad_ranking_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f"ALPHAWATCH_{name}", value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


def test_ranking_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHAWATCH_RANKING_ANCHORS", '{"t2v": "cfg-17"}')
    s = Settings()
    assert "ranking" in AGENTS and "ranking" in s.agents
    assert s.ranking_anchors == {"t2v": "cfg-17"} and s.ranking_qualified_only
    assert 0 < s.pairing_random_share < 1 and s.ranking_refit_s > 0
