"""The flagger: each agreement record against its dimension's policy, at most one open flag per key."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.outputs import AgreementRecord, Flag
from stream.agreement.merge import Key, Merger
from stream.flags.policy import Decision, Policy, decide_clear, decide_raise, flag_id, flag_key
from stream.flags.store import OpenFlags
from stream.metrics import Metrics


class Flagger:
    """Turns records into at most one open flag per dimension, slice and window size."""

    def __init__(self, policies: dict[str, Policy], bootstrap_samples: int, metrics: Metrics,
                 store: OpenFlags):
        self.policies = policies
        self.bootstrap_samples = bootstrap_samples
        self.metrics = metrics
        self.store = store
        self.open: dict[str, str] | None = None
        self.looked: dict[Key, int] = {}  # per window: the newest look tested for a raise

    def show(self, fkey: str) -> None:
        """Open-flag gauge of one key: 1 while open, 0 once its records were checked."""
        dimension, slice_, size = fkey.split("|")
        gauge = self.metrics.flags_open.labels(dimension, slice_, f"{size}s")
        gauge.set(1 if fkey in (self.open or {}) else 0)
        for kind in ("agreement_low", "agreement_recovered"):  # at 0, so the first flag is an increase
            self.metrics.flags.labels(kind, dimension, slice_, f"{size}s")

    def forget(self) -> None:
        """Redis failed mid-change: the copy of open flags may be wrong (a timed-out open can still
        run), so it is read again from Redis before the next decision."""
        self.open = None

    def release(self) -> None:
        """The merge stage moved away: the next owner reloads from Redis and reports the gauge."""
        self.open = None
        self.looked.clear()
        self.metrics.flags_open.clear()

    def raise_check(self, record: AgreementRecord, key: Key, merger: Merger) -> Decision | None:
        """Test a window for a raise once per look (the policy spends its error budget per look)."""
        policy = self.policies[record.dimension]
        look = policy.look(record.n_pairable_values, policy.minimum(record.rarest_share))
        # a final is the window's last record: forget the window, and test it only at a new look
        last = self.looked.pop(key, -1) if record.final else self.looked.get(key, -1)
        if look is None or look <= last or record.p_below_threshold is None:
            return None
        if not record.final:
            self.looked[key] = look
        p_live: float | None = record.p_below_threshold
        if key in merger.held:  # grown past the replicates the merge stage holds for a second
            p_live = merger.p_below(key, record.final, policy.threshold, merger.config.n_boot_live)
        if p_live is None or p_live < 0.5:
            # the record's own bootstrap (200 replicates) already rules a raise out: the look is
            # spent without paying for the look's larger bootstrap
            return None
        n_boot = policy.look_replicates(look, self.bootstrap_samples)
        p_below = merger.p_below(key, record.final, policy.threshold, n_boot)
        return decide_raise(policy, record.model_dump(include={"alpha", "n_pairable_values"}), look, p_below)

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
        if self.open.get(fkey) is None:
            decision = self.raise_check(record, key, merger)
        else:
            if record.final:
                self.looked.pop(key, None)
            policy = self.policies[record.dimension]
            decision = decide_clear(policy, data, record.p_below_recovery,
                                    policy.minimum(record.rarest_share))
        if decision is None:
            return None
        opened = await self.store.open_flag(fkey)  # the authoritative state before acting
        if decision.kind == "agreement_low":
            new_id, opened_id = flag_id("agreement_low", data, data["window_start"]), None
        elif opened is None:
            self.open.pop(fkey, None)
            return None
        else:
            new_id, opened_id = flag_id("agreement_recovered", data, opened), opened
        flag = self.flag(record, key, merger, decision, new_id, opened_id)
        if not await self.change(fkey, flag):
            return None  # another worker, an earlier run, or the cooldown got there first
        self.metrics.flags.labels(decision.kind, record.dimension, record.slice,
                                      f"{record.window_size_s}s").inc()
        return flag

    async def change(self, fkey: str, flag: Flag) -> bool:
        """Open or close in Redis, the flag kept pending there until its delivery is confirmed."""
        payload = flag.model_dump_json()
        assert self.open is not None
        if flag.opened_flag_id is None:
            if not await self.store.try_open(fkey, flag.flag_id, payload):
                return False
            self.open[fkey] = flag.flag_id
        else:
            if not await self.store.try_close(fkey, flag.opened_flag_id, payload, flag.flag_id):
                return False
            self.open.pop(fkey, None)
        return True

    def flag(self, record: AgreementRecord, key: Key, merger: Merger, decision: Decision, new_id: str,
             opened_id: str | None) -> Flag:
        people, values = merger.explain(key, record.final)
        return Flag(
            flag_id=new_id, kind=decision.kind, opened_flag_id=opened_id, reason=decision.reason,
            dimension=record.dimension, slice=record.slice, window_size_s=record.window_size_s,
            window_start=record.window_start, window_end=record.window_end, alpha=record.alpha,
            ci_low=record.ci_low, ci_high=record.ci_high,
            p_below_threshold=record.p_below_threshold if decision.p_below is None else decision.p_below,
            required_confidence=decision.required,
            threshold=record.threshold, n_pairable_values=record.n_pairable_values,
            final=record.final, top_annotators=people, confused_values=values,
            tipping_event_at=record.last_event_at,
            raised_at=datetime.now(UTC),
        )
