"""`alphawatch report` offline (events JSONL): files, the series behind the charts, the pilot ranking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from stream.campaign.scenarios import scenario, write
from stream.campaign.simulate import Campaign, generate
from stream.cli.main import cli

PNG = b"\x89PNG\r\n\x1a\n"
CHARTS = ("alpha_over_time", "coincidence", "annotators", "slices", "pilot")


@pytest.fixture(scope="module")
def offline_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("report")
    written = write(scenario("ambiguous-guideline", clips=1500), "ambiguous-guideline", tmp / "sim")
    out = tmp / "report"
    result = CliRunner().invoke(cli, ["report", str(written.events), "--out", str(out),
                                      "--gold-key", str(written.gold_key)],
                                env={"ALPHAWATCH_WINDOWS": '["1h"]', "ALPHAWATCH_BOOTSTRAP_SAMPLES": "300"})
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text()), orjson.loads(written.truth.read_bytes())


Report = tuple[Path, dict[str, Any], dict[str, Any]]


def test_report_writes_html_and_every_chart(offline_report: Report) -> None:
    out, data, _ = offline_report
    html = (out / "report.html").read_text()
    for name in CHARTS:
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(PNG) and len(png) > 10_000, name
        assert f'src="{name}.png"' in html
    assert data["source"] == "events" and "no batches yet" in html


def test_alpha_series_show_the_planted_collapse(offline_report: Report) -> None:
    _, data, truth = offline_report
    onset = truth["ambiguous"]["from"]
    series = data["series"]["text_alignment"]
    assert len(series) == 5  # 1500 clips x 10 s: five one-hour windows
    before = [r for r in series if r["window_start"] < onset[:13]]
    after = [r for r in series if r["window_start"] > onset]
    assert before and after
    assert all(r["ci_low"] > 0.667 for r in before) and all(r["ci_high"] < 0.667 for r in after)
    assert all(r["ci_low"] <= r["alpha"] <= r["ci_high"] for r in series)
    flagged = {f["dimension"] for f in data["flags"]}
    assert flagged == {"text_alignment"}  # offline flags: only the ambiguous dimension
    assert min(f["window_start"] for f in data["flags"]) >= onset[:13]


def test_coincidence_matrices_and_slices(offline_report: Report) -> None:
    _, data, _ = offline_report
    rating = data["coincidence"]["motion_quality"]
    assert rating["values"] == ["1", "2", "3", "4", "5"] and len(rating["matrix"]) == 5
    pairwise = data["coincidence"]["pairwise.motion_quality"]
    assert pairwise["values"] == ["A", "B", "tie"]
    matrix = rating["matrix"]
    assert all(abs(matrix[i][j] - matrix[j][i]) < 1e-9 for i in range(5) for j in range(5))
    # most mass on or next to the diagonal for a dimension that agrees
    near = sum(matrix[i][j] for i in range(5) for j in range(5) if abs(i - j) <= 1)
    assert near / sum(map(sum, matrix)) > 0.85
    slices = {(r["dimension"], r["slice"]) for r in data["slices"]}
    assert {("motion_quality", "source_category=street"), ("text_alignment", "modality=v2v")} <= slices


def test_annotator_points_from_the_gold_key(offline_report: Report) -> None:
    _, data, _ = offline_report
    points = data["annotators"]
    judged = [p for p in points if p["gold"] is not None]
    assert len(points) == 30 and len(judged) >= 25  # at 5% gold, a few annotators may have none yet
    # nobody has N = 20 gold answers yet in 1,500 clips
    assert all(0.8 < p["gold"] <= 1.0 and p["state"] == "qualifying" for p in judged)
    assert all(p["state"] == "unknown" for p in points if p["gold"] is None)
    assert all(0.5 < p["peer"] < 1.0 for p in points)


def test_pilot_ranks_candidate_dimensions_with_intervals(tmp_path: Path) -> None:
    """Dimensions the settings do not know are taken from the pilot file."""
    dims = ("smoothness", "realism", "prompt_match")
    c = Campaign(seed=3, n_clips=400, dimensions=dims, pairwise_share=0.0, ambiguous_dimension="prompt_match")
    path = tmp_path / "pilot.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate(c)))
    result = CliRunner().invoke(cli, ["report", str(path), "--out", str(tmp_path / "out")],
                                env={"ALPHAWATCH_BOOTSTRAP_SAMPLES": "300", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    ranking = json.loads((tmp_path / "out" / "report.json").read_text())["pilot"]
    assert [r["dimension"] for r in ranking][-1] == "prompt_match"
    assert {r["dimension"] for r in ranking} == set(dims)
    worst, best = ranking[-1], ranking[0]
    assert worst["verdict"] == "below 0.667" and worst["reaches"] == {"0.667": False, "0.800": False}
    assert best["reaches"]["0.667"] is True and best["ci_low"] < best["alpha"] < best["ci_high"]
    assert "pilot ranking" in result.output and "prompt_match" in result.output
