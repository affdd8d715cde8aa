"""Sum partial window matrices from every partition; decide when a window is final (pure, no Faust)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from schemas.outputs import AgreementRecord
from stream.core.windows import to_datetime
from stream.flags.policy import confused_values, rarest_share, top_annotators
from stream.stats import Coincidence, Level, bootstrap_replicates

Key = tuple[str, str, int, int]


def window_key(key: Key) -> str:
    dim, name, size, start = key
    return f"w|{dim}|{name}|{size}|{start}"


def parse_window_key(text: str) -> Key:
    _, dim, name, size, start = text.split("|")
    return dim, name, int(size), int(start)


@dataclass(frozen=True)
class MergeConfig:
    n_partitions: int
    scales: dict[str, list[int]]  # dimension -> ordered scale values
    levels: dict[str, Level]
    threshold: float
    n_boot: int
    seed: int | None
    thresholds: dict[str, float] = field(default_factory=dict)  # per dimension, else threshold
    margin: float = 0.05  # hysteresis: recovered means confidently above threshold + margin
    n_boot_live: int = 200
    refresh: float = 0.01
    # and at most once a second per window: during a catch-up a window grows 1% between most
    # snapshots, and its live bootstraps were the merge stage's main cost (at live rates the 1%
    # takes longer than this, so nothing changes there)
    refresh_s: float = 1.0
    draws: str = "units"  # or "pairs", Krippendorff's original KALPHA


def _percentile(ordered: np.ndarray, q: float) -> float:
    """np.percentile(x, q) of sorted x with numpy's default linear interpolation, without its
    per-call overhead (it was 4% of the merge stage's CPU)."""
    position = q / 100.0 * (len(ordered) - 1)
    low = int(np.floor(position))
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (position - low) * (ordered[high] - ordered[low]))


class Merger:
    """Final partials and closures live in `store` (a Faust table in the worker, a dict in tests) so
    a restart loses nothing that decides a final; live partials are snapshots kept in memory, which
    the partitions re-send every snapshot interval while a window changes."""

    def __init__(self, config: MergeConfig, store: MutableMapping[str, Any],
                 clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.store = store
        self.clock = clock
        self.live: dict[Key, dict[str, dict[str, Any]]] = {}
        # per window: (draws, replicates, clock) of its last live bootstrap
        self._boot_cache: dict[Key, tuple[float, np.ndarray, float]] = {}
        # windows whose last live record reused replicates only because of `refresh_s`: grown past
        # `refresh`, so its interval is too stale to rule out a flag (Flagger.raise_check)
        self.held: set[Key] = set()
        # per window: (replicates, threshold, (ci_low, ci_high, p_below, p_recovery)) of its last record
        self._interval_cache: dict[Key, tuple[np.ndarray, float, tuple[float, float, float, float]]] = {}

    def closed_through(self, partition: int, size: int) -> int:
        return int(self.store.get(f"c|{partition}|{size}", 0))

    def is_final(self, key: Key) -> bool:
        """Final once every partition has closed the window (its final partial came with that)."""
        _, _, size, start = key
        end = start + size
        return all(self.closed_through(p, size) >= end for p in range(self.config.n_partitions))

    def on_partials(self, msg: dict[str, Any]) -> list[Key]:
        """A partition's live snapshot of its changed windows; returns the keys still open."""
        out = []
        for item in msg["items"]:
            key: Key = (item["d"], item["s"], int(item["w"]), int(item["b"]))
            if self.is_final(key):
                continue  # a snapshot that crossed its window's final: nothing left to show
            self.live.setdefault(key, {})[str(msg["p"])] = item
            out.append(key)
        return out

    def on_closed(self, msg: dict[str, Any]) -> list[Key]:
        """A partition closed windows up to `through`: store its final partials and late counts,
        then return the windows that every partition has now closed."""
        size, partition = int(msg["w"]), str(msg["p"])
        for item in msg.get("items", []):
            window = (item["d"], item["s"], size, int(item["b"]))
            if self.is_final(window):
                continue  # a replayed closure: this window's final went out already
            key = window_key(window)
            value = dict(self.store.get(key) or {"parts": {}})
            value["parts"] = {**value["parts"], partition: item}
            self.store[key] = value
        self._count_late(msg, partition, size)
        name = f"c|{partition}|{size}"
        if int(msg["through"]) > int(self.store.get(name, 0)):
            self.store[name] = int(msg["through"])
        candidates = {k for k in self.live if k[2] == size} | set(self.stored_windows(size))
        return sorted(k for k in candidates if self.is_final(k))

    def _count_late(self, msg: dict[str, Any], partition: str, size: int) -> None:
        """Add a closure's late counts once: a closure read again (this stage restarted before
        committing it) is older than the partition's stored progress, or the same message as the
        last one counted; a units restart re-announces its closure with new counts, and those add."""
        through, late = int(msg["through"]), msg.get("late", {})
        stored = int(self.store.get(f"c|{partition}|{size}", 0))
        digest = f"{through}|{orjson.dumps(late, option=orjson.OPT_SORT_KEYS).decode()}"
        if through < stored or (through == stored and self.store.get(f"d|{partition}|{size}") == digest):
            return
        self.store[f"d|{partition}|{size}"] = digest
        for label, count in late.items():
            late_name = f"l|{label}|{size}"
            self.store[late_name] = int(self.store.get(late_name, 0)) + int(count)

    def stored_windows(self, size: int) -> Iterator[Key]:
        for name in list(self.store):
            if name.startswith("w|"):
                key = parse_window_key(name)
                if key[2] == size:
                    yield key

    def parts(self, key: Key, final: bool) -> dict[str, dict[str, Any]]:
        """Each partition's partial: its final one where it has closed the window, else live."""
        stored = (self.store.get(window_key(key)) or {"parts": {}})["parts"]
        return dict(stored) if final else {**self.live.get(key, {}), **stored}

    def matrix(self, key: Key, final: bool) -> tuple[Coincidence, int, int]:
        parts = self.parts(key, final)
        total = Coincidence(len(self.config.scales[key[0]]))
        for item in parts.values():
            total = total + Coincidence.from_state(item["m"])
        annotators = {a for item in parts.values() for a in item["a"]}
        return total, len(annotators), len(parts)

    def record(self, key: Key, final: bool, now: datetime | None = None) -> AgreementRecord:
        """The agreement record of a window: alpha, bootstrap CI, sample sizes."""
        dim, name, size, start = key
        matrix, n_annotators, reporting = self.matrix(key, final)
        scale = np.asarray(self.config.scales[dim], dtype=float)
        level = self.config.levels[dim]
        result = matrix.get(scale, level)
        threshold = self.config.thresholds.get(dim, self.config.threshold)
        reps = self.replicates(key, matrix, scale, level, final) if result.alpha is not None else None
        ci_low, ci_high, p_below, p_recovery = self.interval(key, reps, threshold)
        late = int(self.store.get(f"l|{dim}|{name}|{size}", 0)) if final else 0
        return AgreementRecord(
            dimension=dim, slice=name, window_size_s=size, window_start=to_datetime(start),
            window_end=to_datetime(start + size), level=level, alpha=result.alpha,
            alpha_reason=result.reason,
            ci_low=ci_low, ci_high=ci_high, p_below_threshold=p_below, p_below_recovery=p_recovery,
            threshold=threshold,
            n_units=matrix.n_units, n_pairable_units=matrix.n_pairable_units,
            n_pairable_values=result.n_pairable_values,
            rarest_share=rarest_share(matrix.marginals), n_annotators=n_annotators, late=late,
            final=final, partitions_reporting=reporting,
            last_event_at=self.last_event_at(key, final),
            computed_at=now or datetime.now(UTC),
        )

    def interval(self, key: Key, reps: np.ndarray | None,
                 threshold: float) -> tuple[float | None, float | None, float | None, float | None]:
        """95% interval and P(alpha < threshold [+ margin]) of a replicate set; a live record
        reuses its window's replicates between refreshes, and these figures with them."""
        if reps is None:
            return None, None, None, None
        cached = self._interval_cache.get(key)
        if cached is not None and cached[0] is reps and cached[1] == threshold:
            return cached[2]
        ordered = np.sort(reps)
        # numpy's default (linear) percentiles and the shares below, read off one sorted copy
        low, high = _percentile(ordered, 2.5), _percentile(ordered, 97.5)
        below = np.searchsorted(ordered, [threshold, threshold + self.config.margin], side="left")
        out = (low, high, float(below[0]) / len(ordered), float(below[1]) / len(ordered))
        self._interval_cache[key] = (reps, threshold, out)
        return out

    def replicates(self, key: Key, matrix: Coincidence, scale: np.ndarray, level: Level,
                   final: bool) -> np.ndarray | None:
        """KALPHA bootstrap replicates of alpha (None when too few pairs or disabled).

        A final gets the full `n_boot`; a live record `n_boot_live`, and reuses the previous live
        replicates until the window's pairs grew by `refresh` (1%) and `refresh_s` passed: live
        records come several times a second per window and the bootstrap is their main cost.
        """
        n_boot = self.config.n_boot if final else min(self.config.n_boot, self.config.n_boot_live)
        if not n_boot:
            return None
        draws = self.draws(matrix)
        cached = self._boot_cache.get(key)
        now = self.clock()
        self.held.discard(key)
        if not final and cached is not None:
            if draws <= cached[0] * (1 + self.config.refresh):
                return cached[1]
            if now - cached[2] < self.config.refresh_s:
                self.held.add(key)
                return cached[1]
        reps, _ = bootstrap_replicates(matrix.o, scale, level, draws, n_boot=n_boot,
                                       rng=np.random.default_rng(self.config.seed))
        if not final and reps is not None:
            self._boot_cache[key] = (draws, reps, now)
        return reps

    def p_below(self, key: Key, final: bool, threshold: float, n_boot: int) -> float | None:
        """A fresh bootstrap's P(alpha < threshold) over `n_boot` replicates, for a flag look
        (records reuse cached replicates; a look tests far into the tail and needs more)."""
        matrix, _, _ = self.matrix(key, final)
        dim = key[0]
        scale = np.asarray(self.config.scales[dim], dtype=float)
        reps, _ = bootstrap_replicates(matrix.o, scale, self.config.levels[dim], self.draws(matrix),
                                       n_boot=max(1, n_boot), rng=np.random.default_rng(self.config.seed))
        return float(np.mean(reps < threshold)) if reps is not None else None

    def draws(self, matrix: Coincidence) -> float:
        """Pairs drawn per replicate. KALPHA draws every pairable pair (`pairs`), as if a unit's
        m(m-1)/2 pairs were independent; they are not, and its interval comes out about half as
        wide as resampling whole units. `units` draws one pair per pairable unit instead: the
        effective sample size, which roughly matches the unit bootstrap's width
        (docs/agreement-and-flags.md)."""
        return float(matrix.n_pairable_units) if self.config.draws == "units" else matrix.n_pairs

    def last_event_at(self, key: Key, final: bool) -> datetime | None:
        newest = max((float(item.get("t", 0.0)) for item in self.parts(key, final).values()), default=0.0)
        return to_datetime(newest) if newest > 0 else None

    def explain(self, key: Key, final: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Who disagrees most (summed over partitions) and which values are confused."""
        totals: dict[str, list[float]] = {}
        for item in self.parts(key, final).values():
            for name, (s, p) in item.get("x", {}).items():
                entry = totals.setdefault(name, [0.0, 0.0])
                entry[0] += s
                entry[1] += p
        matrix, _, _ = self.matrix(key, final)
        return top_annotators(totals), confused_values(matrix.o, self.config.scales[key[0]])

    def finish(self, key: Key) -> None:
        """Forget a window after its final record went out, and reset its late counter."""
        self.store.pop(window_key(key), None)
        self.live.pop(key, None)
        self._boot_cache.pop(key, None)
        self._interval_cache.pop(key, None)
        self.held.discard(key)
        dim, name, size, _ = key
        self.store.pop(f"l|{dim}|{name}|{size}", None)
