"""A breaker holds calls back for its pause after a failure, then lets them through again."""

from __future__ import annotations

from stream.io.retry import Breaker


def test_a_tripped_breaker_holds_calls_for_its_pause() -> None:
    now = [10.0]
    gate = Breaker(5.0, clock=lambda: now[0])
    assert not gate.tripped
    gate.trip()
    assert gate.tripped
    now[0] += 4.9
    assert gate.tripped
    now[0] += 0.2
    assert not gate.tripped
    gate.trip()  # a failure on the next try starts a new pause
    assert gate.tripped
