"""Bradley-Terry leaderboard over paired episodes on identical market windows.

Two policies *battle* when both ran an episode on the same window with the same seed: the one
with the higher score (e.g. total return) wins, equal scores tie. The Bradley-Terry model gives
each policy a strength ``theta`` (natural log-odds units) with

    P(i beats j) = 1 / (1 + exp(-(theta_i - theta_j))),

fitted by penalized maximum likelihood; a tie counts as half a win for each side. Ratings are
reported on the Elo scale, ``rating = 400 * theta / ln(10)``, so a 400-point gap means odds of
10 to 1 (:func:`win_probability`). Ratings have mean 0 over the policies, or are shifted so that
a ``reference`` policy sits at 0.

The penalty ``prior / 2 * sum(theta ** 2)`` is a Gaussian prior with standard deviation
``1 / sqrt(prior)`` nats. It keeps the rating of an undefeated (or winless) policy finite and
makes the fit unique even when some policies never met. With the default ``prior = 0.01``, a
9-3 record between two policies gives a 190.4-point gap instead of the unpenalized
``400 * log10(3) = 190.8``, and an undefeated 20-0 record a finite gap of 1117 points.

Confidence intervals come from a bootstrap over windows: windows are drawn with replacement,
every battle of a drawn window counts once per draw, the model is refitted, and the interval
is the percentile range of the refitted ratings. One window is never enough to rank.

The bootstrap alone is blind where the data are separated: when one policy beats another on
every window, every resample holds the same record and refits to the same rating, a
zero-width interval that claims a precision the data do not have. So each interval is
widened to contain the normal (Laplace) approximation of the penalized likelihood around the
fit, ``rating +- z * sd`` with the covariance the inverse of the penalized negative Hessian:
with ample, mixed results it is about as wide as the bootstrap; under perfect separation the
likelihood is nearly flat in the direction of the gap, the curvature left is mostly the
prior's, and the interval is wide: an 8-0 record between two policies rates the winner
490 [-445, 1426] instead of the bootstrap's 490 [490, 490]. Being symmetric, the widened
interval is conservative on the side of the data (it does not claim the winner is surely
better); it never claims a precision the data lack.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd


ELO_PER_NAT = 400.0 / np.log(10.0)


def win_probability(rating_a: float, rating_b: float) -> float:
    """Probability that a policy rated ``rating_a`` beats one rated ``rating_b`` (Elo scale)."""
    return float(1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0)))


def pairwise_outcomes(
    results: pd.DataFrame,
    score: str = "total_return",
    policy: str = "policy",
    keys: Sequence[str] = ("window", "seed"),
    tie_tolerance: float = 0.0,
) -> pd.DataFrame:
    """Battles between every two policies that ran the same episode (identical ``keys``).

    ``results`` is a long table with one row per episode: ``policy``, the ``keys`` columns and
    ``score`` (higher is better). Scores within ``tie_tolerance`` of each other tie. Episodes
    that only one policy ran produce no battle.

    Returns columns ``*keys, policy_a, policy_b, outcome`` with ``policy_a < policy_b``
    (sorted names) and ``outcome`` 1 when ``policy_a`` won, 0 when it lost, 0.5 for a tie.
    """
    keys = list(keys)
    needed = [policy, score, *keys]
    missing = [c for c in needed if c not in results.columns]
    if missing:
        raise ValueError(f"results lack columns {missing}; they have {list(results.columns)}")
    duplicated = results.duplicated([policy, *keys])
    if duplicated.any():
        raise ValueError(f"several episodes of one policy on one {keys}: {results.loc[duplicated, needed].head(3).to_dict('records')}")
    if not np.isfinite(results[score].to_numpy(dtype=np.float64)).all():
        raise ValueError(f"score column {score!r} has non-finite values")
    frame = results[needed]
    pairs = frame.merge(frame, on=keys, suffixes=("_a", "_b"))
    pairs = pairs[pairs[f"{policy}_a"].astype(str) < pairs[f"{policy}_b"].astype(str)]
    diff = pairs[f"{score}_a"].to_numpy(dtype=np.float64) - pairs[f"{score}_b"].to_numpy(dtype=np.float64)
    outcome = np.where(np.abs(diff) <= tie_tolerance, 0.5, (diff > 0).astype(np.float64))
    out = pd.DataFrame({k: pairs[k].to_numpy() for k in keys})
    out["policy_a"] = pairs[f"{policy}_a"].to_numpy()
    out["policy_b"] = pairs[f"{policy}_b"].to_numpy()
    out["outcome"] = outcome
    return out.sort_values([*keys, "policy_a", "policy_b"], ignore_index=True)


def fit_bradley_terry(
    wins: np.ndarray, prior: float = 0.01, max_iter: int = 100, tol: float = 1e-10
) -> np.ndarray:
    """Bradley-Terry strengths (nats, mean 0) from a (P, P) matrix of wins.

    ``wins[i, j]`` is how often policy ``i`` beat ``j`` (ties added as 0.5 to both cells).
    Maximizes ``sum_ij wins[i, j] * log(sigmoid(theta_i - theta_j)) - prior / 2 * |theta|^2`` by
    Newton's method restricted to mean-zero ``theta``; the objective is strictly concave for
    ``prior > 0``, so the maximum is unique and each step is halved only until it improves.
    """
    wins = np.asarray(wins, dtype=np.float64)
    p = wins.shape[0]
    if wins.shape != (p, p) or (wins < 0).any() or not np.isfinite(wins).all():
        raise ValueError(f"wins must be a square non-negative finite matrix, got shape {wins.shape}")
    if not prior > 0:
        raise ValueError(f"prior must be positive (it keeps undefeated policies finite), got {prior}")
    games = wins + wins.T
    centre = np.full((p, p), 1.0 / p)

    def objective(theta: np.ndarray) -> float:
        d = theta[:, None] - theta[None, :]
        return float(-(wins * np.logaddexp(0.0, -d)).sum() - 0.5 * prior * theta @ theta)

    theta = np.zeros(p)
    value = objective(theta)
    for _ in range(max_iter):
        prob = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))   # P(i beats j)
        grad = wins.sum(axis=1) - (games * prob).sum(axis=1) - prior * theta
        weight = games * prob * prob.T
        neg_hessian = np.diag(weight.sum(axis=1)) - weight + prior * np.eye(p)
        # The gradient and the step are orthogonal to the all-ones direction, along which the
        # likelihood is flat; adding ``centre`` makes the system solvable without moving the mean.
        step = np.linalg.solve(neg_hessian + centre, grad)
        size = 1.0
        while True:
            candidate = theta + size * step
            new_value = objective(candidate)
            if new_value >= value or size < 1e-8:
                break
            size /= 2
        theta, improvement, value = candidate, new_value - value, new_value
        if np.abs(size * step).max() < tol or improvement < tol * 1e-3:
            break
    else:
        raise RuntimeError(f"Bradley-Terry fit did not converge in {max_iter} Newton iterations")
    return theta - theta.mean()


def rating_covariance(wins: np.ndarray, theta: np.ndarray, prior: float, reference: int | None = None) -> np.ndarray:
    """Laplace covariance (nats squared) of the ratings fitted by :func:`fit_bradley_terry`.

    The inverse of the penalized negative Hessian at ``theta``, restricted to the ratings'
    constraint: mean zero, or ``theta[reference] = 0`` when a reference policy is pinned.
    """
    games = wins + wins.T
    prob = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
    weight = games * prob * prob.T
    neg_hessian = np.diag(weight.sum(axis=1)) - weight + prior * np.eye(len(theta))
    p = len(theta)
    # orthonormal basis of the mean-zero subspace, in which the ratings live
    basis = np.linalg.qr(np.eye(p) - 1.0 / p, mode="reduced")[0][:, : p - 1]
    cov = basis @ np.linalg.inv(basis.T @ neg_hessian @ basis) @ basis.T
    if reference is not None:
        shift = np.eye(p) - np.eye(p)[reference][None, :]  # theta_i - theta_ref
        cov = shift @ cov @ shift.T
    return cov


def _window_wins(battles: pd.DataFrame, policies: list[str], window: str) -> np.ndarray:
    """(W, P, P) wins per window, ties counted as 0.5 each way."""
    index = {name: k for k, name in enumerate(policies)}
    labels, member = np.unique(battles[window].to_numpy(), return_inverse=True)
    a = battles["policy_a"].map(index).to_numpy()
    b = battles["policy_b"].map(index).to_numpy()
    outcome = battles["outcome"].to_numpy(dtype=np.float64)
    wins = np.zeros((labels.size, len(policies), len(policies)))
    np.add.at(wins, (member, a, b), outcome)
    np.add.at(wins, (member, b, a), 1.0 - outcome)
    return wins


def leaderboard(
    results: pd.DataFrame,
    score: str = "total_return",
    policy: str = "policy",
    window: str = "window",
    seed: str | None = "seed",
    tie_tolerance: float = 0.0,
    prior: float = 0.01,
    reference: str | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_seed: int = 0,
) -> pd.DataFrame:
    """Bradley-Terry leaderboard of the policies in ``results`` with bootstrap intervals.

    ``results`` has one row per episode with columns ``policy``, ``window``, ``seed`` (omit by
    passing ``seed=None`` when every policy ran each window once) and ``score``. Battles are
    formed by :func:`pairwise_outcomes`; see the module docstring for the model, the prior and
    the rating scale. ``reference`` anchors that policy's rating at 0 (default: mean 0).

    Returns one row per policy, best first: ``policy, rating, ci_low, ci_high`` (Elo points; the
    interval is the bootstrap's widened to contain the Laplace one, see the module docstring),
    ``battle_win_rate`` (share of its paired episodes a policy beat the opponent in, ties as
    half: not the share of winning trades) and ``n_battles``. A policy that never met another one keeps the
    prior's rating (the mean) with ``n_battles`` 0. Deterministic for a given ``random_seed``.
    """
    keys = [window] if seed is None else [window, seed]
    battles = pairwise_outcomes(results, score=score, policy=policy, keys=keys, tie_tolerance=tie_tolerance)
    policies = sorted(results[policy].unique().tolist(), key=str)
    if reference is not None and reference not in policies:
        raise ValueError(f"reference policy {reference!r} not among {policies}")
    n_windows = battles[window].nunique()
    if n_windows < 2:
        raise ValueError(f"ranking needs battles on at least 2 windows, got {n_windows}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    per_window = _window_wins(battles, policies, window)
    ref = policies.index(reference) if reference is not None else None

    def ratings(wins: np.ndarray) -> np.ndarray:
        theta = fit_bradley_terry(wins, prior=prior)
        if ref is not None:
            theta = theta - theta[ref]
        return ELO_PER_NAT * theta

    total = per_window.sum(axis=0)
    rating = ratings(total)
    rng = np.random.default_rng(random_seed)
    counts = rng.multinomial(n_windows, np.full(n_windows, 1.0 / n_windows), size=n_boot)  # (B, W)
    boot = np.stack([ratings(np.tensordot(c, per_window, axes=1)) for c in counts])
    low, high = np.quantile(boot, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    theta = fit_bradley_terry(total, prior=prior)
    sd = ELO_PER_NAT * np.sqrt(np.clip(np.diag(rating_covariance(total, theta, prior, ref)), 0.0, None))
    z = NormalDist().inv_cdf((1 + ci) / 2)
    low, high = np.minimum(low, rating - z * sd), np.maximum(high, rating + z * sd)
    n_battles = total + total.T
    played = n_battles.sum(axis=1)
    board = pd.DataFrame({
        "policy": policies,
        "rating": rating,
        "ci_low": low,
        "ci_high": high,
        "battle_win_rate": np.divide(total.sum(axis=1), played, out=np.full(len(policies), np.nan),
                                     where=played > 0),
        "n_battles": played.astype(np.int64),
    })
    return board.sort_values("rating", ascending=False, ignore_index=True)
