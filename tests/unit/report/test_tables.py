"""What the report's tables and charts are built from: window sizes, flags on their own series,
gold agreement per dimension, sorted slices, leaderboards with intervals, number formatting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.campaign.scenarios import scenario
from stream.campaign.simulate import generate, gold_key
from stream.flags import wording
from stream.io.observe import Observed
from stream.report import charts, fmt
from stream.report import html as reporthtml
from stream.report.annotators import gold_fields, outside_pack, points
from stream.report.build import build, write
from stream.report.data import ReportData
from stream.settings import Settings

DAY, HOUR = 86400, 3600


def _window(size: int, start: str, alpha: float) -> dict[str, Any]:
    return {"window_size_s": size, "window_start": start, "alpha": alpha, "ci_low": alpha - 0.05,
            "ci_high": alpha + 0.05, "n_pairable_values": 2086.0, "final": True}


def _flag(size: int, start: str, alpha: float) -> dict[str, Any]:
    return {"flag_id": f"f{size}", "kind": "agreement_low", "dimension": "text_alignment", "slice": "all",
            "window_size_s": size, "window_start": start, "alpha": alpha, "ci_low": 0.5, "ci_high": 0.64,
            "reason": "P(alpha < 0.667) = 1.0000 >= 0.9992 (look 5) with n = 6133 pairable values",
            "top_annotators": [{"annotator_id": "ann-0019", "share_of_disagreement": 0.2, "pairs": 64.0}]}


def _data(**changes: Any) -> ReportData:
    """A campaign of seven hours: 1 h windows collapsing from 03:00, and the day's 24 h window,
    whose flag (raised on the day window starting at 00:00) is the 24 h series' own."""
    hours = [_window(HOUR, f"2026-11-20T0{h}:00:00+00:00", a)
             for h, a in enumerate((0.88, 0.77, 0.89, 0.50, 0.31, 0.46, 0.32))]
    fields: dict[str, Any] = {
        "source": "topics", "generated_at": "2026-11-20T08:00:00+00:00",
        "thresholds": {"text_alignment": 0.667},
        "series": {"text_alignment": [*hours, _window(DAY, "2026-11-20T00:00:00Z", 0.59)]},
        "flags": [_flag(DAY, "2026-11-20T00:00:00Z", 0.61), _flag(HOUR, "2026-11-20T04:00:00Z", 0.40)],
        "coincidence": {}, "annotators": [], "slices": [], "pilot": [], "batches": None,
        "windows": [HOUR, DAY], "gold_threshold": 0.85}
    return ReportData(**{**fields, **changes})


def test_the_flags_table_says_each_flags_window_size() -> None:
    data = _data()
    rows = reporthtml.flag_rows(data)
    assert [(r[3], r[4]) for r in rows] == [("24 h", "2026-11-20T00:00:00Z"), ("1 h", "2026-11-20T04:00:00Z")]
    assert "<th>window size</th>" in reporthtml.flags_section(data)
    assert rows[0][7].startswith("more than 99.9% sure agreement is below 0.667 (check 6 of this window")
    assert rows[0][8] == "ann-0019 (20% of the disagreement, 64 clips)"


def test_each_flag_is_drawn_on_its_own_window_sizes_series() -> None:
    marks = {m["window_size_s"]: m for m in charts.flag_marks(_data(), "text_alignment")}
    day, hour = marks[DAY], marks[HOUR]
    # the day's flag spans its day at the 24 h window's alpha, not a line at 00:00 on the hourly series
    assert (day["start"].isoformat(), day["end"].isoformat()) == ("2026-11-20T00:00:00+00:00",
                                                                  "2026-11-21T00:00:00+00:00")
    assert day["alpha"] == 0.59 and hour["alpha"] == 0.31
    assert (hour["end"] - hour["start"]).total_seconds() == HOUR
    sizes = charts.by_size(_data().series["text_alignment"], HOUR)
    assert list(sizes) == [HOUR, DAY] and len(sizes[HOUR]) == 7
    # the chart shows the campaign's hours: the day window does not stretch the axis
    shown = charts.span(_data(), "text_alignment")
    assert shown is not None and [t.hour for t in shown] == [0, 7]


def test_gold_agreement_is_shown_per_dimension() -> None:
    """ann-0019 went to retraining on one dimension while its mean sits at the threshold."""
    status = {"ann-0019": {"state": "retraining", "gold_agreement": {
        "motion_quality": 0.95, "visual_fidelity": 0.95, "viewer_interest": 0.80, "text_alignment": 0.70}},
        "ann-0001": {"state": "qualified", "gold_agreement": {"motion_quality": 1.0, "text_alignment": 0.9}}}
    rows = points([], Settings(), status)
    worst = {r["annotator_id"]: r for r in rows}["ann-0019"]
    assert worst["gold"] == pytest.approx(0.85) and worst["gold_lowest"] == 0.70
    assert worst["gold_lowest_dimension"] == "text_alignment"
    assert worst["gold_by_dimension"]["viewer_interest"] == 0.80
    headers, table = reporthtml.annotator_rows(_data(annotators=rows))
    assert headers[2:7] == ["gold: motion_quality", "gold: text_alignment", "gold: viewer_interest",
                            "gold: visual_fidelity", "gold mean"]
    cells = dict(zip(headers, table[1], strict=True))
    low = cells["gold: text_alignment"]
    assert low == "0.700" and isinstance(low, reporthtml.Low)
    assert not isinstance(cells["gold: motion_quality"], reporthtml.Low) and cells["gold mean"] == "0.850"
    assert gold_fields({}) == {"gold_by_dimension": {}, "gold": None, "gold_lowest": None,
                               "gold_lowest_dimension": None}


def test_the_scatter_names_annotators_outside_the_pack() -> None:
    pack = [{"annotator_id": f"ann-{k:04d}", "gold_lowest": 0.95 + k % 3 * 0.02, "peer": 0.90 + k % 4 * 0.005,
             "state": "qualified"} for k in range(15)]
    follower = {"annotator_id": "ann-0100", "gold_lowest": 0.97, "peer": 0.55, "state": "qualified"}
    low = {"annotator_id": "ann-0200", "gold_lowest": 0.80, "peer": 0.91, "state": "qualifying"}
    assert outside_pack([*pack, follower, low], 0.85) == ["ann-0100", "ann-0200"]


def test_counts_print_without_decimals() -> None:
    assert (fmt.count(2086.0), fmt.count(12.5), fmt.count(None)) == ("2,086", "12.5", "-")
    assert fmt.interval(0.5, None) == "-" and fmt.ratio(0.8501) == "0.850"
    assert (wording.window_label(300), wording.window_label(DAY), wording.window_label(None)) == \
        ("5 min", "24 h", "-")


def test_observed_keeps_the_newest_leaderboard_per_modality_and_dimension() -> None:
    o = Observed()
    for votes in (10, 30):
        o.apply("model-rankings", orjson.dumps({"modality": "t2v", "dimension": "overall", "votes": votes}))
    o.apply("model-rankings", orjson.dumps({"modality": "i2v", "dimension": "overall", "votes": 5}))
    assert {k: r["votes"] for k, r in o.rankings.items()} == {("t2v", "overall"): 30, ("i2v", "overall"): 5}


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportData, str]:
    """An offline report of a small campaign, 1 h and 24 h windows, judged against its gold key."""
    campaign = scenario("ambiguous-guideline", clips=1200, seed=5)
    lines = [orjson.dumps(e) for e in generate(campaign)]
    settings = Settings(windows=["1h", "24h"], bootstrap_samples=200, gold_min_answers=3)
    data = build(lines, settings, key_rows=gold_key(campaign))
    out: Path = tmp_path_factory.mktemp("report")
    return data, write(data, out).read_text()


def test_offline_series_and_flags_carry_their_window_size(offline: tuple[ReportData, str]) -> None:
    data, _ = offline
    sizes = {r["window_size_s"] for r in data.series["text_alignment"]}
    assert sizes == {HOUR, DAY} and data.windows == [HOUR, DAY]
    assert data.flags and all(f["window_size_s"] in (HOUR, DAY) for f in data.flags)


def test_the_slice_table_is_sorted_weakest_first(offline: tuple[ReportData, str]) -> None:
    data, html = offline
    dims = [r["dimension"] for r in data.slices]
    assert dims == sorted(dims, key=lambda d: (charts.ordered(set(dims)).index(d)))
    for dim in set(dims):
        alphas = [r["alpha"] for r in data.slices if r["dimension"] == dim]
        assert alphas == sorted(alphas) and len(alphas) > 2
    assert "the weakest slice first" in html


def test_leaderboards_with_intervals_are_in_the_report(offline: tuple[ReportData, str]) -> None:
    data, html = offline
    overall = [b for b in data.leaderboards if b["dimension"] == "overall"]
    assert {b["modality"] for b in overall} == {"t2v", "i2v", "v2v"}
    placed = [m for b in overall for m in b["models"]
              if m["score"] is not None and m["ci_low"] != m["ci_high"]]  # the anchor's interval is a point
    assert placed and all(m["ci_low"] <= m["score"] <= m["ci_high"] for m in placed)
    assert "<h2>Model leaderboards</h2>" in html and "plausible ranks" in html
    first = placed[0]
    assert f"[{first['ci_low']:.0f}, {first['ci_high']:.0f}]" in html


def test_no_count_prints_with_three_decimals(offline: tuple[ReportData, str]) -> None:
    data, html = offline
    pairable = [r["n_pairable_values"] for r in data.slices]
    assert all(float(n).is_integer() for n in pairable)
    assert not any(f"{n:.3f}" in html for n in pairable)
    assert f"<td>{fmt.count(pairable[0])}</td>" in html
    assert not re.search(r">\d{2,}\.\d{3}<", html)  # no count such as 2086.000 in any cell
