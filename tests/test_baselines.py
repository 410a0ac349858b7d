"""Baseline policies: hand-computed target weights, no look-ahead, seeding, episodes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from arena_gym.env import PerpTradingEnv
from arena_gym.agents.baselines import BASELINES, BuyAndHold, EMAMomentum, FundingCarry, HoldCash, RandomWeights, make_baseline
from arena_gym.market.indicators import WARMUP_BARS
from markets import bars_market, flat_bars, random_market


def trend_market(n: int = 120):
    """BTC rises 1 per bar from 100, ETH falls 1 per bar from 300; flat SOL at 50."""
    up = [(100.0 + t, 100.0 + t + 1.5, 100.0 + t - 0.5, 100.0 + t + 1) for t in range(n)]
    down = [(300.0 - t, 300.0 - t + 0.5, 300.0 - t - 1.5, 300.0 - t - 1) for t in range(n)]
    return bars_market({"BTC": up, "ETH": down, "SOL": flat_bars(50.0, n)})


def started(market, policy, start=WARMUP_BARS + 10, **config):
    env = PerpTradingEnv(market, start=start, episode_length=5, **config)
    obs, info = env.reset(seed=0)
    policy.bind(env)
    policy.reset(0)
    return env, obs, info


def test_ema_momentum_goes_long_the_riser_short_the_faller_at_one_x_gross():
    policy = EMAMomentum()
    env, obs, info = started(trend_market(), policy, leverage_cap=3.0)
    # SOL is flat: EMA20 == EMA50, no position; two held positions share 1x gross: 1 / (2 * 3) each.
    np.testing.assert_allclose(policy.act(obs, info), [1 / 6, -1 / 6, 0.0], rtol=1e-6)
    obs, _, _, _, info = env.step(policy.act(obs, info))
    notional = {p.symbol: p.size * p.mark_price for p in env.positions()}
    assert set(notional) == {"BTC", "ETH"}
    assert notional["BTC"] == pytest.approx(info["equity"] / 2, rel=0.02)
    assert notional["ETH"] == pytest.approx(-info["equity"] / 2, rel=0.02)


def test_buy_and_hold_buys_equal_weights_once_and_never_trades_again():
    market = bars_market({"BTC": flat_bars(100.0, 120), "ETH": flat_bars(2000.0, 120)}, fees=(0.0, 0.0))
    policy = BuyAndHold()
    env, obs, info = started(market, policy, leverage_cap=2.0, slippage="none")
    np.testing.assert_allclose(policy.act(obs, info), [0.25, 0.25])   # 1x gross over 2 assets at cap 2
    obs, _, _, _, info = env.step(policy.act(obs, info))
    sizes = {p.symbol: p.size for p in env.positions()}
    assert sizes == pytest.approx({"BTC": 5000 / 100.0, "ETH": 5000 / 2000.0})
    for _ in range(3):
        obs, _, _, _, info = env.step(policy.act(obs, info))
        assert info["fills"] == 0
    assert {p.symbol: p.size for p in env.positions()} == pytest.approx(sizes)


def test_funding_carry_takes_the_paid_side_of_the_last_window_only():
    n = 120
    funding = {"BTC": [1e-4] * n, "ETH": [-1e-4] * n, "SOL": [1e-5] * n}
    market = bars_market({s: flat_bars(p, n) for s, p in (("BTC", 100.0), ("ETH", 2000.0), ("SOL", 50.0))},
                         funding=funding)
    policy = FundingCarry(window=24, threshold=5e-4)
    env, obs, info = started(market, policy, leverage_cap=1.0)
    # 24 bars: BTC longs paid 0.0024 > 0.0005 -> short; ETH -0.0024 -> long; SOL 0.00024 -> flat.
    np.testing.assert_allclose(policy.act(obs, info), [-0.5, 0.5, 0.0])


def test_market_reading_baselines_do_not_look_ahead():
    base = random_market(3, n_bars=200)
    cut = 120
    future = {}
    for name in ("close", "open", "high", "low", "funding_rate"):
        values = getattr(base, name).copy()
        values[cut + 1:] *= 1.5                    # the future differs, the past is identical
        future[name] = values
    later = dataclasses.replace(base, **future)
    for cls in (EMAMomentum, FundingCarry, BuyAndHold):
        actions = []
        for market in (base, later):
            policy = cls()
            env, obs, info = started(market, policy, start=cut)
            assert info["bar"] == cut
            actions.append(policy.act(obs, info))
        np.testing.assert_array_equal(actions[0], actions[1])


def test_random_weights_repeat_per_seed_and_stay_in_the_box():
    market = random_market(0)
    draws = []
    for seed in (7, 7, 8):
        policy = RandomWeights()
        env, obs, info = started(market, policy)
        policy.reset(seed)
        draws.append(np.stack([policy.act(obs, info) for _ in range(4)]))
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])
    assert np.all(np.abs(draws[0]) <= 1.0)


def test_hold_cash_keeps_equity_at_the_initial_capital():
    policy = HoldCash()
    env, obs, info = started(random_market(1), policy)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
        done = terminated or truncated
        assert info["equity"] == 10_000.0
    assert env.trades().empty


def test_baselines_refuse_other_action_modes_and_unknown_names():
    env = PerpTradingEnv(random_market(0), action_mode="discrete", episode_length=5)
    with pytest.raises(ValueError, match="'target' action mode"):
        HoldCash().bind(env)
    with pytest.raises(ValueError, match="unknown baseline 'momentum'.*ema_momentum"):
        make_baseline("momentum")
    with pytest.raises(ValueError, match="bad parameters"):
        make_baseline("funding_carry", windw=3)
    assert set(BASELINES) == {"hold_cash", "buy_and_hold", "random", "ema_momentum", "funding_carry"}
