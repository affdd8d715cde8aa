"""Bradley-Terry fit against choix, ties, anchoring, undefined cases, bootstrap coverage, rank ranges."""

from __future__ import annotations

import choix
import numpy as np
import pytest

from stream.stats.bradley_terry import (
    ELO_PER_NAT,
    REASON_NO_VOTES,
    REASON_NOT_CONNECTED,
    Votes,
    fit,
    leaderboard,
    rank_ranges,
    to_elo,
)


def _random_votes(seed: int, n: int = 8,
                  ties: bool = False) -> tuple[Votes, list[tuple[int, int]], np.ndarray]:
    """Votes on every pair (connected); also choix's data: a win twice, a tie once each way."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, n)
    rows, data = [], []
    for i in range(n):
        for j in range(i + 1, n):
            k = int(rng.integers(3, 40))
            s = 1 / (1 + np.exp(theta[j] - theta[i]))
            t = int(rng.binomial(k, 0.3)) if ties else 0
            a = int(rng.binomial(k - t, s))
            rows.append((i, j, a, k - t - a, t))
            data += [(i, j)] * (2 * a) + [(j, i)] * (2 * (k - t - a)) + [(i, j), (j, i)] * t
    return Votes.of(n, rows), data, theta


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
def test_fit_equals_choix_map_estimate(seed: int, ties: bool) -> None:
    votes, data, _ = _random_votes(seed, ties=ties)
    alpha = 1e-3
    ours = fit(votes.wins(), alpha)
    # choix's data counts every vote twice (so a tie is one win each way): its penalty doubles too
    oracle = choix.opt_pairwise(votes.n_items, data, alpha=2 * alpha, tol=1e-12)
    assert np.allclose(ours, oracle, atol=1e-6), np.abs(ours - oracle).max()


def test_fit_equals_choix_on_sparse_chain() -> None:
    """A path graph (each item compared with its neighbour only), where choix's ILSR also applies."""
    rows = [(0, 1, 7, 3, 0), (1, 2, 4, 6, 0), (2, 3, 9, 2, 0), (3, 4, 5, 5, 0)]
    data = [(i, j) for i, j, a, _, _ in rows for _ in range(a)] + [(j, i) for i, j, _, b, _ in rows
                                                                  for _ in range(b)]
    ours = fit(Votes.of(5, rows).wins(), 1e-4)
    assert np.allclose(ours, choix.opt_pairwise(5, data, alpha=1e-4, tol=1e-12), atol=1e-6)
    # ILSR (a spectral method) finds the unpenalised maximum on connected data: compare with a tiny alpha
    mle = fit(Votes.of(5, rows).wins(), 1e-10)
    ilsr = choix.ilsr_pairwise(5, data, alpha=0.0, tol=1e-12)
    assert np.allclose(mle - mle.mean(), ilsr - ilsr.mean(), atol=1e-6)


def test_batched_fit_equals_single_fits() -> None:
    stack = np.stack([_random_votes(s)[0].wins() for s in range(3)])
    batched = fit(stack, 0.01)
    for k in range(3):
        assert np.allclose(batched[k], fit(stack[k], 0.01), atol=1e-9)


def test_ties_count_half_a_win_each() -> None:
    only_ties = fit(Votes.of(2, [(0, 1, 0, 0, 10)]).wins(), 1e-3)
    assert only_ties[0] == pytest.approx(only_ties[1], abs=1e-12)
    decisive = fit(Votes.of(2, [(0, 1, 6, 2, 0)]).wins(), 1e-6)
    with_ties = fit(Votes.of(2, [(0, 1, 6, 2, 4)]).wins(), 1e-6)
    # 6 + 2 = 8 of 12 vs 6 of 8: ties pull the pair together, to exactly log(8/4) and log(6/2)
    assert with_ties[0] - with_ties[1] == pytest.approx(np.log(2), abs=1e-4)
    assert decisive[0] - decisive[1] == pytest.approx(np.log(3), abs=1e-4)


def test_anchor_sits_at_base_and_differences_are_elo() -> None:
    votes, _, _ = _random_votes(3)
    theta = fit(votes.wins(), 0.01)
    for anchor in (0, 5):
        elo = to_elo(theta, anchor, 1500.0)
        assert elo[anchor] == 1500.0
        assert elo[2] - elo[1] == pytest.approx(ELO_PER_NAT * (theta[2] - theta[1]))
    # 400 points are 10:1 odds
    assert ELO_PER_NAT * np.log(10) == pytest.approx(400)
    assert to_elo(theta, 0, 0)[1] - to_elo(theta, 5, 0)[1] == pytest.approx(to_elo(theta, 0, 0)[5])


def test_unbeaten_item_gets_a_finite_score() -> None:
    theta = fit(Votes.of(3, [(0, 1, 10, 0, 0), (1, 2, 5, 5, 0)]).wins(), 0.01)
    assert np.isfinite(theta).all() and theta[0] > theta[1] + 2


def test_undefined_cases_say_why() -> None:
    empty = leaderboard(Votes.of(3, []), 0, alpha=0.01, base=1000, n_boot=10,
                        rng=np.random.default_rng(0))
    assert empty.get() is None and empty.reason == REASON_NO_VOTES
    split = leaderboard(Votes.of(4, [(0, 1, 3, 1, 0), (2, 3, 2, 2, 0)]), 0, alpha=0.01, base=1000,
                        n_boot=20, rng=np.random.default_rng(0))
    ratings = split.get()
    assert ratings is not None
    assert [r.reason for r in ratings] == [None, None, REASON_NOT_CONNECTED, REASON_NOT_CONNECTED]
    assert ratings[2].score is None and ratings[0].score == 1000
    with pytest.raises(ValueError):
        fit(Votes.of(2, [(0, 1, 1, 1, 0)]).wins(), 0.0)


def test_bootstrap_interval_covers_the_truth() -> None:
    """Smoke: 95% intervals over 30 simulated campaigns hold the true (anchored) strength >= 85%."""
    rng = np.random.default_rng(11)
    hits = []
    for _ in range(30):
        theta = rng.normal(0, 0.8, 5)
        rows = []
        for i in range(5):
            for j in range(i + 1, 5):
                a = int(rng.binomial(40, 1 / (1 + np.exp(theta[j] - theta[i]))))
                rows.append((i, j, a, 40 - a, 0))
        board = leaderboard(Votes.of(5, rows), 0, alpha=1e-3, base=0, n_boot=300, rng=rng)
        truth = ELO_PER_NAT * (theta - theta[0])
        hits += [r.ci_low <= t <= r.ci_high for r, t in zip(board.ratings[1:], truth[1:], strict=True)
                 if r.ci_low is not None and r.ci_high is not None]
    assert len(hits) == 120
    assert np.mean(hits) >= 0.85


def test_rank_ranges_from_intervals() -> None:
    score = np.array([100.0, 90.0, 50.0, 0.0])
    low = np.array([80.0, 60.0, 40.0, -10.0])
    high = np.array([120.0, 110.0, 70.0, 10.0])
    rank, best, worst = rank_ranges(score, low, high)
    assert rank.tolist() == [1, 2, 3, 4]
    # 0 and 1 overlap (ranks 1-2); 2 overlaps 1 (60 < 70), so 2-3; 3 is surely last
    assert best.tolist() == [1, 1, 2, 4] and worst.tolist() == [2, 3, 3, 4]
    assert (best <= rank).all() and (rank <= worst).all()


def test_leaderboard_ranks_within_ranges() -> None:
    votes, _, _ = _random_votes(7, n=10, ties=True)
    board = leaderboard(votes, 0, alpha=0.01, base=1000, n_boot=200, rng=np.random.default_rng(1))
    for r in board.ratings:
        assert r.rank_best is not None and r.rank is not None and r.rank_worst is not None
        assert r.rank_best <= r.rank <= r.rank_worst
        assert r.ci_low is not None and r.ci_high is not None and r.score is not None
        assert r.ci_low <= r.score + 1e-9 and r.score <= r.ci_high + 1e-9
