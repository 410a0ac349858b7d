"""Bradley-Terry leaderboard: hand-computed fits, recovery of known strengths, interval behaviour."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from arena_gym.evaluation import fit_bradley_terry, leaderboard, pairwise_outcomes, spearman, win_probability
from arena_gym.evaluation.ranking import ELO_PER_NAT


def simulate(strengths: dict[str, float], n_windows: int, seed: int, n_seeds: int = 1) -> pd.DataFrame:
    """Episode scores ``strength + Gumbel noise``: the difference of two independent Gumbel draws
    is logistic, so ``P(i beats j) = sigmoid(strength_i - strength_j)`` exactly (true BT odds)."""
    rng = np.random.default_rng(seed)
    rows = []
    for window in range(n_windows):
        for s in range(n_seeds):
            for name, strength in strengths.items():
                rows.append({"policy": name, "window": window, "seed": s, "total_return": strength + rng.gumbel()})
    return pd.DataFrame(rows)


def test_pairwise_outcomes_by_hand():
    results = pd.DataFrame({
        "policy": ["a", "b", "c", "a", "b", "c"],
        "window": [0, 0, 0, 1, 1, 2],
        "seed": 0,
        "total_return": [0.1, 0.2, 0.2, 0.3, -0.1, 0.5],
    })
    battles = pairwise_outcomes(results)
    assert battles[["window", "policy_a", "policy_b", "outcome"]].values.tolist() == [
        [0, "a", "b", 0.0], [0, "a", "c", 0.0], [0, "b", "c", 0.5], [1, "a", "b", 1.0],
    ]  # window 2 has one policy only: no battle
    near = pairwise_outcomes(results, tie_tolerance=0.12)
    assert near["outcome"].tolist() == [0.5, 0.5, 0.5, 1.0]  # 0.1 apart now ties, 0.4 does not
    with pytest.raises(ValueError, match="several episodes"):
        pairwise_outcomes(pd.concat([results, results.iloc[:1]]))
    with pytest.raises(ValueError, match=r"lack columns \['seed'\]"):
        pairwise_outcomes(results.drop(columns="seed"))


def test_two_policy_fit_matches_closed_form():
    # 9 wins, 3 losses: the maximum-likelihood gap is ln(3) nats = 400 log10(3) Elo points.
    theta = fit_bradley_terry(np.array([[0.0, 9.0], [3.0, 0.0]]), prior=1e-9)
    assert (theta[0] - theta[1]) * ELO_PER_NAT == pytest.approx(400 * math.log10(3), abs=1e-4)
    assert theta.sum() == pytest.approx(0.0, abs=1e-12)
    default = fit_bradley_terry(np.array([[0.0, 9.0], [3.0, 0.0]]))
    assert (default[0] - default[1]) * ELO_PER_NAT == pytest.approx(190.43, abs=0.01)  # prior shrinks it slightly
    assert win_probability(400 * math.log10(3), 0.0) == pytest.approx(0.75)


def test_cycle_gives_equal_ratings_and_undefeated_stays_finite():
    cycle = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float)
    np.testing.assert_allclose(fit_bradley_terry(cycle), 0.0, atol=1e-12)
    undefeated = fit_bradley_terry(np.array([[0.0, 20.0], [0.0, 0.0]]))
    assert np.isfinite(undefeated).all() and 0 < undefeated[0] - undefeated[1] < 10
    with pytest.raises(ValueError, match="prior must be positive"):
        fit_bradley_terry(cycle, prior=0.0)


def test_fit_solves_the_score_equations():
    # At the (nearly unpenalized) optimum, each policy's expected wins equal its actual wins.
    rng = np.random.default_rng(3)
    wins = rng.integers(1, 20, size=(4, 4)).astype(float)
    np.fill_diagonal(wins, 0.0)
    theta = fit_bradley_terry(wins, prior=1e-9)
    prob = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :])))
    np.testing.assert_allclose(((wins + wins.T) * prob).sum(axis=1), wins.sum(axis=1), rtol=1e-7)


def test_recovers_true_order_of_well_separated_policies():
    strengths = {"weak": 0.0, "fair": 1.0, "good": 2.0, "strong": 3.0}
    board = leaderboard(simulate(strengths, n_windows=200, seed=1), n_boot=300)
    assert board["policy"].tolist() == ["strong", "good", "fair", "weak"]
    fitted = board.set_index("policy")["rating"]
    truth = pd.Series(strengths) * ELO_PER_NAT
    truth -= truth.mean()
    assert spearman(fitted[truth.index].to_numpy(), truth.to_numpy()) == 1.0
    assert np.abs(fitted[truth.index] - truth).max() < 60  # true gaps are 174 Elo points apart
    assert (board["n_battles"] == 600).all()
    assert board["battle_win_rate"].is_monotonic_decreasing
    assert ((board["ci_low"] <= board["rating"]) & (board["rating"] <= board["ci_high"])).all()


def test_intervals_shrink_as_windows_are_added():
    strengths = {"p0": 0.0, "p1": 0.5, "p2": 1.0, "p3": 1.5, "p4": 2.0}
    widths = {}
    for n_windows in (20, 50, 200):
        board = leaderboard(simulate(strengths, n_windows=n_windows, seed=2), n_boot=400)
        widths[n_windows] = float((board["ci_high"] - board["ci_low"]).mean())
    assert widths[20] > widths[50] > widths[200]
    assert widths[20] / widths[200] > 2.2  # sqrt(10) = 3.2 expected


def test_equal_policies_overlap_and_reference_anchors():
    board = leaderboard(simulate({"a": 1.0, "b": 1.0, "c": 0.0}, n_windows=100, seed=4), n_boot=300, reference="c")
    rows = board.set_index("policy")
    assert rows.loc["a", "ci_low"] < rows.loc["b", "ci_high"] and rows.loc["b", "ci_low"] < rows.loc["a", "ci_high"]
    assert rows.loc["c", "rating"] == 0.0 and rows.loc["c", "ci_low"] == rows.loc["c", "ci_high"] == 0.0
    assert rows.loc["a", "ci_low"] > 0 and rows.loc["b", "ci_low"] > 0  # both clearly beat c


def test_several_seeds_per_window_and_determinism():
    results = simulate({"x": 0.0, "y": 0.7}, n_windows=30, seed=5, n_seeds=3)
    first = leaderboard(results, n_boot=200, random_seed=11)
    pd.testing.assert_frame_equal(first, leaderboard(results, n_boot=200, random_seed=11))
    assert (first["n_battles"] == 90).all()
    other = leaderboard(results, n_boot=200, random_seed=12)
    assert not np.allclose(first["ci_low"], other["ci_low"])
    np.testing.assert_allclose(first["rating"], other["rating"])  # the point estimate uses all windows


def test_one_window_is_never_ranked():
    with pytest.raises(ValueError, match="at least 2 windows"):
        leaderboard(simulate({"x": 0.0, "y": 1.0}, n_windows=1, seed=0))
    with pytest.raises(ValueError, match="reference policy 'z'"):
        leaderboard(simulate({"x": 0.0, "y": 1.0}, n_windows=5, seed=0), reference="z")


def test_perfect_separation_gives_a_wide_interval_never_a_zero_width_one():
    rows = []
    for window in range(8):
        rows += [{"policy": "always", "window": window, "seed": 0, "total_return": 0.01},
                 {"policy": "never", "window": window, "seed": 0, "total_return": -0.01}]
    board = leaderboard(pd.DataFrame(rows), n_boot=200).set_index("policy")
    winner = board.loc["always"]
    assert winner["battle_win_rate"] == 1.0
    assert winner["ci_low"] < winner["rating"] < winner["ci_high"]
    assert winner["ci_high"] - winner["ci_low"] > 400  # "better, by an amount 8 windows cannot tell"
    assert winner["rating"] == pytest.approx(-board.loc["never", "rating"])


def test_interval_with_mixed_results_stays_close_to_the_bootstrap():
    rng = np.random.default_rng(0)
    rows = [{"policy": p, "window": w, "seed": 0, "total_return": rng.normal(mu, 0.02)}
            for w in range(60) for p, mu in (("a", 0.01), ("b", 0.0), ("c", -0.005))]
    board = leaderboard(pd.DataFrame(rows), n_boot=400)
    width = board["ci_high"] - board["ci_low"]
    assert (width > 0).all() and (width < 250).all()
