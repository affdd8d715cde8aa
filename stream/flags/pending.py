"""Flags changed in Redis but not yet confirmed delivered: when to send them again, when to confirm."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from schemas.outputs import Flag
from stream.flags.flagger import Flagger
from stream.flags.store import OpenFlags
from stream.io.retry import Breaker

log = logging.getLogger(__name__)


class Redelivery:
    """The merge stage's bookkeeping between Redis and `qa-flags`: a QA lead may see a flag twice
    (same flag id) but never misses one."""

    def __init__(self, store: OpenFlags, flagger: Flagger, gate: Breaker):
        self.store = store
        self.flagger = flagger
        self.gate = gate
        # pending flags are read and sent again after each takeover (a previous owner's) and after
        # each Redis failure
        self.resumed = False

    def handed_over(self) -> None:
        self.resumed = False

    async def due(self) -> list[Flag]:
        """The pending flags to send again now: none while Redis is held back or once resent."""
        if self.resumed or self.gate.tripped:
            return []
        try:
            pending = await self.store.pending()
        except RedisError as exc:
            self.failed(exc, "pending flags not checked")
            return []
        self.resumed = True
        return [Flag.model_validate_json(raw) for raw in pending]

    async def confirm(self, flag_ids: list[str]) -> None:
        """Called once `qa-flags` acknowledged them; while Redis is away they stay pending."""
        if not flag_ids or self.gate.tripped:
            return
        try:
            await self.store.delivered(flag_ids)
        except RedisError as exc:
            self.failed(exc, "flag delivery not confirmed")

    def failed(self, exc: RedisError, what: str) -> None:
        """Hold Redis calls back, and resend the pending flags once it answers: a call that timed
        out may still run when Redis resumes (a paused server executes its queue), leaving a flag
        open and pending that this worker never sent."""
        self.gate.trip()
        self.resumed = False
        self.flagger.forget()
        log.warning("%s, Redis unavailable: %r", what, exc)
