"""Readable printouts: times to the minute in UTC, singular units, short reprs of big objects."""

from __future__ import annotations

import numpy as np

from arena_gym.env import PerpTradingEnv
from arena_gym.evaluation.metrics import undefined_reasons
from arena_gym.market.synthetic import synthetic_market
from arena_gym.text_format import bar_length, count_of, utc_minute


def test_times_durations_and_counts_read_as_words():
    assert utc_minute(np.datetime64("2025-11-01T21:00:00.000000000")) == "2025-11-01 21:00 UTC"
    assert (count_of(1, "day"), count_of(7, "day"), count_of(0.5, "day")) == ("1 day", "7 days", "0.5 days")
    assert [bar_length(s) for s in (300, 3600, 28800, 86400)] == ["5 min", "1 h", "8 h", "1 day"]
    assert "episodes of 1 day are shorter" in undefined_reasons(24, 3600)["annualized_return"]


def test_a_market_prints_as_one_short_line():
    text = repr(synthetic_market(seed=0))
    assert text.startswith("MarketData('synthetic-seed0': BTC, ETH, SOL, BNB, XRP, DOGE; 8760 bars of 1 h, "
                           "2025-01-01 00:00 UTC .. 2025-12-31 23:00 UTC") and len(text) < 200


def test_the_text_render_and_the_exchange_parameters_stay_short():
    env = PerpTradingEnv(episode_length=4, render_mode="ansi")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    first = env.render().splitlines()[0]
    assert ".000000000" not in first and " UTC  equity " in first
    params = repr(env.core.exchange.params)
    assert "bars=float64(7, 8760, 6)" in params and len(params) < 300
