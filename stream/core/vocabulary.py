"""The product's vocabulary, named once: pairwise dimensions, scales and answer codes (no imports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PAIRWISE_PREFIX = "pairwise."
# value codes of a pairwise answer, as every stage counts them (nominal: the order carries nothing)
PREFERENCES = ("A", "B", "tie")
PREFERENCE_CODES = {p: code for code, p in enumerate(PREFERENCES)}
PAIRWISE_SCALE = list(range(len(PREFERENCES)))  # nominal codes for A / B / tie


def pairwise(dimension: str) -> str:
    """The agreement dimension of a pairwise question about `dimension`."""
    return PAIRWISE_PREFIX + dimension


def is_pairwise(dimension: str) -> bool:
    return dimension.startswith(PAIRWISE_PREFIX)


def pairwise_dimensions(dimensions: Sequence[str]) -> list[str]:
    return [pairwise(d) for d in dimensions]


def all_dimensions(dimensions: Sequence[str]) -> list[str]:
    """Rating dimensions, then their pairwise counterparts: every dimension agreement is kept for."""
    return [*dimensions, *pairwise_dimensions(dimensions)]


def scale_of(dimension: str, scale: Sequence[int]) -> list[int]:
    """The values a dimension's answers take: the rating scale, or the A/B/tie codes."""
    return list(PAIRWISE_SCALE) if is_pairwise(dimension) else list(scale)


def kind_dimensions(kind: str, dimensions: Sequence[str]) -> list[str]:
    """Agreement dimensions of a unit kind: 'c' (clip ratings) or 'p' (pairs)."""
    return list(dimensions) if kind == "c" else pairwise_dimensions(dimensions)


def answer_codes(kind: str, answers: Mapping[str, Any], dimensions: Sequence[str],
                 low: int) -> list[int | None]:
    """An event's answers as value codes in dimension order: score - low for ratings ('c'),
    A/B/tie as 0/1/2 for pairs ('p'); None where a dimension was not answered."""
    if kind == "c":
        return [None if (s := answers.get(d)) is None else int(s) - low for d in dimensions]
    return [None if (p := answers.get(d)) is None else PREFERENCE_CODES[p] for d in dimensions]


def event_codes(event: Mapping[str, Any], dimensions: Sequence[str], low: int) -> list[int | None]:
    """Codes of a decoded rating or pairwise event (a dict as ingest validated it)."""
    if event["kind"] == "rating":
        return answer_codes("c", event["scores"], dimensions, low)
    return answer_codes("p", event["preferences"], dimensions, low)


def n_values(scale: Sequence[int]) -> dict[str, int]:
    """How many values a unit kind's answers take: {'c': rating scale size, 'p': 3}."""
    return {"c": len(scale), "p": len(PAIRWISE_SCALE)}
