"""Swiss pairing: similar scores meet, no pair repeats on a prompt, random share, selection probabilities."""

from __future__ import annotations

from collections import Counter

import numpy as np

from stream.ranking.pairing import outcome_uncertainty, swiss_round

PROMPTS = [f"p{k}" for k in range(6)]


def _used(seen: set[tuple[str, int, int]]):  # type: ignore[no-untyped-def]
    return lambda p, i, j: (p, i, j) in seen


def test_similar_scores_are_paired() -> None:
    theta = np.array([0.0, 5.0, 0.1, 5.1, 2.5, 2.6])
    picks = swiss_round(theta, np.full(6, 0.01), PROMPTS, _used(set()), 0.0, np.random.default_rng(0))
    assert {(s.a, s.b) for s in picks} == {(0, 2), (1, 3), (4, 5)}
    assert all(s.kind == "swiss" and s.probability == 1.0 for s in picks)


def test_uncertain_scores_count_as_closer() -> None:
    theta = np.array([0.0, 2.0])
    p_sure, w_sure = outcome_uncertainty(theta, np.zeros(2))
    p_vague, w_vague = outcome_uncertainty(theta, np.full(2, 3.0))
    assert 0.5 < p_vague[1, 0] < p_sure[1, 0]
    assert w_vague[0, 1] > w_sure[0, 1]


def test_never_repeats_a_pair_on_a_prompt() -> None:
    """Rounds until the prompts run out: every (prompt, pair) once, exhausted pairs no longer offered."""
    rng = np.random.default_rng(3)
    theta = np.array([0.0, 0.05, 0.1, 3.0, 3.05])
    seen: set[tuple[str, int, int]] = set()
    suggested: list[tuple[str, int, int]] = []
    for _ in range(40):
        for s in swiss_round(theta, np.full(5, 0.1), PROMPTS, _used(seen), 0.2, rng):
            assert s.a < s.b and s.prompt_choices >= 1
            suggested.append((s.prompt, s.a, s.b))
            seen.add((s.prompt, s.a, s.b))
    assert len(suggested) == len(set(suggested))
    assert len(suggested) == 10 * len(PROMPTS)  # all 10 pairs x 6 prompts used, then nothing left
    assert not swiss_round(theta, np.full(5, 0.1), PROMPTS, _used(seen), 0.2, rng)


def test_random_share_and_probabilities() -> None:
    n = 17
    theta = np.linspace(-2, 2, n)
    picks = swiss_round(theta, np.full(n, 0.05), PROMPTS, _used(set()), 0.2, np.random.default_rng(1))
    swiss = [s for s in picks if s.kind == "swiss"]
    rand = [s for s in picks if s.kind == "random"]
    assert len(swiss) == 8 and len(rand) == 2  # ceil(8 * 0.2 / 0.8): random pairs are 20% of the round
    candidates = n * (n - 1) // 2 - len(swiss)
    assert all(s.probability == 2 / candidates for s in rand)
    # expected pairs per round = sum of every candidate pair's selection probability
    assert len(swiss) * 1.0 + candidates * rand[0].probability == len(picks)
    no_random = swiss_round(theta, np.full(n, 0.05), PROMPTS, _used(set()), 0.0, np.random.default_rng(1))
    assert {s.kind for s in no_random} == {"swiss"} and len(no_random) == 8


def test_random_pairs_are_drawn_with_the_recorded_probability() -> None:
    n, rounds = 6, 3000
    theta = np.array([0.0, 0.1, 1.0, 1.1, 2.0, 2.1])
    counts: Counter[tuple[int, int]] = Counter()
    probability = 0.0
    rng = np.random.default_rng(5)
    for _ in range(rounds):
        for s in swiss_round(theta, np.full(n, 0.01), PROMPTS, _used(set()), 0.4, rng):
            if s.kind == "random":
                counts[(s.a, s.b)] += 1
                probability = s.probability
    assert len(counts) == n * (n - 1) // 2 - 3  # every pair outside the matching
    for pair, seen in counts.items():
        assert abs(seen / rounds - probability) < 0.03, pair


def test_all_random_round_keeps_graph_connected() -> None:
    """share 1 (the benchmark's baseline): no matching, n // 2 uniform pairs; over rounds all connect."""
    n = 9
    rng = np.random.default_rng(2)
    linked = {0}
    for _ in range(30):
        for s in swiss_round(np.zeros(n), np.ones(n), PROMPTS, _used(set()), 1.0, rng):
            assert s.kind == "random" and s.probability == 4 / 36
            if s.a in linked or s.b in linked:
                linked |= {s.a, s.b}
    assert linked == set(range(n))
