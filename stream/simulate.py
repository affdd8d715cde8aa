"""Seeded annotation-campaign simulator: clips, an annotator fleet with per-dimension skill, events."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import numpy as np

CATEGORIES = ("cinematic", "street", "curated")
MODALITIES = ("t2v", "i2v", "v2v")
PREFS = ("A", "B", "tie")


def load_prompts() -> list[str]:
    """The 400 public VideoGen-Eval prompts shipped as demo data (MIT, see stream/data)."""
    text = resources.files("stream.data").joinpath("videogen_eval_prompts.csv").read_text("utf-8")
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
    # scenario ambiguous-guideline: from unit `ambiguous_from` on, this dimension's ratings get
    # `ambiguous_noise` extra standard deviation (annotators read the guideline differently)
    ambiguous_dimension: str | None = None
    ambiguous_from: int = 0
    ambiguous_noise: float = 1.2
    models: int = 8
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 20, tzinfo=UTC))
    seconds_per_unit: float = 10.0
    dimensions: tuple[str, ...] = ("motion_quality", "visual_fidelity", "viewer_interest",
                                   "text_alignment")
    project_id: str = "t2v-rlhf-q4"


def _event_id(rng: np.random.Generator) -> str:
    return str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63))))


def generate(c: Campaign) -> Iterator[dict[str, Any]]:
    """Events in event-time order; each unit gets `ratings_per_clip` answers from distinct annotators."""
    rng = np.random.default_rng(c.seed)
    prompts = load_prompts()
    noise = rng.uniform(*c.noise_sd, size=(c.n_annotators, len(c.dimensions)))
    careless = set(range(c.n_annotators - c.careless, c.n_annotators))
    weights = np.array([c.careless_weight if a in careless else 1.0 for a in range(c.n_annotators)])
    weights /= weights.sum()
    for unit in range(c.n_clips):
        t0 = c.start + timedelta(seconds=unit * c.seconds_per_unit)
        who = rng.choice(c.n_annotators, size=c.ratings_per_clip, replace=False, p=weights)
        meta = {"source_category": str(rng.choice(CATEGORIES)),
                "modality": str(rng.choice(MODALITIES)), "prompt": prompts[unit % len(prompts)]}
        pairwise = rng.random() < c.pairwise_share
        n_dims = len(c.dimensions)
        truth = rng.normal(0, 4, size=n_dims) if pairwise else rng.integers(1, 6, n_dims)
        for k, a in enumerate(who):
            ts = t0 + timedelta(seconds=float(k) * c.seconds_per_unit / c.ratings_per_clip)
            base = _base(c, rng, a, ts, meta)
            sd = _noise(c, noise[a], unit)
            if pairwise:
                yield _pairwise(c, rng, base, unit, truth, sd, a in careless, meta)
            else:
                yield _rating(c, rng, base, unit, truth, sd, a in careless, meta)


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
