"""The return statistics against an independent implementation: empyrical-reloaded (a test-only
dependency of the dev extra), on random equity curves long enough for every statistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena_gym.evaluation.metrics import episode_metrics, max_drawdown, steps_per_year

empyrical = pytest.importorskip("empyrical")

DAY, HOUR = 86400.0, 3600.0


def random_curve(seed: int, n: int, vol: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    returns = rng.standard_t(4, size=n) * vol + vol / 10
    return 10_000.0 * np.cumprod(np.r_[1.0, 1.0 + np.clip(returns, -0.5, 0.5)])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("bar_seconds", "n", "vol"), [(DAY, 400, 0.03), (HOUR, 9000, 0.006), (4 * HOUR, 2400, 0.01)])
def test_return_statistics_match_empyrical(seed, bar_seconds, n, vol):
    equity = random_curve(seed, n, vol)
    returns = pd.Series(equity[1:] / equity[:-1] - 1.0)
    per_year = steps_per_year(bar_seconds)
    ours = episode_metrics(equity, bar_seconds)
    assert ours["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns, annualization=per_year), rel=1e-9)
    assert ours["sortino"] == pytest.approx(empyrical.sortino_ratio(returns, annualization=per_year), rel=1e-9)
    assert ours["annualized_volatility"] == pytest.approx(
        empyrical.annual_volatility(returns, annualization=per_year), rel=1e-9)
    # drawdowns: empyrical reports them negative, arena-gym as a positive loss fraction
    assert ours["max_drawdown"] == pytest.approx(-empyrical.max_drawdown(returns), rel=1e-9)
    assert ours["total_return"] == pytest.approx(empyrical.cum_returns_final(returns), rel=1e-9)
    assert ours["annualized_return"] == pytest.approx(empyrical.annual_return(returns, annualization=per_year),
                                                      rel=1e-9)
    assert ours["calmar"] == pytest.approx(empyrical.calmar_ratio(returns, annualization=per_year), rel=1e-9)


def test_drawdown_sign_convention_is_a_positive_loss():
    equity = np.array([100.0, 120.0, 90.0, 130.0])
    assert max_drawdown(equity) == pytest.approx(0.25)
    assert empyrical.max_drawdown(pd.Series(equity[1:] / equity[:-1] - 1)) == pytest.approx(-0.25)
