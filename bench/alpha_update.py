"""Benchmark: incremental alpha update per event vs full krippendorff recompute per event."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Run from a checkout without installing: make `stream` importable from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import krippendorff  # test oracle only (GPL-3.0), never a runtime dependency

from stream.stats import Coincidence, UnitDelta

SCALE = np.arange(1.0, 6.0)
MAX_RATERS = 5
LEVEL = "ordinal"


@dataclass
class Window:
    """Reliability data (raters x units, nan = missing), per-unit counts and the coincidences."""

    data: np.ndarray
    counts: np.ndarray
    coincidence: Coincidence


def build_window(n_units: int, rng: np.random.Generator) -> Window:
    """n_units units with 3-5 ratings on 1-5 around a true value, off by one 40% of the time."""
    data = np.full((MAX_RATERS, n_units), np.nan)
    truth = rng.integers(1, 6, size=n_units)
    n_ratings = rng.integers(3, MAX_RATERS + 1, size=n_units)
    noise = rng.choice([-1, 0, 0, 0, 1], size=(MAX_RATERS, n_units))
    ratings = np.clip(truth[None, :] + noise, 1, 5).astype(float)
    present = np.arange(MAX_RATERS)[:, None] < n_ratings[None, :]
    data[present] = ratings[present]
    counts = (data.T[:, :, None] == SCALE[None, None, :]).sum(axis=1).astype(np.int64)
    coincidence = Coincidence(len(SCALE))
    for unit_counts in counts:
        coincidence.update(unit_counts)
    return Window(data, counts, coincidence)


def random_event(window: Window, rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray]:
    """Mutate the data with a revision, arrival or retraction; return (unit, old, new) counts."""
    unit = int(rng.integers(window.data.shape[1]))
    rater = int(rng.integers(MAX_RATERS))
    old = window.counts[unit].copy()
    if np.isnan(window.data[rater, unit]) or rng.random() < 0.8:
        window.data[rater, unit] = float(rng.integers(1, 6))  # arrival or revision
    elif old.sum() > 2:
        window.data[rater, unit] = np.nan  # retraction (keep the unit pairable)
    new = (window.data[:, unit][:, None] == SCALE[None, :]).sum(axis=0).astype(np.int64)
    window.counts[unit] = new
    return unit, old, new


def incremental_step(window: Window, rng: np.random.Generator) -> tuple[float, float]:
    """Apply one event as the stream does (prepare the unit delta, apply it); query alpha.

    Returns (seconds for delta + apply + alpha query, alpha).
    """
    _, old, new = random_event(window, rng)
    old_counts, new_counts = tuple(old.tolist()), tuple(new.tolist())  # as the units table holds them
    start = time.perf_counter()
    window.coincidence.apply(UnitDelta.of(old_counts, new_counts))
    result = window.coincidence.get(SCALE, LEVEL)
    elapsed = time.perf_counter() - start
    return elapsed, float("nan") if result.alpha is None else result.alpha


def full_recompute(window: Window) -> tuple[float, float]:
    """Seconds and alpha for krippendorff.alpha on the whole window."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = krippendorff.alpha(
            reliability_data=window.data, value_domain=SCALE, level_of_measurement=LEVEL
        )
    return time.perf_counter() - start, float(value)


def bench_size(n_units: int, n_incremental: int, n_full: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    window = build_window(n_units, rng)
    incremental = [incremental_step(window, rng)[0] for _ in range(n_incremental)]
    full_times, diffs = [], []
    for _ in range(n_full):
        _, alpha = incremental_step(window, rng)
        seconds, reference = full_recompute(window)
        full_times.append(seconds)
        diffs.append(abs(alpha - reference))
    inc_us = float(np.median(incremental)) * 1e6
    full_ms = float(np.median(full_times)) * 1e3
    return [
        f"{n_units:>9,d}",
        f"{inc_us:>14.1f}",
        f"{full_ms:>16.2f}",
        f"{full_ms * 1e3 / inc_us:>10,.0f}x",
        f"{max(diffs):>11.1e}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--events", type=int, default=5000, help="incremental events per size")
    args = parser.parse_args()
    print(f"level={LEVEL}, scale 1-5, 3-5 ratings per unit; medians per event")
    header = ["units", "incr us/event", "full ms/event", "ratio", "max |diff|"]
    print(" | ".join(f"{h:>{w}}" for h, w in zip(header, [9, 14, 16, 11, 11], strict=True)))
    for n_units in args.units:
        # Full recompute is O(units): fewer repetitions on large windows keep the run short.
        n_full = 20 if n_units <= 1000 else 10 if n_units <= 10000 else 3
        print(" | ".join(bench_size(n_units, args.events, n_full, args.seed)), flush=True)


if __name__ == "__main__":
    main()
