"""The mapping file: the shipped one loads; a bad one is refused with every bad key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.bridge.labelstudio.mapping import MappingError, load
from stream.settings import DEFAULT_DIMENSIONS
from tests.unit.bridge.conftest import SHIPPED


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    load(path, DEFAULT_DIMENSIONS, 1, 5)


def test_the_shipped_mapping_covers_every_dimension_both_ways() -> None:
    mapping = load(SHIPPED, DEFAULT_DIMENSIONS, 1, 5)
    assert sorted(c.dimension for c in mapping.ratings.values()) == sorted(DEFAULT_DIMENSIONS)
    assert sorted(c.dimension for c in mapping.preferences.values()) == sorted(DEFAULT_DIMENSIONS)


def test_the_shipped_label_configs_name_the_mapped_tags() -> None:
    mapping = load(SHIPPED, DEFAULT_DIMENSIONS, 1, 5)
    rating_xml = (SHIPPED.parent / "rating.xml").read_text()
    pairwise_xml = (SHIPPED.parent / "pairwise.xml").read_text()
    assert all(f'<Rating name="{name}"' in rating_xml for name in mapping.ratings)
    for name, control in mapping.preferences.items():
        assert f'<Choices name="{name}"' in pairwise_xml
        assert all(f'<Choice value="{label}"/>' in pairwise_xml for label in control.values)


@pytest.mark.parametrize(("text", "named"), [
    ('project_id = "p"\n[ratings.mq]\ndimension = "motion"\n', "ratings.mq.dimension: 'motion'"),
    ('project_id = "p"\n[ratings.mq]\ndimension = "motion_quality"\nvalues = {"6" = 6}\n',
     "ratings.mq.values.6: 6 is outside the scale 1-5"),
    ('project_id = "p"\n[preferences.pq]\ndimension = "motion_quality"\nvalues = {Left = "left"}\n',
     "preferences.pq.values.Left"),
    ('project_id = "p"\n[ratings.mq]\ndimension = "motion_quality"\ncolour = 1\n', "ratings.mq.colour"),
    ('[ratings.mq]\ndimension = "motion_quality"\n', "project_id: Field required"),
    ('project_id = "p"\n', "map at least one control tag"),
    ('project_id = "p"\n[ratings.a]\ndimension = "motion_quality"\n'
     '[ratings.b]\ndimension = "motion_quality"\n',
     "ratings.b.dimension: 'motion_quality' is already answered by ratings.a"),
    ('project_id = "p"\nsource = "Has Spaces"\n[ratings.a]\ndimension = "motion_quality"\n', "source:"),
    ("project_id = \n", "not TOML"),
])
def test_a_bad_mapping_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(MappingError) as caught:
        _load(tmp_path, text)
    assert named in str(caught.value)
    assert str(tmp_path / "m.toml") in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read it"):
        load(tmp_path / "none.toml", DEFAULT_DIMENSIONS, 1, 5)
