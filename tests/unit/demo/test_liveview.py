"""The demo's topic model (Observed), its live view and the replay pacing, without services."""

from __future__ import annotations

import io
from typing import Any

import orjson
from rich.console import Console

from stream.demo.liveview import Progress, render, sparkline, status_line
from stream.io.observe import Observed
from stream.io.produce import rate_schedule, replay_schedule


def _record(window: str, alpha: float, final: bool = False, dim: str = "text_alignment") -> bytes:
    return orjson.dumps({"dimension": dim, "slice": "all", "window_size_s": 3600,
                         "window_start": f"2026-11-20T{window}:00:00+00:00", "alpha": alpha,
                         "ci_low": alpha - 0.1, "ci_high": alpha + 0.1, "n_pairable_values": 300.0,
                         "n_units": 100, "final": final})


def _flag(kind: str, flag_id: str, opened: str | None = None) -> bytes:
    return orjson.dumps({"flag_id": flag_id, "kind": kind, "opened_flag_id": opened,
                         "dimension": "text_alignment", "slice": "all", "window_size_s": 86400,
                         "window_start": "2026-11-20T00:00:00+00:00",
                         "alpha": 0.41, "ci_low": 0.33, "ci_high": 0.49, "threshold": 0.667,
                         "reason": "P(alpha < 0.667) = 0.9910 >= 0.9696 (look 0) with n = 2086 pairable "
                                   "values",
                         "raised_at": "2026-12-01T07:00:00+00:00",
                         "top_annotators": [{"annotator_id": "ann-0003", "share_of_disagreement": 0.12,
                                             "mean_disagreement": 2.1, "pairs": 41.0}],
                         "confused_values": [{"values": "4~5", "share_of_pairs": 0.1}]})


def _status(annotator: str, state: str) -> bytes:
    return orjson.dumps({"annotator_id": annotator, "state": state,
                         "gold_agreement": {"motion_quality": 0.9}})


def _observed() -> Observed:
    o = Observed()
    o.apply("agreement", _record("02", 0.85, final=True))
    o.apply("agreement", _record("03", 0.41))
    o.apply("agreement", _record("02", 0.70))  # a live record replayed after its final
    o.apply("agreement", b"not json")
    o.apply("qa-flags", _flag("agreement_low", "f1"))
    o.apply("annotator-status", _status("ann-0001", "qualified"))
    o.apply("annotator-status", _status("ann-0019", "qualified"))
    o.apply("annotator-status", _status("ann-0019", "retraining"))
    return o


def test_observed_keeps_finals_newest_states_and_open_flags() -> None:
    o = _observed()
    series = o.series("text_alignment", 3600)
    assert [(r["alpha"], r["final"]) for r in series] == [(0.85, True), (0.41, False)]
    assert o.states() == {"qualifying": [], "qualified": ["ann-0001"], "retraining": ["ann-0019"]}
    assert [f["flag_id"] for f in o.open_flags()] == ["f1"]
    o.apply("qa-flags", _flag("agreement_recovered", "f2", opened="f1"))
    assert o.open_flags() == []


def test_observed_batches_count_records_once_and_keep_the_newest_manifest() -> None:
    o = Observed()
    for version in (1, 2):
        o.apply("rlhf-batches", orjson.dumps({"record_id": "r1", "version": version, "batch_id": "2026-W47"}))
    o.apply("rlhf-batch-manifests", orjson.dumps({"batch_id": "2026-W47", "revision": 2}))
    o.apply("rlhf-batch-manifests", orjson.dumps({"batch_id": "2026-W47", "revision": 1}))
    assert o.batch_records == {"r1"} and o.manifests["2026-W47"]["revision"] == 2


def test_live_view_shows_closed_batches() -> None:
    o = _observed()
    for rid, batch in (("r1", "2026-11-20T00:00Z+2h"), ("r2", "2026-11-20T02:00Z+2h")):
        o.apply("rlhf-batches", orjson.dumps({"record_id": rid, "version": 1, "batch_id": batch}))
    o.apply("rlhf-batch-manifests", orjson.dumps({
        "batch_id": "2026-11-20T00:00Z+2h", "revision": 1, "answers_received": 900, "answers_included": 600,
        "exclusions": {"gold_item": 40, "annotator_qualifying": 260}}))
    assert "2 records in 2 batches; 1 closed, newest 2026-11-20T00:00Z+2h: 600 of 900 answers in records, " \
        "left out {'gold_item': 40, 'annotator_qualifying': 260}" in " ".join(_text(o).split())


def _text(o: Observed) -> str:
    console = Console(file=io.StringIO(), width=140, record=True, color_system=None)
    progress = Progress(3000, 7570, 42.0, 180.0, {"valid": 2990.0, "invalid": 3.0, "applied": 2900.0}, 71.0,
                        "annotating")
    console.print(render(o, progress, 3600, ["motion_quality", "text_alignment"]))
    return console.export_text()


def test_live_view_shows_flags_annotators_and_no_batches() -> None:
    text = _text(_observed())
    assert "text_alignment" in text and "FLAG" in text and "0.410" in text
    flat = " ".join(text.replace("│", " ").split())  # the panel wraps lines inside its borders
    assert "text_alignment [all] 24 h window from 00:00" in flat  # a day's window says so
    assert "99.1% sure agreement is below 0.667 (check 1 of this window needed 97.0%; 2,086 paired " \
        "answers)" in flat
    assert "most disagreeing: ann-0003 (12% of the disagreement, 41 clips)" in flat
    assert "answers mixed up: 4 vs 5 (10% of rater pairs)" in flat and "(Krippendorff's D_o)" in flat
    assert "retraining: ann-0019" in text and "qualified 1" in text
    assert "no batches yet" in text and "71 events/s" in text and "sent 3000/7570" in text
    assert "motion_quality" not in text.split("open flags")[0]  # no records yet: no row


def test_status_line_and_sparkline() -> None:
    o: Any = _observed()
    line = status_line(o, Progress(10, 100, 5.0, 60.0, {}, 2.0, "annotating"))
    assert "open flags 1" in line and "retraining 1" in line
    assert sparkline([0.0, 0.5, 1.0, None, -0.3]) == "▁▅█ ▁"


def test_replay_keeps_event_time_spacing_and_sends_late_events_at_once() -> None:
    def line(second: int) -> bytes:
        return orjson.dumps({"submitted_at": f"2026-11-20T00:00:{second:02d}Z"})

    at = replay_schedule(speed=10.0)
    assert [at(i, line(s)) for i, s in enumerate((0, 10, 30))] == [0.0, 1.0, 3.0]
    assert at(3, line(5)) == 0.5  # an old (late) event: its own place, already past, so at once
    assert at(4, b"not json") == 0.0
    assert rate_schedule(4.0)(8, b"") == 2.0 and rate_schedule(None)(8, b"") == 0.0
