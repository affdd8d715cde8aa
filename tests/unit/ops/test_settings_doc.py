"""docs/settings.md is what stream/ops/settings_doc.py generates from the settings classes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from stream.ops import settings_doc
from stream.settings import Settings


def test_settings_page_is_current() -> None:
    assert not settings_doc.stale(), "docs/settings.md is stale: run `make docs` and commit docs/settings.md"


def test_stale_detects_an_edited_page(tmp_path: Path) -> None:
    page = tmp_path / "settings.md"
    assert settings_doc.main(["--out", str(page)]) == 0
    assert not settings_doc.stale(page)
    page.write_text(page.read_text().replace("ALPHAWATCH_GRACE", "ALPHAWATCH_GRACE_S"))
    assert settings_doc.stale(page)


def test_every_field_has_its_row_with_type_default_bounds_and_meaning() -> None:
    rows = {line.split(" | ")[0].strip("| `"): line for line in settings_doc.render().splitlines()
            if line.startswith("| `ALPHAWATCH_")}
    assert set(rows) >= {f"ALPHAWATCH_{name.upper()}" for name in Settings.model_fields}
    assert rows["ALPHAWATCH_WEB_PORT"] == ("| `ALPHAWATCH_WEB_PORT` | integer | `6066` | >= 1; <= 65535 | "
                                           "web server port (views and `/metrics`) |")
    assert "| duration | `10m` | a duration |" in rows["ALPHAWATCH_GRACE"]
    assert "| list of durations | `[\"1h\",\"24h\"]` | durations > 0 |" in rows["ALPHAWATCH_WINDOWS"]
    assert "| name | `units` | `units`, `pairs` |" in rows["ALPHAWATCH_BOOTSTRAP_DRAWS"]
    assert "| JSON object | `{}` | keys `t2v`, `i2v`, `v2v` |" in rows["ALPHAWATCH_RANKING_ANCHORS"]
    assert "| secret text | (empty) | any |" in rows["ALPHAWATCH_BATCH_SALT"]
    assert "\\|score - gold\\|" in rows["ALPHAWATCH_GOLD_TOLERANCE"]  # a pipe would split the table cell


def test_a_field_without_a_docstring_stops_the_generator() -> None:
    class Partial(BaseSettings):
        documented: int = Field(1, ge=0, description="has one")
        bare: int = 2

    with pytest.raises(ValueError, match="Partial fields without a docstring: bare"):
        settings_doc._table(Partial)


def test_a_validator_the_generator_cannot_describe_stops_it() -> None:
    class Checked(BaseSettings):
        name: str = Field("x", description="a name")

        @field_validator("name")
        @classmethod
        def _shouted(cls, value: str) -> str:
            return value.upper()

    with pytest.raises(ValueError, match=r"validator Checked\._shouted: say what it admits"):
        settings_doc._table(Checked)
