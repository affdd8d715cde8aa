"""Numbers as the report prints them: counts without decimals, alphas to 3 places, intervals."""

from __future__ import annotations

from typing import Any


def count(value: Any) -> str:
    """2086.0 -> "2,086"; a fractional count (coincidences weigh a pair 1/(m-1)) keeps one decimal."""
    if value is None:
        return "-"
    number = float(value)
    if abs(number - round(number)) < 0.05:
        return f"{round(number):,}"
    return f"{number:,.1f}"


def ratio(value: Any, digits: int = 3) -> str:
    """An alpha, agreement or probability: fixed decimals; "-" when undefined."""
    return "-" if value is None else f"{float(value):.{digits}f}"


def interval(low: Any, high: Any, digits: int = 2) -> str:
    """"[0.84, 0.90]"; "-" without an interval."""
    if low is None or high is None:
        return "-"
    return f"[{float(low):.{digits}f}, {float(high):.{digits}f}]"


def score(value: Any) -> str:
    """A leaderboard score (Elo-like points): whole points."""
    return "-" if value is None else f"{float(value):.0f}"
