"""Settings validation, docs/settings.md coverage of settings, and freshness of the JSON Schema files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.export import stale
from stream.core.windows import Tumbling
from stream.io.preflight import check_partitions
from stream.settings import ConfigError, Settings, parse_duration

SETTINGS_DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented_in_the_settings_page() -> None:
    text = SETTINGS_DOC.read_text()
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


@pytest.mark.parametrize(("env", "message"), [
    ({"ALPHAWATCH_WINDOWS": '["0s"]'}, "ALPHAWATCH_WINDOWS: '[\"0s\"]': '0s' is not a positive duration"),
    ({"ALPHAWATCH_BATCH_LENGTH": "0s"}, "ALPHAWATCH_BATCH_LENGTH: '0s': '0s' is not a positive duration"),
    ({"ALPHAWATCH_DIMENSIONS": "Realism"}, "ALPHAWATCH_DIMENSIONS: 'Realism': dimension 'Realism'"),
    ({"ALPHAWATCH_LEVELS": '{"motion_quality": "x"}'},
     "ALPHAWATCH_LEVELS: motion_quality 'x': Input should be"),
    ({"ALPHAWATCH_AGENTS": "ingest,sink"}, "ALPHAWATCH_AGENTS: item 1 'sink': Input should be 'ingest'"),
    ({"ALPHAWATCH_LEVELS": "{bad"}, "ALPHAWATCH_LEVELS: not valid JSON"),
    ({"ALPHAWATCH_WINDOWS": "[1h"}, "ALPHAWATCH_WINDOWS: '[1h': not a JSON list"),
    ({"ALPHAWATCH_SCORE_MAX": "0"}, "ALPHAWATCH_SCORE_MAX must be greater than ALPHAWATCH_SCORE_MIN"),
])
def test_load_gives_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                 message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_lists_read_comma_separated_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHAWATCH_DIMENSIONS", "realism, motion")
    monkeypatch.setenv("ALPHAWATCH_WINDOWS", "1h")
    monkeypatch.setenv("ALPHAWATCH_AGENTS", '["ingest", "units"]')
    s = Settings.load()
    assert s.dimensions == ["realism", "motion"] and s.window_seconds == [3600]
    assert s.agents == ["ingest", "units"]


def test_a_topic_with_other_partitions_stops_startup() -> None:
    s = Settings(partitions=4, topic_prefix="t.")
    check_partitions(s, {"t.annotations": 4, "t.valid": 4})
    with pytest.raises(ConfigError, match=r"ALPHAWATCH_PARTITIONS=4 but topic 't.annotations' has 2"):
        check_partitions(s, {"t.annotations": 2})


@pytest.mark.parametrize(("env", "needle"), [
    ({"ALPHAWATCH_WEBHOOKS": '["http://hooks.example/T0/secret-path"]', "ALPHAWATCH_WEBHOOK_SECRET": "k"},
     "items [0] are not https:// URLs"),
    ({"ALPHAWATCH_WEBHOOKS": '["https://hooks.example/T0/secret-path"]'}, "needs ALPHAWATCH_WEBHOOK_SECRET"),
])
def test_webhooks_need_https_and_a_secret_and_are_never_echoed(monkeypatch: pytest.MonkeyPatch,
                                                                env: dict[str, str], needle: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    assert needle in str(caught.value) and "secret-path" not in str(caught.value)
    monkeypatch.setenv("ALPHAWATCH_WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("ALPHAWATCH_WEBHOOK_SECRET", "k")
    assert Settings.load().webhooks == [env["ALPHAWATCH_WEBHOOKS"][2:-2]]


@pytest.mark.parametrize("name", ["WEB_TOKEN", "WEBHOOK_SECRET", "BATCH_SALT", "BRIDGE_SECRET",
                                  "REDIS_PASSWORD", "KAFKA_SASL_PASSWORD"])
def test_the_manifests_placeholder_secrets_stop_startup(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f"ALPHAWATCH_{name}", "change-me")
    with pytest.raises(ConfigError, match=f"ALPHAWATCH_{name} is the manifests' placeholder"):
        Settings.load()
    monkeypatch.setenv(f"ALPHAWATCH_{name}", "9f2c4e0b7a51d3c8")
    assert Settings.load() is not None
