"""Gold key files (JSONL and CSV), their validation, and the worker's view of the gold-items topic."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas.gold import GoldKeyRow
from stream.qualification.goldkey import GoldKeyView, KeyFileError, read_key_file, row_value
from stream.settings import Settings

SETTINGS = Settings()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_jsonl_with_tolerance_update_and_deletion(tmp_path: Path) -> None:
    path = write(tmp_path, "key.jsonl", "\n".join([
        '{"gold_item_id": "gold-0007", "kind": "rating", "answers": {"motion_quality": 4, '
        '"visual_fidelity": 3}, "tolerance": {"motion_quality": 0}}',
        '{"gold_item_id": "gold-0100", "kind": "pairwise", "answers": {"motion_quality": "A"}}',
        "",
        '{"gold_item_id": "gold-0007", "deleted": true}',
    ]))
    rows = read_key_file(path, SETTINGS)
    assert [r.gold_item_id for r in rows] == ["gold-0007", "gold-0100", "gold-0007"]
    assert rows[0].tolerance == {"motion_quality": 0} and rows[1].answers == {"motion_quality": "A"}
    assert row_value(rows[2]) is None  # tombstone
    value = row_value(rows[0])
    assert value is not None and orjson.loads(value)["answers"]["motion_quality"] == 4


def test_csv_columns_empty_cells_and_tolerance(tmp_path: Path) -> None:
    path = write(tmp_path, "key.csv", "gold_item_id,kind,motion_quality,visual_fidelity,"
                 "tolerance.motion_quality,deleted\n"
                 "g1,rating,4,,2,\n"
                 "g2,pairwise,tie,B,,\n"
                 "g3,,,,,true\n")
    rows = read_key_file(path, SETTINGS)
    assert rows[0] == GoldKeyRow(gold_item_id="g1", kind="rating", answers={"motion_quality": 4},
                                 tolerance={"motion_quality": 2})
    assert rows[1].answers == {"motion_quality": "tie", "visual_fidelity": "B"}
    assert rows[2].deleted


@pytest.mark.parametrize(("line", "needle"), [
    ('{"gold_item_id": "g", "kind": "rating", "answers": {"sharpness": 3}}', "unknown dimension"),
    ('{"gold_item_id": "g", "kind": "rating", "answers": {"motion_quality": 9}}', "out of scale"),
    ('{"gold_item_id": "g", "kind": "rating", "answers": {"motion_quality": "A"}}', "scores"),
    ('{"gold_item_id": "g", "kind": "pairwise", "answers": {"motion_quality": 3}}', "A/B/tie"),
    ('{"gold_item_id": "g", "kind": "rating", "answers": {}}', "at least one answer"),
    ('{"gold_item_id": "g", "kind": "rating", "answers": {"motion_quality": true}}', "valid integer"),
    ('{"gold_item_id": "g", "deleted": true, "kind": "rating"}', "only gold_item_id"),
    ('{"gold_item_id": "g", "kind": "rating", "answers": {"motion_quality": 3}, "x": 1}', "Extra"),
    ("{not json", "not JSON"),
])
def test_any_bad_row_rejects_the_file_naming_the_line(tmp_path: Path, line: str, needle: str) -> None:
    path = write(tmp_path, "key.jsonl", '{"gold_item_id": "ok", "kind": "rating", '
                 '"answers": {"motion_quality": 3}}\n' + line + "\n")
    with pytest.raises(KeyFileError, match=needle) as info:
        read_key_file(path, SETTINGS)
    assert "key.jsonl:2" in str(info.value)


def test_csv_non_integer_score_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "key.csv", "gold_item_id,kind,motion_quality\ng1,rating,four\n")
    with pytest.raises(KeyFileError, match=r"key\.csv:2: motion_quality: 'four' is not an integer"):
        read_key_file(path, SETTINGS)


def test_view_applies_updates_tombstones_and_counts_bad_records() -> None:
    bad = []
    view = GoldKeyView(SETTINGS, on_invalid=lambda: bad.append(1))
    view.apply(b"g1", b'{"gold_item_id": "g1", "kind": "rating", "answers": {"motion_quality": 4}}')
    assert view.rows["g1"].answers[0] == 4 and view.rows["g1"].tolerance[0] == 1
    view.apply(b"g1", b'{"gold_item_id": "g1", "kind": "rating", "answers": {"motion_quality": 2},'
               b' "tolerance": {"motion_quality": 0}}')
    assert view.rows["g1"].answers[0] == 2 and view.rows["g1"].tolerance[0] == 0
    view.apply(b"g2", b'{"gold_item_id": "other", "kind": "rating", "answers": {"motion_quality": 4}}')
    view.apply(b"g3", b"garbage")
    assert len(bad) == 2 and set(view.rows) == {"g1"}
    view.apply(b"g1", None)
    assert view.rows == {} and view.drain() == {"g1"} and view.drain() == set()
