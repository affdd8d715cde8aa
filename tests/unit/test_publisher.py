"""Live-record throttle of the merge stage: a change inside the interval is held, then sent."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stream.agents import merge
from stream.settings import Settings

KEY = ("motion_quality", "all", 3600, 0)
OTHER = ("visual_fidelity", "all", 3600, 0)


@pytest.fixture
def clock(monkeypatch: Any) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(merge.time, "monotonic", lambda: now[0])
    return now


def publisher() -> merge.Publisher:
    return merge.Publisher(SimpleNamespace(settings=Settings(snapshot_interval_s=0.25)))  # type: ignore[arg-type]


def test_first_change_goes_out_at_once_and_the_next_is_held(clock: list[float]) -> None:
    p = publisher()
    assert p.due(KEY)
    clock[0] += 0.1
    assert not p.due(KEY)
    assert p.take_due() == []  # still inside the interval
    clock[0] += 0.15
    assert p.take_due() == [KEY]
    assert p.take_due() == []  # sent once


def test_held_key_sent_by_the_next_change_is_not_sent_again(clock: list[float]) -> None:
    p = publisher()
    assert p.due(KEY) and p.due(OTHER)
    clock[0] += 0.1
    assert not p.due(KEY) and not p.due(OTHER)
    clock[0] += 0.2
    assert p.due(KEY)  # a new change after the interval goes out itself
    assert p.take_due() == [OTHER]
