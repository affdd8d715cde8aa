"""Synthetic model tournament with known strengths: configurations, voters (some noisy), pairwise events."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from stream.campaign.simulate import load_prompts
from stream.ranking.votes import MODALITIES

DIMENSIONS = ("motion_quality", "visual_fidelity", "viewer_interest", "text_alignment")


@dataclass
class Tournament:
    """Configurations k = 0..n_models-1 belong to modality k % 3. A configuration's strength on a
    dimension is its quality plus a dimension-specific part (natural log-odds scale). A good voter
    follows Bradley-Terry with ties as half wins: P(tie) = tie_rate * 4 s (1 - s), P(A) = s - P(tie) / 2
    with s = sigma(theta_A - theta_B); a noisy voter ignores the clips (left 60%, right 30%, tie 10%)."""

    seed: int = 1
    n_models: int = 51
    n_voters: int = 120
    noisy_share: float = 0.1
    strength_sd: float = 1.0
    dimension_sd: float = 0.3
    tie_rate: float = 0.3
    gold_answers: int = 30  # simulated gold answers per voter; qualified at >= 85% agreement
    dimensions: tuple[str, ...] = DIMENSIONS
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 20, tzinfo=UTC))


@dataclass
class Draw:
    """A drawn tournament: true strengths, voters and who of them passes the (simulated) gold check."""

    t: Tournament
    rng: np.random.Generator
    theta: np.ndarray  # (n_models, n_dimensions)
    noisy: np.ndarray  # (n_voters,) bool
    qualified: set[str]
    prompts: list[str]
    sent: int = 0

    def models(self, modality: str) -> list[int]:
        return [k for k in range(self.t.n_models) if MODALITIES[k % 3] == modality]


def draw(t: Tournament) -> Draw:
    rng = np.random.default_rng(t.seed)
    quality = rng.normal(0, t.strength_sd, t.n_models)
    theta = quality[:, None] + rng.normal(0, t.dimension_sd, (t.n_models, len(t.dimensions)))
    noisy = np.zeros(t.n_voters, dtype=bool)
    noisy[rng.permutation(t.n_voters)[:round(t.noisy_share * t.n_voters)]] = True
    right = np.where(noisy, 1 / 3, 0.95)
    passed = rng.binomial(t.gold_answers, right) >= math.ceil(0.85 * t.gold_answers)
    qualified = {voter_id(v) for v in range(t.n_voters) if passed[v]}
    return Draw(t, rng, theta, noisy, qualified, load_prompts())


def voter_id(v: int) -> str:
    return f"voter-{v:04d}"


def model_id(k: int) -> str:
    return f"cfg-{k:02d}"


def preferences(f: Draw, a: int, b: int, voter: int, left_is_a: bool) -> list[str]:
    """One voter's A/B/tie per dimension for configurations a (clip A) and b."""
    if f.noisy[voter]:
        left, right = ("A", "B") if left_is_a else ("B", "A")
        picks = f.rng.choice([left, right, "tie"], size=len(f.t.dimensions), p=[0.6, 0.3, 0.1])
        return [str(x) for x in picks]
    s = 1 / (1 + np.exp(f.theta[b] - f.theta[a]))
    tie = f.t.tie_rate * 4 * s * (1 - s)
    u = f.rng.random(len(s))
    return ["A" if x < p - q / 2 else "tie" if x < p + q / 2 else "B"
            for x, p, q in zip(u, s, tie, strict=True)]


def event(f: Draw, a: int, b: int, prompt: str, voter: int) -> dict[str, Any]:
    """A pairwise event in the `annotations` schema (clip A shows configuration a)."""
    left_is_a = bool(f.rng.random() < 0.5)
    prefs = preferences(f, a, b, voter, left_is_a)
    f.sent += 1
    modality = MODALITIES[a % 3]

    def clip(k: int, side: str) -> dict[str, Any]:
        return {"clip_id": f"t-{f.sent:07d}{side}", "model_id": model_id(k), "modality": modality,
                "source_category": "curated", "prompt": prompt}

    return {"schema_version": 1, "event_id": str(uuid.UUID(int=int(f.rng.integers(0, 2**62)) << 64 | f.sent)),
            "kind": "pairwise", "project_id": "model-selection", "pair_id": f"tp-{f.sent:07d}",
            "annotator_id": voter_id(voter),
            "submitted_at": (f.t.start + timedelta(seconds=f.sent)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "preferences": dict(zip(f.t.dimensions, prefs, strict=True)),
            "shown_left": "A" if left_is_a else "B", "confidence": "high", "gold_item_id": None,
            "clip_a": clip(a, "a"), "clip_b": clip(b, "b")}


def random_events(f: Draw, n: int, prompts: int = 50) -> list[dict[str, Any]]:
    """n votes on uniformly random pairs within a modality, by random voters."""
    out = []
    for _ in range(n):
        modality = MODALITIES[int(f.rng.integers(3))]
        a, b = (int(x) for x in f.rng.choice(f.models(modality), size=2, replace=False))
        prompt = f.prompts[int(f.rng.integers(prompts))]
        out.append(event(f, a, b, prompt, int(f.rng.integers(f.t.n_voters))))
    return out
