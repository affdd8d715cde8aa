"""The pilot tool on researcher data: each format against the `krippendorff` package; errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from stream.cli.main import cli

RNG = np.random.default_rng(7)
# 3 annotators x 40 units on a 1-5 scale, about a fifth missing: the package's reliability_data
TRUTH = RNG.integers(1, 6, size=40)
MATRIX = np.clip(TRUTH + RNG.integers(-1, 2, size=(3, 40)), 1, 5).astype(float)
MATRIX[RNG.random(MATRIX.shape) < 0.2] = np.nan


def _long_rows() -> list[tuple[str, str, int]]:
    return [(f"u{u}", f"w{a}", int(MATRIX[a, u])) for a in range(3) for u in range(40)
            if not np.isnan(MATRIX[a, u])]


def _alpha(args: list[str]) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(cli, ["alpha", *args, "--json"])
    assert result.exit_code == 0, result.output
    return {r["dimension"]: r for r in json.loads(result.stdout)["rows"]}


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_crowd_kit_long_csv_equals_the_krippendorff_package(tmp_path: Path, level: str) -> None:
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\n" + "".join(f"{u},{w},{v}\n" for u, w, v in _long_rows()))
    (row,) = _alpha([str(path), "--level", level]).values()
    want = krippendorff.alpha(reliability_data=MATRIX, level_of_measurement=level)
    assert row["alpha"] == pytest.approx(want, abs=1e-9) and row["level"] == level
    assert row["n_units"] == 40


def test_tsv_and_jsonl_with_named_columns_and_dimensions(tmp_path: Path) -> None:
    tsv = tmp_path / "answers.tsv"
    lines = [f"{u}\t{w}\trealism\t{v}" for u, w, v in _long_rows()]
    lines += [f"{u}\t{w}\tmotion\t{6 - v}" for u, w, v in _long_rows()]
    tsv.write_text("clip\trater_name\tquestion\tstars\n" + "\n".join(lines) + "\n")
    got = _alpha([str(tsv), "--unit-col", "clip", "--annotator-col", "rater_name", "--value-col", "stars",
                  "--level", "interval"])
    want = krippendorff.alpha(reliability_data=MATRIX, level_of_measurement="interval")
    assert set(got) == {"realism", "motion"}
    assert got["realism"]["alpha"] == pytest.approx(want, abs=1e-9)
    assert got["motion"]["alpha"] == pytest.approx(want, abs=1e-9)  # 6 - v: the same distances
    jsonl = tmp_path / "answers.jsonl"
    rows = [orjson.dumps({"unit": u, "annotator": w, "value": v}) for u, w, v in _long_rows()]
    jsonl.write_bytes(b"\n".join(rows))
    (row,) = _alpha([str(jsonl), "--level", "interval"]).values()
    assert row["alpha"] == pytest.approx(want, abs=1e-9)


def test_a_wide_reliability_matrix_with_blanks_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "matrix.csv"
    header = "annotator," + ",".join(f"u{u}" for u in range(40))
    body = ["".join([f"w{a}"] + [f",{'' if np.isnan(x) else int(x)}" for x in MATRIX[a]]) for a in range(3)]
    path.write_text("\n".join([header, *body]) + "\n")
    (row,) = _alpha([str(path), "--format", "wide"]).values()  # ordinal, the default level
    assert row["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=MATRIX,
                                                            level_of_measurement="ordinal"), abs=1e-9)


def test_labels_are_nominal_and_other_levels_refuse_them(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    labels = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "great"}
    path.write_text("unit,annotator,value\n" + "".join(f"{u},{w},{labels[v]}\n" for u, w, v in _long_rows()))
    (row,) = _alpha([str(path), "--level", "nominal"]).values()
    assert row["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=MATRIX,
                                                            level_of_measurement="nominal"), abs=1e-9)
    result = CliRunner().invoke(cli, ["alpha", str(path), "--level", "ordinal"])
    assert result.exit_code == 1 and "use --level nominal" in result.stderr


def test_pilot_events_without_clip_blocks_and_with_any_dimension(tmp_path: Path) -> None:
    """Events as a pilot has them: no clip block, no ids, dimensions the product does not know."""
    path = tmp_path / "pilot.jsonl"
    events = [{"clip_id": u, "annotator_id": w, "scores": {"realism": v}} for u, w, v in _long_rows()]
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\nnot json\n")
    result = CliRunner().invoke(cli, ["alpha", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["rows"]
    assert row["dimension"] == "realism"
    assert row["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=MATRIX,
                                                            level_of_measurement="ordinal"), abs=1e-9)
    assert f"line {len(events) + 1}: not JSON" in result.stderr


def test_a_small_pilot_gets_too_few_values_not_a_verdict(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    lines = [f"u{u},w{a},{3 + (u % 2)}\n" for u in range(7) for a in (1, 2)]
    path.write_text("unit,annotator,value\n" + "".join(lines))
    (row,) = _alpha([str(path), "--ci"]).values()
    assert row["n_pairable_values"] == 14 and row["verdict"].startswith("too few pairable values (14 of")


@pytest.mark.parametrize("content, message", [
    ("unit,annotator,value\n", "line 1: the file holds no answers"),
    ('{"foo": 1}\n', "line 1: no unit, annotator or value key (keys: foo)"),
    ("unit,annotator,value\n,w1,3\n", "line 2: unit: empty"),
])
def test_nothing_readable_exits_non_zero_naming_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl" if content.startswith("{") else tmp_path / "bad.csv"
    path.write_text(content)
    result = CliRunner().invoke(cli, ["alpha", str(path)])
    assert result.exit_code == 1 and message in result.stderr
    assert "Traceback" not in result.output


def test_bad_options_exit_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("unit,annotator,value\nu,a,1\nu,b,1\n")
    for args, message in ((["--level", "loud"], "--level takes one of"),
                          (["--format", "xls"], "--format takes"),
                          (["--window", "90min"], "--window takes a duration")):
        result = CliRunner().invoke(cli, ["alpha", str(path), *args])
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)
    result = CliRunner().invoke(cli, ["alpha", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2 and "no such file" in result.stderr
