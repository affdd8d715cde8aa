"""Live-record throttle of the merge stage: a change inside the interval is held, then sent."""

from __future__ import annotations

from typing import Any

import pytest

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
