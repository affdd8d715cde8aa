"""Flags: evaluate each agreement record against the policy, dedupe in Redis, send to qa-flags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from schemas.outputs import AgreementRecord, Flag
from stream.flags import Policy, decide, flag_id, flag_key
from stream.flagstore import FlagStore
from stream.merge import Key, Merger

if TYPE_CHECKING:
    from stream.app import Context


class Flagger:
    """Turns records into at most one open flag per dimension, slice and window size."""

    def __init__(self, ctx: Context, store: FlagStore):
        self.ctx = ctx
        self.store = store
        self.open: dict[str, str] | None = None
        s = ctx.settings
        self.policies = {d: Policy(s.threshold_for(d), s.flag_confidence, s.flag_margin,
                                   s.min_pairable_for(d))
                         for d in [*s.dimensions, *(f"pairwise.{x}" for x in s.dimensions)]}

    def show(self, fkey: str) -> None:
        """Open-flag gauge of one key: 1 while open, 0 once its records were checked."""
        dimension, slice_, size = fkey.split("|")
        gauge = self.ctx.metrics.flags_open.labels(dimension, slice_, f"{size}s")
        gauge.set(1 if fkey in (self.open or {}) else 0)
        for kind in ("agreement_low", "agreement_recovered"):  # at 0, so the first flag is an increase
            self.ctx.metrics.flags.labels(kind, dimension, slice_, f"{size}s")

    def release(self) -> None:
        """The merge stage moved away: the next owner reloads from Redis and reports the gauge."""
        self.open = None
        self.ctx.metrics.flags_open.clear()

    async def evaluate(self, record: AgreementRecord, key: Key, merger: Merger) -> Flag | None:
        # only the merge stage raises flags and it runs on one worker at a time, so a copy of the
        # open flags (loaded when this worker took over) spares a Redis round trip per record;
        # Redis still decides every raise and clear atomically
        if self.open is None:
            self.open = await self.store.all_open()
            for loaded in self.open:
                self.show(loaded)
        data = record.model_dump(mode="json")
        fkey = flag_key(data)
        opened = self.open.get(fkey)
        decision = decide(self.policies[record.dimension], data, opened is not None,
                          record.p_below_recovery)
        if decision is None:
            return None
        opened = await self.store.open_flag(fkey)  # the authoritative state before acting
        if decision.kind == "agreement_low":
            new_id = flag_id("agreement_low", data, data["window_start"])
            if not await self.store.try_open(fkey, new_id):
                return None  # another worker, an earlier run, or the cooldown got there first
            self.open[fkey] = new_id
            opened_id = None
        else:
            if opened is None:
                self.open.pop(fkey, None)
                return None
            new_id = flag_id("agreement_recovered", data, opened)
            if not await self.store.try_close(fkey, opened):
                return None
            self.open.pop(fkey, None)
            opened_id = opened
        people, values = merger.explain(key, record.final)
        self.ctx.metrics.flags.labels(decision.kind, record.dimension, record.slice,
                                      f"{record.window_size_s}s").inc()
        return Flag(
            flag_id=new_id, kind=decision.kind, opened_flag_id=opened_id, reason=decision.reason,
            dimension=record.dimension, slice=record.slice, window_size_s=record.window_size_s,
            window_start=record.window_start, window_end=record.window_end, alpha=record.alpha,
            ci_low=record.ci_low, ci_high=record.ci_high, p_below_threshold=record.p_below_threshold,
            threshold=record.threshold, n_pairable_values=record.n_pairable_values,
            final=record.final, top_annotators=people, confused_values=values,
            tipping_event_at=record.last_event_at,
            raised_at=datetime.now(UTC),
        )
