"""Live-record throttle of the merge stage: a change inside the interval is held, then sent; behind
the stream, the interval stretches to the lag."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stream.agents import merge
from stream.metrics import Metrics
from stream.settings import Settings

KEY = ("motion_quality", "all", 3600, 0)
OTHER = ("visual_fidelity", "all", 3600, 0)


@pytest.fixture
def clock(monkeypatch: Any) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(merge.time, "monotonic", lambda: now[0])
    return now


def publisher() -> merge.Publisher:
    ctx: Any = SimpleNamespace(settings=Settings(snapshot_interval_s=0.25), metrics=Metrics())
    return merge.Publisher(ctx)


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


def test_behind_the_stream_the_interval_stretches_to_the_lag(clock: list[float]) -> None:
    p = publisher()
    assert p.select([KEY], lag_s=2.0) == [KEY]
    clock[0] += 1.0
    assert p.select([KEY], lag_s=2.0) == []  # past 0.25 s, but a 2 s old view needs no refresh yet
    assert p.ctx.metrics.live_interval._value.get() == 2.0
    clock[0] += 1.0
    assert p.select([], lag_s=2.0) == [KEY]  # held, not lost
    clock[0] += 0.25
    assert p.select([KEY], lag_s=0.1) == [KEY]  # caught up: the snapshot interval again
    assert p.ctx.metrics.live_interval._value.get() == 0.25


def test_within_the_latency_target_the_interval_stays(clock: list[float]) -> None:
    p = publisher()
    assert p.select([KEY], lag_s=merge.STRETCH_AFTER_S) == [KEY]
    clock[0] += 0.25
    assert p.select([KEY], lag_s=merge.STRETCH_AFTER_S) == [KEY]


def test_the_stretch_is_bounded(clock: list[float]) -> None:
    p = publisher()
    assert p.select([KEY], lag_s=3600.0) == [KEY]
    clock[0] += merge.MAX_STRETCH_S
    assert p.select([KEY], lag_s=3600.0) == [KEY]


def test_lag_of_a_message(monkeypatch: Any) -> None:
    monkeypatch.setattr(merge.time, "time", lambda: 1000.0)
    assert merge.lag_of(998.5) == 1.5
    assert merge.lag_of(1002.0) == 0.0  # a producer clock ahead of ours is no lag
    assert merge.lag_of(None) == 0.0 and merge.lag_of(0.0) == 0.0 and merge.lag_of(-1.0) == 0.0
