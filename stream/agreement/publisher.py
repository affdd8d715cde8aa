"""Which windows get a live agreement record now, and the gauges of each key's newest window."""

from __future__ import annotations

import time
from collections.abc import Iterable

from schemas.outputs import AgreementRecord
from stream.agreement.merge import Key
from stream.metrics import Metrics


class Publisher:
    """Rate-limits live records per window and keeps gauges on each key's newest window."""

    def __init__(self, interval_s: float, metrics: Metrics):
        self.interval_s = interval_s
        self.metrics = metrics
        self.last_sent: dict[Key, float] = {}
        self._kept = 64  # entries after the last pruning
        self.pending: set[Key] = set()
        self.newest: dict[tuple[str, str, str], int] = {}

    def select(self, changed: Iterable[Key]) -> list[Key]:
        """Windows due a live record: changed now or held back, and past their interval.

        Trailing edge: a change inside the interval goes out with the first message read after the
        interval (the unit stage sends one every interval while anything changes), not with its
        window's next change, which may never come before the window closes.
        """
        now, interval = time.monotonic(), self.interval_s
        self.pending.update(changed)
        ready = sorted(k for k in self.pending if now - self.last_sent.get(k, 0.0) >= interval)
        for key in ready:
            self.last_sent[key] = now
            self.pending.discard(key)
        if len(self.last_sent) > 2 * self._kept:
            self._forget_older(now - interval)
        return ready

    def _forget_older(self, before: float) -> None:
        """A send older than the interval holds nothing back, so its entry can go: without this,
        windows whose final never reaches this worker (its partitions moved) would stay forever.
        Amortised: run when the map doubled since the last time."""
        self.last_sent = {k: t for k, t in self.last_sent.items() if t > before}
        self._kept = max(len(self.last_sent), 64)

    def observe(self, record: AgreementRecord) -> None:
        m, start = self.metrics, int(record.window_start.timestamp())
        labels = (record.dimension, record.slice, f"{record.window_size_s}s")
        if record.final:  # every final counts and is forgotten, also one older than the gauges show
            m.windows_final.labels(labels[2]).inc()
            final_key = (record.dimension, record.slice, record.window_size_s, start)
            self.last_sent.pop(final_key, None)
            self.pending.discard(final_key)
        if start < self.newest.get(labels, 0):
            return  # gauges follow each key's newest window only
        self.newest[labels] = start
        if record.alpha is not None:
            m.alpha.labels(*labels).set(record.alpha)
        if record.ci_low is not None and record.ci_high is not None:
            m.alpha_ci.labels(*labels, "low").set(record.ci_low)
            m.alpha_ci.labels(*labels, "high").set(record.ci_high)
        m.pairable.labels(*labels).set(record.n_pairable_values)


def record_key(record: AgreementRecord) -> bytes:
    """The agreement topic's key: one key per dimension, slice and window size."""
    return f"{record.dimension}|{record.slice}|{record.window_size_s}".encode()
