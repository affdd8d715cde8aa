"""Bradley-Terry maximum likelihood (ties as half wins), bootstrap over votes, Elo scale, rank ranges."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ELO_PER_NAT = 400.0 / math.log(10.0)  # P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400))
REASON_NO_VOTES = "no votes"
REASON_NOT_CONNECTED = "not connected to the anchor by compared pairs"
_MAX_STEP = 2.0  # damped Newton: a step moves no strength by more than this (natural scale)


@dataclass(frozen=True)
class Votes:
    """Outcome counts of compared pairs among n items: item i[k] vs j[k] won a[k], lost b[k], tied t[k]."""

    n_items: int
    i: IntArray
    j: IntArray
    a: FloatArray
    b: FloatArray
    t: FloatArray

    @classmethod
    def of(cls, n_items: int, rows: list[tuple[int, int, float, float, float]]) -> Votes:
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        idx = arr[:, :2].astype(np.int64)
        return cls(n_items, idx[:, 0], idx[:, 1], arr[:, 2], arr[:, 3], arr[:, 4])

    @property
    def total(self) -> float:
        return float(self.a.sum() + self.b.sum() + self.t.sum())

    def wins(self) -> FloatArray:
        """W[i, j]: wins of i over j, a tie counting half a win for each side."""
        w = np.zeros((self.n_items, self.n_items))
        np.add.at(w, (self.i, self.j), self.a + 0.5 * self.t)
        np.add.at(w, (self.j, self.i), self.b + 0.5 * self.t)
        return w

    def resampled(self, n_boot: int, rng: np.random.Generator) -> FloatArray:
        """n_boot win matrices from votes drawn with replacement (multinomial over the outcome cells)."""
        cells = np.concatenate([self.a, self.b, self.t])
        draws = rng.multinomial(round(cells.sum()), cells / cells.sum(), size=n_boot).astype(np.float64)
        k = len(self.a)
        a, b, t = draws[:, :k], draws[:, k:2 * k], draws[:, 2 * k:]
        w = np.zeros((n_boot, self.n_items, self.n_items))
        for col, (i, j) in enumerate(zip(self.i, self.j, strict=True)):
            w[:, i, j] += a[:, col] + 0.5 * t[:, col]
            w[:, j, i] += b[:, col] + 0.5 * t[:, col]
        return w


def fit(wins: FloatArray, alpha: float, init: FloatArray | None = None, max_iter: int = 100,
        tol: float = 1e-10) -> FloatArray:
    """Strengths maximising sum_ij W_ij log sigma(theta_i - theta_j) - alpha * sum theta^2 (choix's
    penalty), for one win matrix (n, n) or a stack (B, n, n); Newton's method, damped."""
    if alpha <= 0:
        raise ValueError("alpha must be positive: an unbeaten item has no finite maximum otherwise")
    w = wins[None] if wins.ndim == 2 else wins
    n_total = w + np.swapaxes(w, 1, 2)
    theta = np.zeros(w.shape[:2]) if init is None else np.broadcast_to(init, w.shape[:2]).copy()
    eye = np.eye(w.shape[1])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(theta[:, None, :] - theta[:, :, None]))  # p[b, i, j] = P(i beats j)
        grad = w.sum(axis=2) - (n_total * p).sum(axis=2) - 2 * alpha * theta
        info = n_total * p * (1 - p)
        hess = info - eye * (info.sum(axis=2)[:, :, None] + 2 * alpha)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        biggest = np.abs(step).max(axis=1, keepdims=True)
        theta -= step * np.minimum(1.0, _MAX_STEP / np.maximum(biggest, 1e-300))
        if float(biggest.max()) < tol:
            break
    return theta[0] if wins.ndim == 2 else theta


def standard_errors(wins: FloatArray, theta: FloatArray, alpha: float) -> FloatArray:
    """Asymptotic standard error of each strength (inverse of the penalised information)."""
    n_total = wins + wins.T
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    info = n_total * p * (1 - p)
    hess = np.diag(info.sum(axis=1) + 2 * alpha) - info
    var: FloatArray = np.clip(np.diag(np.linalg.inv(hess)), 0.0, None)
    return np.sqrt(var)


def connected(wins: FloatArray, start: int) -> npt.NDArray[np.bool_]:
    """Items reachable from `start` through pairs that were compared at least once."""
    linked = (wins + wins.T) > 0
    seen = np.zeros(len(wins), dtype=bool)
    seen[start] = True
    frontier = [start]
    while frontier:
        nxt = np.flatnonzero(linked[frontier].any(axis=0) & ~seen)
        seen[nxt] = True
        frontier = list(nxt)
    return seen


def to_elo(theta: FloatArray, anchor: int, base: float) -> FloatArray:
    """Elo-like scale: the anchor at `base`, 400 points = 10:1 odds (works on (n,) and (B, n))."""
    return base + ELO_PER_NAT * (theta - theta[..., anchor:anchor + 1])


def rank_ranges(score: FloatArray, low: FloatArray, high: FloatArray) -> tuple[IntArray, IntArray, IntArray]:
    """Rank (1 = best), best plausible rank (1 + items whose interval lies wholly above) and worst
    plausible rank (n - items whose interval lies wholly below), from the 95% intervals."""
    order = np.argsort(-score, kind="stable")
    rank = np.empty(len(score), dtype=np.int64)
    rank[order] = np.arange(1, len(score) + 1)
    above = (low[None, :] > high[:, None]).sum(axis=1)  # j certainly better than i
    below = (high[None, :] < low[:, None]).sum(axis=1)  # j certainly worse than i
    return rank, 1 + above, len(score) - below


@dataclass(frozen=True)
class Rating:
    """One item's Elo-scale score with its bootstrap interval and rank range; None with a reason
    when the item cannot be placed relative to the anchor."""

    score: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    rank: int | None = None
    rank_best: int | None = None
    rank_worst: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Leaderboard:
    ratings: list[Rating]
    theta: FloatArray | None  # natural-scale strengths (pairing uses them), None without votes
    se: FloatArray | None
    reason: str | None = None

    def get(self) -> list[Rating] | None:
        return None if self.reason else self.ratings


def leaderboard(votes: Votes, anchor: int, *, alpha: float, base: float, n_boot: int,
                rng: np.random.Generator) -> Leaderboard:
    """Fit, anchor and bootstrap (percentile 95% interval over resampled votes; n_boot=0: no interval)."""
    if votes.total <= 0:
        return Leaderboard([Rating(None, reason=REASON_NO_VOTES)] * votes.n_items, None, None,
                           REASON_NO_VOTES)
    wins = votes.wins()
    theta = fit(wins, alpha)
    se = standard_errors(wins, theta, alpha)
    score = to_elo(theta, anchor, base)
    low = high = None
    if n_boot > 0:
        replicates = to_elo(fit(votes.resampled(n_boot, rng), alpha, init=theta), anchor, base)
        low, high = np.percentile(replicates, [2.5, 97.5], axis=0)
    return Leaderboard(_ratings(score, low, high, connected(wins, anchor)), theta, se)


def _ratings(score: FloatArray, low: FloatArray | None, high: FloatArray | None,
             placed: npt.NDArray[np.bool_]) -> list[Rating]:
    idx = np.flatnonzero(placed)
    lo = low[idx] if low is not None else score[idx]
    hi = high[idx] if high is not None else score[idx]
    rank, best, worst = rank_ranges(score[idx], lo, hi)
    out = [Rating(None, reason=REASON_NOT_CONNECTED) for _ in score]
    for k, item in enumerate(idx):
        out[item] = Rating(float(score[item]), float(lo[k]) if low is not None else None,
                           float(hi[k]) if high is not None else None, int(rank[k]), int(best[k]),
                           int(worst[k]))
    return out
