"""Annotator states tailed from the annotator-status topic: the batch stage's view, independent of Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson

from stream.io.kafka import load_and_tail
from stream.settings import Settings

log = logging.getLogger(__name__)


class StatusView:
    """Each annotator's newest state from its transitions on `annotator-status` (keyed by
    annotator, so in order). The batch stage judges answers against this rather than Redis: a
    stage waiting on Redis fills its buffer and Faust's one consumer then stops every stage. An
    annotator with no transition yet is 'qualifying' (new, not in the production pool)."""

    def __init__(self, on_bad: Callable[[], None] | None = None) -> None:
        self.states: dict[str, str] = {}
        self.ready = asyncio.Event()
        self.on_bad = on_bad

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One status record; a malformed one is counted and skipped (never a crash)."""
        try:
            record = orjson.loads(value or b"")
            annotator, state = record["annotator_id"], record["state"]
            if not isinstance(annotator, str) or state not in ("qualifying", "qualified", "retraining"):
                raise ValueError(f"not a status: {record!r:.80}")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            log.warning("skipped a malformed annotator-status record: %r", exc)
            if self.on_bad is not None:
                self.on_bad()
            return
        self.states[annotator] = state

    async def state(self, annotator_id: str) -> str:
        return self.states.get(annotator_id, "qualifying")

    async def run(self, settings: Settings, topic: str) -> None:
        await load_and_tail(settings, topic, self.apply, self.ready,
                            lambda: log.info("annotator states loaded: %d annotators", len(self.states)))
