"""Swiss-style pairing: max-weight matching on outcome uncertainty, plus a share of random pairs."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import networkx as nx
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
UNKNOWN_VARIANCE = 4.0  # a configuration without a fitted strength: very uncertain, so it gets paired


@dataclass(frozen=True)
class Suggestion:
    """Compare models[a] with models[b] on `prompt`; `probability` is the pair's chance of being in
    this round given the current scores (1 for the Swiss matching, k / candidates for random pairs)."""

    a: int
    b: int
    prompt: str
    kind: Literal["swiss", "random"]
    probability: float
    prompt_choices: int
    p_a_wins: float


def outcome_uncertainty(theta: FloatArray, var: FloatArray) -> tuple[FloatArray, FloatArray]:
    """P(i beats j) averaged over the strengths' uncertainty (probit approximation) and its
    Bernoulli variance p (1 - p): largest for close scores and for poorly known ones."""
    spread = np.sqrt(1.0 + math.pi * (var[:, None] + var[None, :]) / 8.0)
    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :]) / spread))
    return p, p * (1.0 - p)


def free_prompts(prompts: list[str], used: Callable[[str, int, int], bool], a: int, b: int) -> list[str]:
    return [p for p in prompts if not used(p, a, b)]


def _has_free(prompts: list[str], used: Callable[[str, int, int], bool], a: int, b: int) -> bool:
    return any(not used(p, a, b) for p in prompts)


def swiss_round(theta: FloatArray, var: FloatArray, prompts: list[str],
                used: Callable[[str, int, int], bool], random_share: float,
                rng: np.random.Generator) -> list[Suggestion]:
    """One round: a maximum-cardinality, maximum-weight matching (weight = outcome uncertainty)
    over pairs that still have a prompt they were not compared on, then k random further pairs
    so the comparison graph stays connected (k / (matching + k) ~ random_share; share 1 = all random)."""
    n = len(theta)
    p, weight = outcome_uncertainty(theta, var)
    eligible = [(i, j) for i in range(n) for j in range(i + 1, n) if _has_free(prompts, used, i, j)]
    matched = _matching(eligible, weight) if random_share < 1 else []
    rest = [e for e in eligible if e not in set(matched)]
    k = _n_random(len(matched), n, random_share, len(rest))
    picked = [rest[x] for x in sorted(rng.choice(len(rest), size=k, replace=False))] if k else []
    out = []
    for kind, edges, prob in (("swiss", matched, 1.0), ("random", picked, k / max(1, len(rest)))):
        for i, j in edges:
            choices = free_prompts(prompts, used, i, j)  # non-empty: the pair is eligible
            prompt = choices[int(rng.integers(len(choices)))]
            out.append(Suggestion(i, j, prompt, kind, prob, len(choices), float(p[i, j])))  # type: ignore[arg-type]
    return out


def _matching(eligible: list[tuple[int, int]], weight: FloatArray) -> list[tuple[int, int]]:
    graph = nx.Graph()
    graph.add_weighted_edges_from((i, j, float(weight[i, j])) for i, j in eligible)
    return sorted((min(e), max(e)) for e in nx.max_weight_matching(graph, maxcardinality=True))


def _n_random(matched: int, n: int, share: float, candidates: int) -> int:
    wanted = n // 2 if share >= 1 else math.ceil(matched * share / (1.0 - share))
    return min(wanted, candidates)
