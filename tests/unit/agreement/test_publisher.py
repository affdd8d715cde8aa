"""Live-record throttle of the merge stage: a change inside the interval is held, then sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.outputs import AgreementRecord
from stream.agreement import publisher as merge
from stream.agreement.publisher import Publisher
from stream.metrics import Metrics
from stream.settings import Settings

KEY = ("motion_quality", "all", 3600, 0)
OTHER = ("visual_fidelity", "all", 3600, 0)


@pytest.fixture
def clock(monkeypatch: Any) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(merge.time, "monotonic", lambda: now[0])
    return now


def publisher() -> Publisher:
    return Publisher(Settings(snapshot_interval_s=0.25).snapshot_interval_s, Metrics())


def test_first_change_goes_out_at_once_and_the_next_is_held(clock: list[float]) -> None:
    p = publisher()
    assert p.select([KEY]) == [KEY]
    clock[0] += 0.1
    assert p.select([KEY]) == []  # inside the interval: held back
    assert p.select([]) == []
    clock[0] += 0.15
    assert p.select([]) == [KEY]  # the next message after the interval sends it
    assert p.select([]) == []  # once


def test_held_and_new_changes_go_out_together_once(clock: list[float]) -> None:
    p = publisher()
    assert p.select([KEY, OTHER]) == [KEY, OTHER]
    clock[0] += 0.1
    assert p.select([KEY, OTHER]) == []
    clock[0] += 0.2
    assert p.select([KEY]) == [KEY, OTHER]
    assert p.select([]) == []


def _record(start: int, final: bool) -> AgreementRecord:
    stamp = datetime.fromtimestamp(start, tz=UTC)
    return AgreementRecord(dimension="motion_quality", slice="all", window_size_s=3600, window_start=stamp,
                           window_end=stamp + timedelta(hours=1), level="ordinal", alpha=0.5, threshold=0.667,
                           n_units=3, n_pairable_units=3, n_pairable_values=6.0, n_annotators=2, final=final,
                           partitions_reporting=1, computed_at=stamp)


def test_a_final_older_than_the_newest_window_is_counted_and_forgotten(clock: list[float]) -> None:
    p = publisher()
    older = ("motion_quality", "all", 3600, 0)
    assert p.select([older]) == [older]
    p.observe(_record(3600, final=False))  # the gauges now follow the newer window
    p.observe(_record(0, final=True))
    assert p.metrics.windows_final.labels("3600s")._value.get() == 1
    assert older not in p.last_sent


def test_sends_older_than_the_interval_are_forgotten(clock: list[float]) -> None:
    p = publisher()
    for start in range(10_000):  # windows whose finals never reach this worker
        p.select([("motion_quality", "all", 3600, start)])
        clock[0] += 0.001
    assert len(p.last_sent) <= 2 * 250 + 64  # the last interval's sends (0.25 s at 1 ms apart)
    recent = ("motion_quality", "all", 3600, 9_999)
    assert p.select([recent]) == []  # a send inside the interval still holds the next one back
    clock[0] += 0.25
    assert p.select([]) == [recent]
