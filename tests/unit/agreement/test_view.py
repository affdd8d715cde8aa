"""The agreement view stays bounded when windows never go final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from stream.agreement.view import AgreementView


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
