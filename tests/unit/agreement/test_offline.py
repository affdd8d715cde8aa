"""`alphawatch alpha`: the offline reference, checked against the krippendorff package."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import orjson
from typer.testing import CliRunner

from stream.campaign.simulate import Campaign, generate
from stream.cli.main import cli


def _file(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    events = list(generate(Campaign(seed=5, n_clips=120, pairwise_share=0.0, n_annotators=12)))
    path = tmp_path / "pilot.jsonl"
    lines = [orjson.dumps(e) for e in events]
    lines.append(b"{broken")
    lines.append(lines[0])  # a duplicate must not count twice
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, events


def test_alpha_json_matches_krippendorff(tmp_path: Path) -> None:
    path, events = _file(tmp_path)
    result = CliRunner().invoke(cli, ["alpha", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["invalid"] == {"not_json": 1} and report["outcomes"]["duplicate"] == 1
    row = next(r for r in report["rows"] if r["dimension"] == "motion_quality")
    annotators = sorted({str(e["annotator_id"]) for e in events})
    clips = sorted({str(e["clip_id"]) for e in events})
    data = np.full((len(annotators), len(clips)), np.nan)
    for e in events:
        score = e["scores"]["motion_quality"]  # type: ignore[index]
        data[annotators.index(str(e["annotator_id"])), clips.index(str(e["clip_id"]))] = score
    for level in ("nominal", "ordinal", "interval", "ratio"):
        want = krippendorff.alpha(reliability_data=data, value_domain=[1, 2, 3, 4, 5],
                                  level_of_measurement=level)
        assert abs(row["alpha_by_level"][level] - want) < 1e-9
    assert row["alpha"] == row["alpha_by_level"]["ordinal"] and row["n_units"] == len(clips)


def test_alpha_table_by_slice(tmp_path: Path) -> None:
    path, _ = _file(tmp_path)
    result = CliRunner().invoke(cli, ["alpha", str(path), "--by", "slice"])
    assert result.exit_code == 0, result.output
    assert "source_category=street" in result.stdout and "modality=t2v" in result.stdout
