"""The agreement view stays bounded when windows never go final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from stream.agreement.view import AgreementView, query_from


def _record(hour: int, final: bool = False) -> bytes:
    start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=hour)
    return orjson.dumps({"dimension": "motion_quality", "slice": "source_category=street",
                         "window_size_s": 3600, "window_start": start.isoformat(),
                         "window_end": (start + timedelta(hours=1)).isoformat(), "alpha": 0.8,
                         "final": final})


def test_windows_that_never_go_final_are_forgotten_oldest_first() -> None:
    view = AgreementView(keep_open=100)
    for hour in range(1000):
        view.apply(_record(hour))
    assert len(view.records) <= 100
    starts = sorted(r["window_start"] for r in view.select())
    assert starts[-1] == (datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=999)).isoformat()
    view.apply(_record(999, final=True))
    assert starts[-1] not in {r["window_start"] for r in view.select()}


def _window(hour: int, final: bool, slice_: str = "all", size: int = 3600) -> bytes:
    start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=hour)
    return orjson.dumps({"dimension": "motion_quality", "slice": slice_, "window_size_s": size,
                         "window_start": start.isoformat(),
                         "window_end": (start + timedelta(seconds=size)).isoformat(), "alpha": 0.7,
                         "final": final})


def test_finals_are_served_with_filters_and_open_windows_stay_the_default() -> None:
    view = AgreementView()
    for hour in range(6):
        view.apply(_window(hour, final=False))
        if hour < 4:
            view.apply(_window(hour, final=True))  # hours 0-3 closed, 4-5 open
    view.apply(_window(0, final=True, slice_="modality=t2v"))
    view.apply(_window(0, final=True, size=86400))
    assert [r["final"] for r in view.select()] == [False, False]  # default: open windows
    finals = view.select("motion_quality", query_from({"state": "final", "slice": "all", "window": "1h"}))
    assert [r["window_start"][11:13] for r in finals] == ["00", "01", "02", "03"]
    assert all(r["final"] for r in finals)
    ranged = view.select(None, query_from({"state": "all", "window": "3600", "slice": "all",
                                           "from": "2026-11-01T02:00:00Z",
                                           "to": "2026-11-01T05:00:00+00:00"}))
    assert [(r["window_start"][11:13], r["final"]) for r in ranged] == [("02", True), ("03", True),
                                                                       ("04", False)]
    assert len(view.select(None, query_from({"state": "final"}))) == 6
    assert view.select("visual_fidelity", query_from({"state": "all"})) == []


def test_finals_are_bounded_oldest_first() -> None:
    view = AgreementView(keep_finals=10)
    for hour in range(100):
        view.apply(_window(hour, final=True))
    starts = [r["window_start"][8:13] for r in view.select(None, query_from({"state": "final"}))]
    assert len(starts) == 10 and starts[0] == "04T18" and starts[-1] == "05T03"


@pytest.mark.parametrize("params, named", [({"state": "closed"}, "state"), ({"window": "hourly"}, "window"),
                                           ({"from": "yesterday"}, "from"),
                                           ({"to": "2026-11-01T00:00:00"}, "zone")])
def test_bad_query_parameters_are_named(params: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        query_from(params)
