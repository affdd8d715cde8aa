"""Settings validation, README coverage of settings, and freshness of the JSON Schema files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.export import stale
from stream.core.windows import Tumbling
from stream.settings import Settings, parse_duration

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    documented = set(re.findall(r"`(ALPHAWATCH_[A-Z_]+)`", text))
    missing = {f"ALPHAWATCH_{name.upper()}" for name in Settings.model_fields} - documented
    assert not missing


def test_json_schema_files_are_current() -> None:
    assert stale() == [], "run `make schemas` and commit the result"


@pytest.mark.parametrize(("env", "needle"), [
    ({"ALPHAWATCH_SLICES": '["all","annotator"]'}, "allowed values are"),
    ({"ALPHAWATCH_WINDOWS": '["1 hour"]'}, "not a duration"),
    ({"ALPHAWATCH_SCORE_MAX": "1"}, "SCORE_MAX"),
    ({"ALPHAWATCH_DEFAULT_LEVEL": "fuzzy"}, "nominal"),
    ({"ALPHAWATCH_LEVELS": '{"sharpness": "interval"}'}, "unknown dimensions"),
    ({"ALPHAWATCH_UNIT_RETENTION": "1h"}, "UNIT_RETENTION"),
])
def test_bad_configuration_names_the_setting(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                             needle: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=needle):
        Settings()


def test_levels_and_windows() -> None:
    s = Settings(levels={"viewer_interest": "interval"})
    assert s.level_for("viewer_interest") == "interval"
    assert s.level_for("motion_quality") == "ordinal"
    assert s.level_for("pairwise.motion_quality") == "nominal"
    assert s.window_seconds == [3600, 86400] and parse_duration("10m") == 600
    w = Tumbling(3600, 600)
    assert w.start_of(7199.0) == 3600 and w.closes_at(3600) == 7800
    assert w.closed_through(7799.0) == 3600 and w.closed_through(7800.0) == 7200
