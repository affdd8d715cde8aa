"""Sum partial window matrices from every partition; decide when a window is final (pure, no Faust)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from schemas.outputs import AgreementRecord
from stream.stats import Coincidence, Level, bootstrap_alpha
from stream.windows import to_datetime

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


class Merger:
    """State lives in `store` (a Faust table in the worker, a dict in tests), so it survives restarts."""

    def __init__(self, config: MergeConfig, store: MutableMapping[str, Any]):
        self.config = config
        self.store = store

    def closed_through(self, partition: int, size: int) -> int:
        return int(self.store.get(f"c|{partition}|{size}", 0))

    def is_final(self, key: Key) -> bool:
        """Final once every partition has closed the window (its last partial came before)."""
        _, _, size, start = key
        end = start + size
        return all(self.closed_through(p, size) >= end for p in range(self.config.n_partitions))

    def on_partial(self, msg: dict[str, Any]) -> Key | None:
        """Store a partition's latest partial; None when the window was already final (a replay)."""
        key: Key = (msg["d"], msg["s"], int(msg["w"]), int(msg["b"]))
        if self.is_final(key):
            return None
        name = window_key(key)
        value = dict(self.store.get(name) or {"parts": {}, "ann": {}})
        value["parts"] = {**value["parts"], str(msg["p"]): msg["m"]}
        value["ann"] = {**value["ann"], str(msg["p"]): msg["a"]}
        self.store[name] = value
        return key

    def on_closed(self, msg: dict[str, Any]) -> list[Key]:
        """Record a partition's closure and late counts; returns the windows that became final."""
        size = int(msg["w"])
        name = f"c|{msg['p']}|{size}"
        if int(msg["through"]) > int(self.store.get(name, 0)):
            self.store[name] = int(msg["through"])
        for label, count in msg.get("late", {}).items():
            late_name = f"l|{label}|{size}"
            self.store[late_name] = int(self.store.get(late_name, 0)) + int(count)
        return [k for k in self.open_windows() if k[2] == size and self.is_final(k)]

    def open_windows(self) -> Iterator[Key]:
        for name in list(self.store):
            if name.startswith("w|"):
                yield parse_window_key(name)

    def matrix(self, key: Key) -> tuple[Coincidence, int]:
        value = self.store.get(window_key(key)) or {"parts": {}, "ann": {}}
        total: Coincidence | None = None
        for state in value["parts"].values():
            part = Coincidence.from_state(state)
            total = part if total is None else total + part
        annotators = {a for names in value["ann"].values() for a in names}
        dim = key[0]
        return total or Coincidence(len(self.config.scales[dim])), len(annotators)

    def record(self, key: Key, final: bool, now: datetime | None = None) -> AgreementRecord:
        """The agreement record of a window: alpha, bootstrap CI, sample sizes."""
        dim, name, size, start = key
        matrix, n_annotators = self.matrix(key)
        scale = np.asarray(self.config.scales[dim], dtype=float)
        level = self.config.levels[dim]
        result = matrix.get(scale, level)
        boot = bootstrap_alpha(
            matrix.o, scale, level, matrix.n_pairs, threshold=self.config.threshold,
            n_boot=self.config.n_boot, rng=np.random.default_rng(self.config.seed),
        ) if self.config.n_boot and result.alpha is not None else None
        late = int(self.store.get(f"l|{dim}|{name}|{size}", 0)) if final else 0
        value = self.store.get(window_key(key)) or {"parts": {}}
        return AgreementRecord(
            dimension=dim, slice=name, window_size_s=size, window_start=to_datetime(start),
            window_end=to_datetime(start + size), level=level, alpha=result.alpha,
            alpha_reason=result.reason, ci_low=boot.ci_low if boot else None,
            ci_high=boot.ci_high if boot else None,
            p_below_threshold=boot.p_below if boot else None, threshold=self.config.threshold,
            n_units=matrix.n_units, n_pairable_units=matrix.n_pairable_units,
            n_pairable_values=result.n_pairable_values, n_annotators=n_annotators, late=late,
            final=final, partitions_reporting=len(value["parts"]),
            computed_at=now or datetime.now(UTC),
        )

    def finish(self, key: Key) -> None:
        """Forget a window after its final record went out, and reset its late counter."""
        self.store.pop(window_key(key), None)
        dim, name, size, _ = key
        self.store.pop(f"l|{dim}|{name}|{size}", None)
