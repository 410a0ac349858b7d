"""No non-finite number ever reaches an account, whatever enters: ``Orders``, target and discrete
actions, decision JSON, replayed fill prices. Extreme magnitudes (1e-300 .. 1e308), NaN, +-inf
and -0.0 at every entry point."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena_gym.env import PerpTradingEnv
from arena_gym.exchange import Exchange, OrderFlag, Orders
from markets import random_market

#: fewer examples when the kernel runs as plain Python (NUMBA_DISABLE_JIT=1)
EXAMPLES = 8 if os.environ.get("NUMBA_DISABLE_JIT") == "1" else 40

EXTREMES = [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e308, -1e308, 1.7976931348623157e308, np.nan, np.inf, -np.inf,
            1.0, -1.0, 0.5, 3.0, 1e5, -1e5, 1e12, -1e12]
extreme = st.one_of(st.sampled_from(EXTREMES), st.floats(allow_nan=True, allow_infinity=True))


def assert_accounts_finite(ex: Exchange) -> None:
    s = ex.state
    for name in ("collateral", "realized_pnl", "fees_paid", "funding_paid", "forfeited", "equity"):
        assert np.isfinite(getattr(s, name)).all(), name
    for name in ("size", "entry", "leverage", "isolated_margin", "mark", "unrealized_pnl"):
        assert np.isfinite(getattr(s, name)).all(), name
    for name in ("stop_loss", "take_profit"):   # NaN means none; a level is finite and positive
        level = getattr(s, name)
        assert (np.isnan(level) | (np.isfinite(level) & (level > 0))).all(), name
    assert (s.collateral >= -1e-9).all()
    assert np.isfinite(ex.liquidation_price()).all()
    cols = ex.ledger.columns()
    for name in ("quantity", "price", "fee", "realized", "funding", "leverage"):
        assert np.isfinite(cols[name]).all(), name


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(extreme, min_size=4 * 3 * 3, max_size=4 * 3 * 3), isolated=st.booleans(),
       scale_by_mark=st.booleans())
def test_extreme_orders_never_reach_an_account(values, isolated, scale_by_mark):
    market = random_market(1, n_bars=12, vol=0.02)
    ex = Exchange(market, 3, 1_000.0, margin_mode="isolated" if isolated else "cross", ledger="full")
    ex.reset(0)
    v = np.array(values).reshape(3, 4, 3)   # three steps of (size, leverage, stop, take) per asset
    for step in range(3):
        size, lev, stop, take = (np.broadcast_to(v[step, k], (3, 3)).copy() for k in range(4))
        if scale_by_mark:   # the same extremes as fractions of the price, for exit levels near it
            with np.errstate(over="ignore", invalid="ignore"):
                stop, take = stop * ex.state.mark, take * ex.state.mark
        report = ex.step(Orders(size=size, leverage=lev, stop_loss=stop, take_profit=take))
        nonfinite_request = np.isinf(size) | (np.isinf(lev) & ~np.isnan(size))
        assert ((report.flags[nonfinite_request] & OrderFlag.NON_FINITE) != 0).all()
        assert_accounts_finite(ex)


def test_an_order_whose_rounded_size_overflows_is_dropped_and_flagged():
    market = random_market(2, n_bars=8)
    ex = Exchange(market, 1, 1_000.0)
    ex.reset(0)
    # 1e308 coins of BTC: size / step overflows; its notional too
    o = Orders.hold(1, 3)
    o.size[0] = [1e308, -1.7976931348623157e308, 1e300]
    report = ex.step(o)
    assert report.flags[0, 0] & OrderFlag.NON_FINITE and report.flags[0, 1] & OrderFlag.NON_FINITE
    # 1e300 coins of SOL have a finite notional: the margin check scales them down to what fits
    assert report.flags[0, 2] & OrderFlag.SCALED_BY_MARGIN and 0 < ex.state.size[0, 2] < 1e6
    assert ex.state.size[0, :2].tolist() == [0.0, 0.0]
    assert_accounts_finite(ex)


def test_replayed_fill_prices_and_fees_that_would_overflow_are_ignored():
    market = random_market(3, n_bars=8)
    ex = Exchange(market, 1, 1_000.0, slippage="none")
    ex.reset(0)
    o = Orders.hold(1, 3)
    o.size[0] = [0.001, 0.1, 1.0]
    ex.step(o, fill_price=np.array([[np.nan, 0.0, -5.0]]), fee_rate=np.array([[1e308, np.inf, np.nan]]))
    cols = ex.ledger.columns()
    assert cols["price"].tolist() == market.open[1].tolist()            # the usual fills at the open
    assert cols["fee"] == pytest.approx(o.size[0] * market.open[1] * 0.00045)   # the preset's taker fee
    assert_accounts_finite(ex)
    huge = Exchange(market, 1, 1_000.0)
    huge.reset(0)
    huge.step(o, fill_price=np.array([[1e308, 1e308, 1e308]]))           # finite, absurd: the account stays finite
    assert_accounts_finite(huge)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(extreme, min_size=3, max_size=3))
def test_target_actions_are_finite_or_refused_with_a_clear_error(values):
    env = PerpTradingEnv(random_market(4, n_bars=400), action_mode="target", episode_length=5, lookback=4)
    env.reset(seed=0)
    action = np.array(values, dtype=np.float32)
    if not np.isfinite(action).all():
        with pytest.raises(ValueError, match="finite"):
            env.step(action)
    else:
        _, reward, *_ , info = env.step(action)
        assert np.isfinite(reward) and np.isfinite(info["equity"])
    assert_accounts_finite(env.core.exchange)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(extreme, min_size=3, max_size=3))
def test_discrete_actions_out_of_range_are_refused(values):
    env = PerpTradingEnv(random_market(5, n_bars=400), action_mode="discrete", episode_length=5, lookback=4)
    env.reset(seed=0)
    action = np.array(values)
    if np.isin(action, (0, 1, 2)).all():
        env.step(action.astype(np.int64))
    else:
        with pytest.raises(ValueError, match="discrete actions"):
            env.step(action)
    assert_accounts_finite(env.core.exchange)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quantity=extreme, leverage=extreme, stop=extreme, target=extreme, as_text=st.booleans(),
       signal=st.sampled_from(["buy_to_enter", "sell_to_enter"]))
def test_decision_json_with_extreme_numbers_never_reaches_an_account(quantity, leverage, stop, target, as_text,
                                                                     signal):
    env = PerpTradingEnv(random_market(6, n_bars=400), action_mode="decision", observation_mode="text",
                         house_rules=False, episode_length=3, lookback=4)
    env.reset(seed=0)
    show = (lambda x: repr(float(x))) if as_text else (lambda x: x)
    decision = {"ETH": {"coin": "ETH", "signal": signal, "quantity": show(quantity), "leverage": show(leverage),
                        "stop_loss": show(stop), "profit_target": show(target), "confidence": 0.5,
                        "risk_usd": 10.0, "invalidation_condition": "none", "justification": "extreme"}}
    for _ in range(2):
        _, reward, terminated, truncated, info = env.step(json.dumps(decision))
        assert np.isfinite(reward) and np.isfinite(info["equity"])
        assert_accounts_finite(env.core.exchange)
        if terminated or truncated:
            break
