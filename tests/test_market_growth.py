"""Markets that grow in place: a market built on a prefix of the bars and then given the rest by
``MarketData.append``, with everything derived from it (indicators, observation features, the
exchange's bar table, the contest prompt) and an env running over it, equals the same built on
all the bars at once, bit for bit."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from arena_gym.env import PerpTradingEnv
from arena_gym.env.features import feature_rows, holding_feature, market_features
from arena_gym.exchange.params import market_bars
from arena_gym.market import MarketData, synthetic_market
from arena_gym.market.data import MarketDataError

FIELDS = ("timestamps", "open", "high", "low", "close", "volume", "funding_rate", "filled", "open_interest")


def prefix(market: MarketData, n: int) -> MarketData:
    """The first ``n`` bars as a market of its own (fresh arrays, nothing shared)."""
    return MarketData(**{f: np.array(getattr(market, f)[:n]) for f in FIELDS}, mark=None, assets=market.assets,
                      name=market.name, funding_interval_hours=market.funding_interval_hours)


def grow(grown: MarketData, full: MarketData, upto: int) -> None:
    n = grown.n_bars
    rows = slice(n, upto)
    grown.append(full.timestamps[rows], full.open[rows], full.high[rows], full.low[rows], full.close[rows],
                 full.volume[rows], full.funding_rate[rows], filled=full.filled[rows],
                 open_interest=full.open_interest[rows])


@pytest.fixture(scope="module")
def full():
    return synthetic_market(n_bars=420, seed=4, symbols=("BTC", "ETH", "SOL"))


def test_appended_bars_give_the_tables_of_a_market_built_at_once(full):
    grown = prefix(full, 130)
    grown.indicators, market_features(grown), feature_rows(grown), holding_feature(grown)   # built, then grown
    market_bars(grown, False)
    child = grown.select(["SOL", "BTC"])
    for upto in (131, 132, 200, 201, 420):   # one bar, then several at once, across capacity doublings
        grow(grown, full, upto)
        reference = prefix(full, upto)
        for f in FIELDS:
            assert np.array_equal(getattr(grown, f), getattr(reference, f)), f
        for f in fields(reference.indicators):
            if f.name != "_rows":
                assert np.array_equal(getattr(grown.indicators, f.name), getattr(reference.indicators, f.name)), f.name
        assert np.array_equal(market_features(grown), market_features(reference))
        for a, b in zip(feature_rows(grown), feature_rows(reference)):
            assert np.array_equal(a, b) and a.flags.writeable == b.flags.writeable
        assert np.array_equal(holding_feature(grown), holding_feature(reference))
        assert np.array_equal(market_bars(grown, False)[:, :upto], market_bars(reference, False))
        assert grown.bar_times == reference.bar_times
        assert child.n_bars == upto and np.array_equal(child.close, reference.close[:, [2, 0]])
    assert not grown.close.flags.writeable


def test_append_refuses_bars_that_do_not_continue_the_market(full):
    grown = prefix(full, 130)
    with pytest.raises(MarketDataError, match="next bar .* opens at"):
        grown.append(full.timestamps[131:132], *(getattr(full, f)[131:132] for f in FIELDS[1:7]),
                     open_interest=full.open_interest[131:132])
    bad_high = full.low[130:131] * 0.5
    with pytest.raises(MarketDataError, match="high below"):
        grown.append(full.timestamps[130:131], full.open[130:131], bad_high, full.low[130:131], full.close[130:131],
                     full.volume[130:131], full.funding_rate[130:131], open_interest=full.open_interest[130:131])
    with pytest.raises(MarketDataError, match="open_interest must be given"):
        grow_without_oi = (full.timestamps[130:131], *(getattr(full, f)[130:131] for f in FIELDS[1:7]))
        grown.append(*grow_without_oi)
    assert grown.n_bars == 130


@pytest.mark.parametrize("bars_per_decision", [1, 3])
def test_an_env_over_a_growing_market_equals_one_over_all_the_bars(full, bars_per_decision):
    config = dict(assets=("BTC", "ETH", "SOL"), episode_length=None, start=120, lookback=8,
                  observation_mode="both", bars_per_decision=bars_per_decision, leverage_cap=2.0, deadband=0.0)
    grown = prefix(full, 120 + 2 * bars_per_decision)
    live, offline = PerpTradingEnv(grown, **config), PerpTradingEnv(full, **config)
    a, info_a = live.reset(seed=1)
    b, info_b = offline.reset(seed=1)
    rng = np.random.default_rng(0)
    for step in range(60):
        assert np.array_equal(a["numeric"], b["numeric"]) and a["text"] == b["text"], step
        assert info_a == info_b
        action = rng.uniform(-1, 1, 3).astype(np.float32)
        a, reward_a, _, _, info_a = live.step(action)
        b, reward_b, _, _, info_b = offline.step(action)
        assert reward_a == reward_b
        if info_a["bar"] + bars_per_decision >= grown.n_bars:   # the live env waits for the next bars
            with pytest.raises(ValueError, match="runs past the data"):
                live.step(action)
            grow(grown, full, grown.n_bars + bars_per_decision)
            live.market_extended()
    assert live.ledger_frame().equals(offline.ledger_frame()) and len(live.ledger_frame()) > 0
