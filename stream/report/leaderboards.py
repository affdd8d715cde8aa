"""Model leaderboards for the report: from the model-rankings topic, or fitted offline from the events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from stream.config import rank_config
from stream.ranking.leaderboard import refit
from stream.ranking.votes import OVERALL, Tally, VoteBook
from stream.settings import Settings


def offline(events: Iterable[Mapping[str, Any]], settings: Settings,
            qualified: set[str] | None) -> list[dict[str, Any]]:
    """The ranking stage's fit over every pairwise vote of the file (votes of `qualified`
    annotators only, when known and the settings rank qualified votes only)."""
    book = VoteBook(tuple(settings.dimensions))
    for offset, event in enumerate(events):
        book.add(dict(event), offset)
    cfg = rank_config(settings)
    chosen = qualified if cfg.qualified_only else None
    rng = np.random.default_rng(settings.ranking_seed)
    boards = refit(Tally([book]), chosen, cfg, rng, datetime.now(UTC))
    return ordered([b.record.model_dump(mode="json") for b in boards])


def ordered(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """By modality, the overall board first, then dimensions by name."""
    return sorted(records, key=lambda r: (r["modality"], r["dimension"] != OVERALL, r["dimension"]))


def rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per configuration of a board, best first (the record's own order)."""
    out = []
    for m in record["models"]:
        plausible = (None if m.get("rank_best") is None
                     else f"{m['rank_best']}" if m["rank_best"] == m["rank_worst"]
                     else f"{m['rank_best']}-{m['rank_worst']}")
        out.append({"rank": m.get("rank"), "model_id": m["model_id"], "score": m.get("score"),
                    "ci_low": m.get("ci_low"), "ci_high": m.get("ci_high"), "plausible_ranks": plausible,
                    "wins": m.get("wins"), "votes": m.get("votes")})
    return out
