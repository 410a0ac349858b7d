"""Property tests: accounting invariants of the exchange, and no look-ahead in the environment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena_gym.env import PerpTradingEnv
from arena_gym.exchange import Exchange, Orders
from arena_gym.market import MarketData
from markets import random_market

N_ACCOUNTS, N_STEPS = 4, 60


def random_orders(rng: np.random.Generator, ex: Exchange) -> Orders:
    """Wild orders: sizes up to 3x equity notional, leverage 0.5..60, random exits, NaN holds."""
    s = ex.state
    n, a = s.size.shape
    notional = rng.uniform(-3, 3, (n, a)) * np.maximum(s.equity, 1.0)[:, None]
    size = notional / s.mark
    size[rng.random((n, a)) < 0.4] = np.nan
    size[rng.random((n, a)) < 0.1] = 0.0
    lev = rng.uniform(0.5, 60, (n, a))
    stop = np.where(rng.random((n, a)) < 0.3, s.mark * rng.uniform(0.9, 1.1, (n, a)), np.nan)
    take = np.where(rng.random((n, a)) < 0.3, s.mark * rng.uniform(0.9, 1.1, (n, a)), np.nan)
    return Orders(size=size, leverage=lev, stop_loss=stop, take_profit=take)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), isolated=st.booleans(), vol=st.sampled_from([0.005, 0.02, 0.05]),
       rules=st.sampled_from(["hyperliquid", "binance-usdm"]))
def test_accounting_identities_hold_at_every_step(seed, isolated, vol, rules):
    market = random_market(seed, n_bars=N_STEPS + 5, vol=vol)
    ex = Exchange(market, N_ACCOUNTS, 1_000.0, margin_mode="isolated" if isolated else "cross", rules=rules,
                  ledger="full")
    ex.reset(0)
    rng = np.random.default_rng(seed)
    s = ex.state
    for _ in range(N_STEPS):
        before = s.copy()
        ex.step(random_orders(rng, ex))
        # the change in collateral is realized PnL - fees - funding - forfeits, step by step
        d = lambda name: getattr(s, name) - getattr(before, name)
        assert np.allclose(d("collateral"), d("realized_pnl") - d("fees_paid") - d("funding_paid") - d("forfeited"),
                           atol=1e-6)
        # equity rebuilt from the ledger alone equals the state's equity
        cols = ex.ledger.columns()
        for acc in range(N_ACCOUNTS):
            rows = cols["account"] == acc
            fills = rows & (cols["kind"] != 4) & (cols["kind"] != 5)
            funding_rows = rows & (cols["kind"] == 4)
            forfeits = rows & (cols["kind"] == 5)
            collateral = (1_000.0 + cols["realized"][fills].sum() - cols["fee"][fills].sum()
                          - cols["funding"][funding_rows].sum() + cols["realized"][forfeits].sum())
            assert collateral == pytest.approx(s.collateral[acc], abs=1e-6)
            for a in range(market.n_assets):
                held = fills & (cols["asset"] == a)
                assert cols["quantity"][held].sum() == pytest.approx(s.size[acc, a], abs=1e-9)
            upnl = (s.size[acc] * (market.close[s.bar[acc]] - s.entry[acc])).sum()
            assert s.equity[acc] == pytest.approx(collateral + upnl, abs=1e-6)
        assert (s.collateral >= -1e-9).all()
        assert (s.equity[s.closed] >= -1e-9).all()
        assert (s.size[s.closed] == 0).all()
        if isolated:
            assert (s.isolated_margin[s.size == 0] == 0).all()
        if s.closed.all():
            break


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_equity_never_negative_after_liquidations(seed):
    market = random_market(seed, n_bars=120, vol=0.04)
    ex = Exchange(market, 8, 500.0, ledger="off")
    ex.reset(0)
    rng = np.random.default_rng(seed)
    for _ in range(100):
        o = Orders.hold(8, market.n_assets)
        o.size[:] = rng.uniform(-1, 1, o.size.shape) * 40 * np.maximum(ex.state.equity, 0)[:, None] / ex.state.mark
        o.leverage[:] = 40
        report = ex.step(o)
        liquidated = report.liquidated > 0
        assert (ex.state.equity[liquidated] >= 0).all()
        assert (ex.state.equity >= -1e-9).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(80, 150), mode=st.sampled_from(["target", "discrete"]))
def test_altering_data_after_bar_t_changes_nothing_seen_at_t(seed, cut, mode):
    base = random_market(seed, n_bars=220, vol=0.01)
    rng = np.random.default_rng(seed + 1)
    scale = np.exp(rng.normal(0, 0.2, (base.n_bars - cut - 1, base.n_assets)))
    later = slice(cut + 1, None)
    arrays = {f: getattr(base, f).copy() for f in ("open", "high", "low", "close", "volume", "funding_rate")}
    for f in ("open", "high", "low", "close"):
        arrays[f][later] *= scale
    arrays["volume"][later] *= 3
    arrays["funding_rate"][later] = rng.normal(0, 1e-3, arrays["funding_rate"][later].shape)
    altered = MarketData(timestamps=base.timestamps, assets=base.assets, **arrays)

    def run(market):
        env = PerpTradingEnv(market, action_mode=mode, lookback=8, episode_length=cut - 60, start=60)
        obs, info = env.reset(seed=seed)
        actions = np.random.default_rng(seed)
        seen = [(obs, info)]
        while info["bar"] < cut:
            action = (actions.uniform(-1, 1, market.n_assets).astype(np.float32) if mode == "target"
                      else actions.integers(0, 3, market.n_assets))
            obs, _, term, trunc, info = env.step(action)
            seen.append((obs, info))
            if term or trunc:
                break
        return seen

    a, b = run(base), run(altered)
    assert len(a) == len(b)
    for (obs_a, info_a), (obs_b, info_b) in zip(a, b):
        assert np.array_equal(obs_a, obs_b)
        assert info_a == info_b


def test_reset_rows_gives_exactly_the_fresh_state_of_new_and_leaves_other_rows():
    """In-place reset (written field by field) against ``AccountState.new`` on random states."""
    from dataclasses import fields

    from arena_gym.exchange.state import AccountState

    rng = np.random.default_rng(0)
    for trial in range(200):
        n, a = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        state = AccountState.new(n, a, 1000.0)
        for f in fields(state):
            arr = getattr(state, f.name)
            arr[...] = rng.integers(0, 2, arr.shape) if arr.dtype == bool else rng.uniform(1, 100, arr.shape)
        rows = rng.random(n) < 0.5 if trial % 3 else np.nonzero(rng.random(n) < 0.5)[0]
        capital = None if trial % 2 else rng.uniform(10, 100, n)
        before = state.copy()
        state.reset_rows(rows, capital)
        fresh = AccountState.new(n, a, before.initial_capital if capital is None else capital)
        for f in fields(state):
            want = getattr(before, f.name).copy()
            want[rows] = getattr(fresh, f.name)[rows]
            np.testing.assert_array_equal(getattr(state, f.name), want, err_msg=f.name)
