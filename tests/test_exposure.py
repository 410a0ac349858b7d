"""Exposure-aware comparison against the equal-weight index, on hand-computed series."""

from __future__ import annotations

import numpy as np
import pytest

from arena_gym.evaluation.exposure import exposure_comparison, index_step_returns


def test_index_returns_are_the_mean_of_the_coins_close_to_close_returns():
    close = np.array([[100.0, 10.0], [110.0, 9.0], [99.0, 9.9], [99.0, 9.9]])
    # bars 0 -> 1: (+10 % - 10 %) / 2 = 0; 1 -> 3: (-10 % + 10 %) / 2 = 0; 0 -> 2: (-1 % - 1 %) / 2
    np.testing.assert_allclose(index_step_returns(close, np.array([0, 1, 3])), [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(index_step_returns(close, np.array([0, 2])), [-0.01])


def test_twice_the_index_has_beta_two_and_matches_the_index_at_its_own_exposure():
    index = np.array([0.01, -0.02, 0.03])
    equity = 100.0 * np.cumprod(np.r_[1.0, 1.0 + 2.0 * index])      # 100, 102, 97.92, 103.7952
    got = exposure_comparison(equity, np.full(3, 2.0), index)
    index_total = 1.01 * 0.98 * 1.03 - 1.0                          # 0.019494
    assert got["beta"] == pytest.approx(2.0, rel=1e-12)
    assert got["index_return"] == pytest.approx(index_total, rel=1e-12)
    assert got["alpha"] == pytest.approx(0.037952 - 2.0 * index_total, rel=1e-9)   # compounding, not skill
    assert got["index_at_avg_exposure"] == pytest.approx(0.037952, rel=1e-9)
    assert got["excess_over_index_exposure"] == pytest.approx(0.0, abs=1e-12)
    assert got["avg_exposure"] == got["peak_exposure"] == 2.0


def test_a_market_neutral_gain_is_all_alpha():
    index = np.array([0.01, -0.01, 0.02, -0.02])
    equity = 100.0 * 1.005 ** np.arange(5)                          # +0.5 % every step, whatever the market does
    got = exposure_comparison(equity, np.array([0.0, 1.0, 1.0, 0.5]), index)
    assert got["beta"] == pytest.approx(0.0, abs=1e-12)
    assert got["alpha"] == pytest.approx(1.005 ** 4 - 1.0, rel=1e-12)
    assert got["avg_exposure"] == 0.625 and got["peak_exposure"] == 1.0
    assert got["index_at_avg_exposure"] == pytest.approx(1.00625 * 0.99375 * 1.0125 * 0.9875 - 1.0, rel=1e-12)
