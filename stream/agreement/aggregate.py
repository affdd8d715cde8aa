"""One partition's partial coincidence matrices per dimension, slice and window (pure, no Faust)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from stream.agreement import attribution
from stream.agreement.attribution import Distances, explain_distance
from stream.core.units import Change, counts_for
from stream.core.windows import Tumbling
from stream.core.wire import PartialItem, PartialsMessage, UnitState
from stream.stats import Coincidence, UnitDelta

# (dimension, slice, window size s, window start epoch s)
Key = tuple[str, str, int, int]


@dataclass
class WindowAgg:
    """A window's partial state on one partition: the coincidence matrix and who contributed."""

    matrix: Coincidence
    annotators: Counter[str] = field(default_factory=Counter)
    disagreement: dict[str, list[float]] = field(default_factory=dict)
    last_event_at: float = 0.0  # Kafka timestamp (producer wall clock) of the newest answer applied

    def change(self, delta: UnitDelta, who: str, before: Any, after: Any) -> None:
        self.matrix.apply(delta)
        if before is None and after is not None:
            self.annotators[who] += 1
        elif before is not None and after is None:
            self._leave(who)

    def _leave(self, who: str) -> None:
        self.annotators[who] -= 1
        if self.annotators[who] <= 0:
            del self.annotators[who]

    def replace(self, delta: UnitDelta, joined: Iterable[str], left: Iterable[str]) -> None:
        """A unit's coalesced change: several answers at once."""
        self.matrix.apply(delta)
        self.annotators.update(joined)
        for who in left:
            self._leave(who)


@dataclass(frozen=True)
class UnitSpec:
    """Dimension names and value count of one unit kind ('c' ratings, 'p' pairwise)."""

    dimensions: tuple[str, ...]
    n_values: int
    nominal: bool = False

    @property
    def distance(self) -> Distances:
        return explain_distance(self.n_values, self.nominal)


class PartitionAgg:
    """Applies unit changes to open windows; knows which windows this partition has closed."""

    def __init__(
        self, partition: int, specs: dict[str, UnitSpec], slices: list[str], windows: list[Tumbling]
    ):
        self.partition = partition
        self.specs = specs
        self.slice_fields = slices
        self.windows = windows
        self.open: dict[Key, WindowAgg] = {}
        self.dirty: set[Key] = set()
        self.late: Counter[tuple[str, str, int]] = Counter()
        self.closed_through: dict[int, int] = {w.size_s: 0 for w in windows}
        self.watermark = 0.0
        self._distance = {kind: spec.distance for kind, spec in specs.items()}
        # unit key -> [state before its first queued change, latest state, newest produced_at]
        self.pending: dict[str, list[Any]] = {}

    def slices_of(self, state: UnitState) -> list[str]:
        category, modality = state["s"]
        names = {"all": "all", "source_category": f"source_category={category}",
                 "modality": f"modality={modality}"}
        return [names[f] for f in self.slice_fields if f == "all" or state["s"][0] is not None]

    def keys_of(self, state: UnitState, dim: str) -> tuple[list[Key], int]:
        """The open window keys a unit's dimension feeds, and how many windows were closed."""
        slices = self.slices_of(state)
        keys: list[Key] = []
        closed = 0
        for window in self.windows:
            start = window.start_of(state["t"])
            if window.end_of(start) <= self.closed_through[window.size_s]:
                closed += 1
                for name in slices:
                    self.late[(dim, name, window.size_s)] += 1
            else:
                keys.extend((dim, name, window.size_s, start) for name in slices)
        return keys, closed

    def apply(self, state: UnitState, changes: Sequence[Change], produced_at: float = 0.0) -> int:
        """Apply one unit's changes to every open window it belongs to; returns how many were late."""
        spec = self.specs[state["k"]]
        late = 0
        for ch in changes:
            keys, closed = self.keys_of(state, spec.dimensions[ch.dim])
            late += closed
            if not keys:
                continue
            # prepared once per change, then applied to every window and slice it touches
            delta = UnitDelta.of(ch.old, ch.new)
            after = values_of(state, ch.dim)
            before = dict(after)
            before.pop(ch.annotator, None)
            if ch.old_value is not None:
                before[ch.annotator] = ch.old_value
            who = attribution.change(before, after, self._distance[state["k"]])
            for key in keys:
                agg = self.open.get(key) or self._new(key, spec)
                agg.change(delta, ch.annotator, ch.old_value, ch.new_value)
                attribution.add(agg.disagreement, who)
                agg.last_event_at = max(agg.last_event_at, produced_at)
                self.dirty.add(key)
        return late

    def _new(self, key: Key, spec: UnitSpec) -> WindowAgg:
        agg = WindowAgg(Coincidence(spec.n_values))
        self.open[key] = agg
        return agg

    def is_late(self, state: UnitState) -> bool:
        """Whether any window the unit belongs to is closed (its answers are applied one by one)."""
        return any(w.end_of(w.start_of(state["t"])) <= self.closed_through[w.size_s] for w in self.windows)

    def queue(self, key: str, before: UnitState | None, after: UnitState, changes: Sequence[Change],
              produced_at: float) -> None:
        """Hold a unit's change, so several answers to one unit in a batch touch each window's
        matrix once (the same counts as one by one: the delta goes from the first state to the
        last). A change that moves the unit's windows (its time or slices) is applied at once, as
        are the changes queued before it."""
        if before is not None and (before["t"], before["s"]) != (after["t"], after["s"]):
            self.flush()
            self.apply(after, changes, produced_at)
            return
        entry = self.pending.setdefault(key, [before, after, produced_at])
        entry[1], entry[2] = after, max(entry[2], produced_at)

    def flush(self) -> None:
        """Apply the queued units (before anything reads or closes the windows)."""
        for before, after, produced_at in self.pending.values():
            self._apply_unit(before, after, produced_at)
        self.pending.clear()

    def _apply_unit(self, before: UnitState | None, after: UnitState, produced_at: float) -> None:
        spec = self.specs[after["k"]]
        for dim, name in enumerate(spec.dimensions):
            old = values_of(before, dim) if before is not None else {}
            new = values_of(after, dim)
            if old == new:
                continue
            keys, _ = self.keys_of(after, name)
            # tuples: their expansion is memoised (a list or array is validated and expanded anew,
            # which was a quarter of this method's time)
            zeros = (0,) * spec.n_values
            delta = UnitDelta.of(tuple(counts_for(before["a"], dim, spec.n_values)) if before is not None
                                 else zeros, tuple(counts_for(after["a"], dim, spec.n_values)))
            who = attribution.change(old, new, self._distance[after["k"]])
            joined, left = new.keys() - old.keys(), old.keys() - new.keys()
            for key in keys:
                agg = self.open.get(key) or self._new(key, spec)
                agg.replace(delta, joined, left)
                attribution.add(agg.disagreement, who)
                agg.last_event_at = max(agg.last_event_at, produced_at)
                self.dirty.add(key)

    def rebuild(self, states: Iterable[UnitState]) -> int:
        """Recompute open windows from the unit table after a restart or rebalance."""
        count = 0
        for state in states:
            spec = self.specs[state["k"]]
            zeros = (0,) * spec.n_values
            for dim, name in enumerate(spec.dimensions):
                values = values_of(state, dim)
                keys, _ = self.keys_of(state, name)
                if not values or not keys:
                    continue
                delta = UnitDelta.of(zeros, tuple(counts_for(state["a"], dim, spec.n_values)))
                who = attribution.contributions(values, self._distance[state["k"]])
                for key in keys:
                    agg = self.open.get(key) or self._new(key, spec)
                    agg.matrix.apply(delta)
                    agg.annotators.update(values.keys())
                    attribution.add(agg.disagreement, who)
                    self.dirty.add(key)
            count += 1
        self.late.clear()  # rebuilt answers are not late arrivals
        return count

    def advance(self, watermark: float) -> dict[int, int]:
        """Raise the watermark; returns {window size: new closed_through} for sizes that closed more."""
        self.flush()  # queued answers arrived before this progress: not late
        self.watermark = max(self.watermark, watermark)
        moved = {}
        for window in self.windows:
            through = window.closed_through(self.watermark)
            if through > self.closed_through[window.size_s]:
                self.closed_through[window.size_s] = through
                moved[window.size_s] = through
        return moved

    def pop_closed(self) -> Iterator[tuple[Key, WindowAgg]]:
        """Remove and yield the windows that the current closed_through marks final."""
        self.flush()
        for key in [k for k in self.open if k[3] + k[2] <= self.closed_through[k[2]]]:
            self.dirty.discard(key)
            yield key, self.open.pop(key)

    def take_dirty(self) -> list[tuple[Key, WindowAgg]]:
        """Windows changed since the last snapshot, for the periodic partial emission."""
        self.flush()
        out = [(k, self.open[k]) for k in self.dirty if k in self.open]
        self.dirty.clear()
        return out

    def take_late(self, size_s: int) -> dict[str, int]:
        out = {f"{d}|{s}": n for (d, s, w), n in self.late.items() if w == size_s}
        for d, s, w in [k for k in self.late if k[2] == size_s]:
            del self.late[(d, s, w)]
        return out


def values_of(state: UnitState, dim: int) -> dict[str, int]:
    """Annotator -> value index of one dimension, from the unit's kept answers."""
    return {name: entry[2][dim] for name, entry in state["a"].items()
            if entry[2] is not None and dim < len(entry[2]) and entry[2][dim] is not None}


def partial_item(key: Key, agg: WindowAgg) -> PartialItem:
    """Wire form of one window's partial state on one partition."""
    dim, name, size, start = key
    return {"d": dim, "s": name, "w": size, "b": start, "m": agg.matrix.to_state(),
            "a": sorted(agg.annotators),
            # serialised at once by the caller, so the live dict goes as is (copying cost 11% of CPU)
            "x": agg.disagreement,
            "t": agg.last_event_at}


def partials_message(partition: int, windows: Iterable[tuple[Key, WindowAgg]]) -> PartialsMessage:
    """A live snapshot of a partition's changed windows (as a dict: the offline replay's form)."""
    return {"t": "partials", "p": partition, "items": [partial_item(k, w) for k, w in windows]}


# Every internal message stays under Apache Kafka's default message.max.bytes (1 MB) with room to
# spare: a day of windows closing at once with 300 annotators made one closure 3.3 MB, and the
# broker rejects a message over its limit (silently, for a batch between 1 and 4 MiB)
MAX_MESSAGE_BYTES = 512 * 1024


def chunks(items: list[bytes], limit: int = MAX_MESSAGE_BYTES) -> list[list[bytes]]:
    """Serialised items split into runs whose JSON list stays under `limit` bytes; at least one
    run (maybe empty). An item is never split: one larger than `limit` travels alone."""
    out: list[list[bytes]] = [[]]
    size = 0
    for item in items:
        if out[-1] and size + len(item) + 1 > limit:
            out.append([])
            size = 0
        out[-1].append(item)
        size += len(item) + 1
    return out


def with_items(head: dict[str, Any], items: list[bytes]) -> bytes:
    """`head` plus `"items": [...]` of already serialised items, as one JSON object."""
    return orjson.dumps(head)[:-1] + b',"items":[' + b",".join(items) + b"]}"


def snapshot_messages(partition: int, windows: Iterable[tuple[Key, WindowAgg]],
                      limit: int = MAX_MESSAGE_BYTES) -> list[bytes]:
    """A live snapshot of a partition's changed windows, in as many messages as its size needs."""
    items = [orjson.dumps(partial_item(k, w)) for k, w in windows]
    return [with_items({"t": "partials", "p": partition}, run) for run in chunks(items, limit) if run]
