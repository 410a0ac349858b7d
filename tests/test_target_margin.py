"""Numeric target positions on isolated margin: each position's margin is its share of equity
(leverage = the target gross exposure, rounded up, at least 1x), checked against hand-computed
margins, a crash a 1x portfolio survives, and buy-and-hold against the equal-weight return."""

from __future__ import annotations

import numpy as np
import pytest

from arena_gym.env import PerpTradingEnv
from arena_gym.agents.baselines import BuyAndHold
from arena_gym.exchange.layout import O_LEVERAGE
from arena_gym.market.indicators import WARMUP_BARS
from markets import bars_market, flat_bars

START = WARMUP_BARS + 5


def flat_pair(n: int = 80):
    """BTC flat at 100, ETH flat at 2000."""
    return bars_market({"BTC": flat_bars(100.0, n), "ETH": flat_bars(2000.0, n)})


def isolated_env(market, fees=(0.0, 0.0), **config):
    env = PerpTradingEnv(market, margin_mode="isolated", slippage="none", fees=fees, start=START, episode_length=8,
                         deadband=0.0, **config)
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("cap, weights, leverage, margins", [
    # G = 2.5 x 0.7 = 1.75 -> 2x: 12,500 $ of BTC and 5,000 $ of ETH put up 6,250 $ and 2,500 $
    (2.5, [0.5, 0.2], 2.0, {"BTC": 6_250.0, "ETH": 2_500.0}),
    # G = 1 x 0.75 -> 1x: each 3,750 $ position puts up its whole notional
    (1.0, [0.375, 0.375], 1.0, {"BTC": 3_750.0, "ETH": 3_750.0}),
    # G = 3 x 0.5 = 1.5 -> 2x: 3,000 $ long BTC, 12,000 $ short ETH (weights beyond the box are clipped)
    (3.0, [0.1, -0.4], 2.0, {"BTC": 1_500.0, "ETH": 6_000.0}),
])
def test_isolated_target_positions_margin_their_share_of_equity(cap, weights, leverage, margins):
    env = isolated_env(flat_pair(), leverage_cap=cap)
    _, _, _, _, info = env.step(np.array(weights, np.float32))
    orders = env.unwrapped.core.exchange.kernel_arguments(1).step[0]
    np.testing.assert_array_equal(orders[O_LEVERAGE, 0], [leverage, leverage])
    assert info["orders_scaled_by_margin"] == 0 and info["equity"] == pytest.approx(10_000.0, rel=1e-12)
    held = {p.symbol: p for p in env.positions()}
    assert {s: p.leverage for s, p in held.items()} == {"BTC": leverage, "ETH": leverage}
    assert {s: p.margin for s, p in held.items()} == pytest.approx(margins, rel=1e-12)


def test_a_whole_gross_exposure_leaves_the_fees_room_by_the_margin_check():
    """G = 1: 1x leverage would put up all of equity as margin, so the opening fee (0.1 %) scales
    the orders by 1 / 1.001, not by a leverage above the account's exposure."""
    env = isolated_env(flat_pair(), fees=(0.001, 0.0), leverage_cap=1.0)
    _, _, _, _, info = env.step(np.array([0.5, 0.5], np.float32))
    assert info["orders_scaled_by_margin"] == 2 and info["margin_scale"] == pytest.approx(1 / 1.001, rel=1e-12)
    sizes = {p.symbol: p.size for p in env.positions()}
    assert sizes == pytest.approx({"BTC": 49.95004, "ETH": 2.4975}, abs=1e-9)   # rounded down to the size steps
    assert {p.symbol: p.leverage for p in env.positions()} == {"BTC": 1.0, "ETH": 1.0}


def test_a_one_x_portfolio_survives_a_crash_that_a_one_x_position_survives():
    """BTC falls to 40 inside a bar (-60 %) and closes at 70: a 10x position would be liquidated,
    the 1x portfolio's BTC half is not; equity = 10,000 + 50 x (70 - 100) = 8,500."""
    n = 80
    btc = flat_bars(100.0, n)
    btc[START + 2] = (100.0, 100.0, 40.0, 70.0)
    btc[START + 3:] = flat_bars(70.0, n - START - 3)
    market = bars_market({"BTC": btc, "ETH": flat_bars(2000.0, n)})
    env = isolated_env(market, leverage_cap=1.0)
    policy = BuyAndHold()
    policy.bind(env)
    policy.reset(0)
    info = {"step": 0, "equity": 10_000.0}
    for _ in range(4):
        _, _, terminated, _, info = env.step(policy.act(None, info))
        assert not terminated
    assert info["liquidations"] == 0 and info["equity"] == pytest.approx(8_500.0, rel=1e-12)
    assert {p.symbol: p.size for p in env.positions()} == pytest.approx({"BTC": 50.0, "ETH": 2.5}, rel=1e-12)


def test_buy_and_hold_returns_the_equal_weight_price_return_less_fees_and_funding():
    """BTC 100 -> 130 (+30 %), ETH 2000 -> 1800 (-10 %) through a 30 % dip; equal weight: +10 %.
    Without costs buy-and-hold returns exactly that; with a 0.05 % taker fee and funding, that
    less its fees and funding, held at 1 / (1 + fee) of equity (the margin check's fee room)."""
    n = 80
    btc = [(100.0 + 30.0 * max(0, t - START - 1) / 10, ) * 4 for t in range(n)]
    btc = [(p[0],) * 4 if t <= START + 11 else (130.0,) * 4 for t, p in enumerate(btc)]
    eth = flat_bars(2000.0, n)
    eth[START + 4] = (2000.0, 2000.0, 1400.0, 1800.0)
    eth[START + 5:] = flat_bars(1800.0, n - START - 5)
    steps = 12
    for fees, funding in (((0.0, 0.0), None), ((0.0005, 0.0), {"BTC": [1e-4] * n, "ETH": [-5e-5] * n})):
        market = bars_market({"BTC": btc, "ETH": eth}, funding=funding)
        env = PerpTradingEnv(market, margin_mode="isolated", slippage="none", fees=fees, start=START,
                             episode_length=steps, leverage_cap=1.0)
        policy = BuyAndHold()
        _, info = env.reset(seed=0)
        policy.bind(env)
        policy.reset(0)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(policy.act(None, info))
            done = terminated or truncated
        first_open = market.open[START + 1]
        last_close = market.close[START + steps]
        equal_weight = float(np.mean(last_close / first_open - 1.0))
        assert equal_weight == pytest.approx(0.10, rel=1e-12) and info["liquidations"] == 0
        got = info["equity"] / 10_000.0 - 1.0
        costs = (info["fees_paid"] + info["funding_paid"]) / 10_000.0
        if funding is None:
            assert got == pytest.approx(0.10, rel=1e-12) and costs == 0.0
        else:
            assert costs > 0.0
            # held at 1 / 1.0005 x equity (sizes rounded down to their steps): off by at most 0.0005 x 10 %
            assert abs(got - (equal_weight - costs)) <= 0.0005 * equal_weight + 1e-6
