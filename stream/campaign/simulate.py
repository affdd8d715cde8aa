"""Seeded annotation-campaign simulator: clips, an annotator fleet with per-dimension skill, events."""

from __future__ import annotations

import csv
import heapq
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import numpy as np

from stream.core import vocabulary

CATEGORIES = ("cinematic", "street", "curated")
MODALITIES = ("t2v", "i2v", "v2v")
PREFS = vocabulary.PREFERENCES


def load_prompts() -> list[str]:
    """The 400 public VideoGen-Eval prompts shipped as demo data (MIT, see stream/campaign/data)."""
    text = resources.files("stream.campaign.data").joinpath("videogen_eval_prompts.csv").read_text("utf-8")
    return [row["prompt_shorter"] or row["prompt"] for row in csv.DictReader(text.splitlines())]


@dataclass
class Campaign:
    """Generative model of a campaign; every number here is a documented knob."""

    seed: int = 7
    n_clips: int = 1000
    n_annotators: int = 30
    ratings_per_clip: int = 3
    pairwise_share: float = 0.2  # share of units that are A/B pairs
    noise_sd: tuple[float, float] = (0.5, 0.8)  # per-annotator, per-dimension noise: alpha about 0.8
    careless: int = 0  # annotators who answer uniformly at random
    careless_weight: float = 1.0  # their task rate relative to the others (speeders do more tasks)
    # before unit `careless_from` the careless annotators work like the others: they can qualify on
    # gold first and then be sent to retraining (an annotator who starts clicking through)
    careless_from: int = 0
    # from unit `careless_until` on they get no more tasks: the platform benches annotators it sent
    # to retraining (None: they keep working)
    careless_until: int | None = None
    # scenario ambiguous-guideline: from unit `ambiguous_from` on, this dimension's ratings get
    # `ambiguous_noise` extra standard deviation (annotators read the guideline differently)
    ambiguous_dimension: str | None = None
    ambiguous_from: int = 0
    ambiguous_noise: float = 1.2
    # gold items (known-answer tasks): share of tasks, drawn from their own random stream so the
    # rest of the campaign is the same with or without them; the key comes from gold_key()
    gold_share: float = 0.0
    n_gold_items: int = 200
    # onboarding: before the campaign each annotator answers this many distinct gold items (a vendor's
    # qualification test), one every `onboarding_spacing_s`, so they can qualify before production
    # work starts instead of after ALPHAWATCH_GOLD_MIN_ANSWERS gold tasks seeded at `gold_share`
    onboarding_gold: int = 0
    onboarding_spacing_s: float = 60.0
    # scenario drift: the `drifting` annotators just before the careless ones add `drift_bias` to
    # their `drift_dimension` scores (clipped to the scale) from unit `drift_from` on
    drifting: int = 0
    drift_from: int = 0
    drift_dimension: str = "motion_quality"
    drift_bias: float = 2.0
    # scenario late-events: this share of answers reaches the stream `late_delay_s` of event time
    # after it was given (a client that was offline), so its window may have closed meanwhile
    late_share: float = 0.0
    late_delay_s: float = 7200.0
    models: int = 8
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 20, tzinfo=UTC))
    seconds_per_unit: float = 10.0
    dimensions: tuple[str, ...] = ("motion_quality", "visual_fidelity", "viewer_interest",
                                   "text_alignment")
    project_id: str = "t2v-rlhf-q4"


def _event_id(rng: np.random.Generator) -> str:
    return str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63))))


def generate(c: Campaign) -> Iterator[dict[str, Any]]:
    """Events in delivery order: event-time order except the late share; each unit gets
    `ratings_per_clip` answers from distinct annotators."""
    events = _generate(c)
    return _delayed(events, c) if c.late_share > 0 else events


def _delayed(events: Iterator[dict[str, Any]], c: Campaign) -> Iterator[dict[str, Any]]:
    """Holds back `late_share` of the answers until the stream's event time is `late_delay_s` past
    them; its own random stream keeps the campaign itself the same with or without late events."""
    rng, seq = np.random.default_rng([c.seed, 3]), 0
    held: list[tuple[float, int, dict[str, Any]]] = []
    for event in events:
        now = _epoch(event["submitted_at"])
        if rng.random() < c.late_share:
            heapq.heappush(held, (now + c.late_delay_s, seq, event))
            seq += 1
            continue
        yield event
        # released right after the first event at least `late_delay_s` newer: out of order by the delay
        while held and held[0][0] <= now:
            yield heapq.heappop(held)[2]
    while held:
        yield heapq.heappop(held)[2]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _generate(c: Campaign) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(c.seed)
    prompts = load_prompts()
    noise = rng.uniform(*c.noise_sd, size=(c.n_annotators, len(c.dimensions)))
    careless = set(range(c.n_annotators - c.careless, c.n_annotators))
    weights = _weights(c, careless, False)
    benched = _weights(c, careless, True)
    gold, grng = _gold_truth(c), np.random.default_rng([c.seed, 1])
    drifting = set(_drifting(c))
    yield from _onboarding(c, gold, noise, careless, drifting)
    for unit in range(c.n_clips):
        t0 = c.start + timedelta(seconds=unit * c.seconds_per_unit)
        late = c.careless_until is not None and unit >= c.careless_until
        who = rng.choice(c.n_annotators, size=c.ratings_per_clip, replace=False,
                         p=benched if late else weights)
        meta = {"source_category": str(rng.choice(CATEGORIES)),
                "modality": str(rng.choice(MODALITIES)), "prompt": prompts[unit % len(prompts)]}
        pairwise = rng.random() < c.pairwise_share
        n_dims = len(c.dimensions)
        truth = rng.normal(0, 4, size=n_dims) if pairwise else rng.integers(1, 6, n_dims)
        for k, a in enumerate(who):
            ts = t0 + timedelta(seconds=float(k) * c.seconds_per_unit / c.ratings_per_clip)
            base = _base(c, rng, a, ts, meta)
            sd = _noise(c, noise[a], unit)
            bias = _bias(c, unit) if a in drifting else 0.0
            sloppy = a in careless and unit >= c.careless_from
            if pairwise:
                yield _pairwise(c, rng, base, unit, truth, sd, sloppy, meta)
            else:
                yield _rating(c, rng, base, unit, truth + bias, sd, sloppy, meta)
            if c.gold_share > 0 and grng.random() < c.gold_share / (1 - c.gold_share):
                # gold items are picked clear-cut, so an ambiguous guideline shows between peers,
                # not against the key: gold answers get the annotator's own noise only
                yield _gold_answer(c, grng, gold, a, ts, noise[a], sloppy, bias)


def _onboarding(c: Campaign, gold: list[tuple[bool, np.ndarray]], noise: np.ndarray, careless: set[int],
                drifting: set[int]) -> Iterator[dict[str, Any]]:
    """The qualification test before the campaign: every annotator answers `onboarding_gold` distinct
    gold items (its own random stream: the campaign after it is the same with or without it)."""
    if c.onboarding_gold <= 0:
        return
    rng = np.random.default_rng([c.seed, 4])
    n = c.onboarding_gold
    items = [rng.choice(len(gold), size=n, replace=n > len(gold)) for _ in range(c.n_annotators)]
    for j in range(n):
        ts = c.start - timedelta(seconds=(n - j) * c.onboarding_spacing_s)
        for a in range(c.n_annotators):
            sloppy = a in careless and c.careless_from == 0
            bias = _bias(c, 0) if a in drifting else 0.0
            yield _gold_answer(c, rng, gold, a, ts, noise[a], sloppy, bias, int(items[a][j]))


def _weights(c: Campaign, careless: set[int], benched: bool) -> np.ndarray:
    """Each annotator's share of the tasks: careless ones at `careless_weight`, or 0 once benched."""
    rate = 0.0 if benched else c.careless_weight
    weights = np.array([rate if a in careless else 1.0 for a in range(c.n_annotators)])
    out: np.ndarray = weights / weights.sum()
    return out


def _drifting(c: Campaign) -> range:
    return range(c.n_annotators - c.careless - c.drifting, c.n_annotators - c.careless)


def _bias(c: Campaign, unit: int) -> np.ndarray | float:
    if unit < c.drift_from:
        return 0.0
    out = np.zeros(len(c.dimensions))
    out[c.dimensions.index(c.drift_dimension)] = c.drift_bias
    return out


def _gold_truth(c: Campaign) -> list[tuple[bool, np.ndarray]]:
    """Per gold item: pairwise or not, and the expert's truth. Gold items are clear-cut, as vendors
    pick them: pairwise truths at least 1.5 from a tie, so the key answer is never a coin flip."""
    rng = np.random.default_rng([c.seed, 2])
    items = []
    n = len(c.dimensions)
    for _ in range(c.n_gold_items):
        if rng.random() < c.pairwise_share:
            items.append((True, rng.choice([-1, 1], n) * rng.uniform(1.5, 6, n)))
        else:
            items.append((False, rng.integers(1, 6, n).astype(float)))
    return items


def gold_key(c: Campaign) -> list[dict[str, Any]]:
    """The expert key of the campaign's gold items (gold key file rows)."""
    rows = []
    for i, (pairwise, truth) in enumerate(_gold_truth(c)):
        pairs = zip(c.dimensions, truth, strict=True)
        answers = {d: ("A" if v > 0 else "B") if pairwise else int(v) for d, v in pairs}
        rows.append({"gold_item_id": f"gold-{i:04d}", "kind": "pairwise" if pairwise else "rating",
                     "answers": answers})
    return rows


def ground_truth(c: Campaign) -> dict[str, Any]:
    """What the scenario planted: careless (from when) and drifting annotators (with drift start
    time), and the dimension whose guideline turns ambiguous (from when)."""
    drift_at = c.start + timedelta(seconds=c.drift_from * c.seconds_per_unit)
    ambiguous_at = c.start + timedelta(seconds=c.ambiguous_from * c.seconds_per_unit)
    careless_at = c.start + timedelta(seconds=c.careless_from * c.seconds_per_unit)
    return {"careless": [f"ann-{a:04d}" for a in range(c.n_annotators - c.careless, c.n_annotators)],
            "careless_from": careless_at.isoformat() if c.careless else None,
            "drifting": {f"ann-{a:04d}": drift_at.isoformat() for a in _drifting(c)},
            "drift_dimension": c.drift_dimension,
            "ambiguous": ({"dimension": c.ambiguous_dimension, "from": ambiguous_at.isoformat()}
                          if c.ambiguous_dimension else None)}


def _gold_answer(c: Campaign, rng: np.random.Generator, gold: list[tuple[bool, np.ndarray]], a: int,
                 ts: datetime, noise: np.ndarray, careless: bool, bias: np.ndarray | float,
                 item: int | None = None) -> dict[str, Any]:
    """Annotator `a` answers gold item `item` (default: a random one), with the same noise (and drift)
    as elsewhere."""
    item = int(rng.integers(len(gold))) if item is None else item
    pairwise, truth = gold[item]
    base = _base(c, rng, a, ts + timedelta(milliseconds=1), {})
    meta = {"source_category": CATEGORIES[item % 3], "modality": MODALITIES[item % 3],
            "prompt": f"gold item {item}"}
    unit = 9_000_000 + item  # gold clips and pairs have ids of their own
    if pairwise:
        event = _pairwise(c, rng, base, unit, truth, noise, careless, meta)
    else:
        event = _rating(c, rng, base, unit, truth + bias, noise, careless, meta)
    return {**event, "gold_item_id": f"gold-{item:04d}"}


def _noise(c: Campaign, noise: np.ndarray, unit: int) -> np.ndarray:
    if c.ambiguous_dimension is None or unit < c.ambiguous_from:
        return noise
    out = noise.copy()
    out[c.dimensions.index(c.ambiguous_dimension)] += c.ambiguous_noise
    return out


def _base(c: Campaign, rng: np.random.Generator, a: int, ts: datetime,
          meta: dict[str, str]) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": _event_id(rng), "project_id": c.project_id,
            "annotator_id": f"ann-{a:04d}", "submitted_at": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def _rating(c: Campaign, rng: np.random.Generator, base: dict[str, Any], unit: int,
            truth: np.ndarray, noise: np.ndarray, careless: bool, meta: dict[str, str]) -> dict[str, Any]:
    if careless:
        scores = rng.integers(1, 6, len(truth))
    else:
        scores = np.clip(np.rint(truth + rng.normal(0, noise)), 1, 5).astype(int)
    return {**base, "kind": "rating", "clip_id": f"vqa-{unit:07d}",
            "scores": {d: int(s) for d, s in zip(c.dimensions, scores, strict=True)},
            "confidence": str(rng.choice(["low", "medium", "high"], p=[0.1, 0.3, 0.6])),
            "gold_item_id": None,
            "clip": {"source_category": meta["source_category"], "modality": meta["modality"],
                     "model_id": f"cfg-{unit % c.models:02d}", "prompt": meta["prompt"],
                     "duration_s": 4.0}}


def _pairwise(c: Campaign, rng: np.random.Generator, base: dict[str, Any], unit: int,
              truth: np.ndarray, noise: np.ndarray, careless: bool, meta: dict[str, str]) -> dict[str, Any]:
    seen = truth + rng.normal(0, noise * 0.8)
    prefs = [str(rng.choice(PREFS)) if careless else ("tie" if abs(v) < 0.3 else "A" if v > 0 else "B")
             for v in seen]

    def side(letter: str, offset: int) -> dict[str, Any]:
        return {"clip_id": f"vqa-p{unit:07d}{letter}", "model_id": f"cfg-{(unit + offset) % c.models:02d}",
                "modality": meta["modality"], "source_category": meta["source_category"],
                "prompt": meta["prompt"]}

    return {**base, "kind": "pairwise", "pair_id": f"pair-{unit:07d}",
            "preferences": dict(zip(c.dimensions, prefs, strict=True)),
            "shown_left": str(rng.choice(["A", "B"])), "confidence": "high", "gold_item_id": None,
            "clip_a": side("a", 0), "clip_b": side("b", 1)}
