"""Markets are shared, never copied: one market per process and recipe; envs pickle small."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import arena_gym  # noqa: F401  (registers the environments)
from arena_gym.env import PerpTradingEnv
from arena_gym.market import MarketData, MarketDataError, synthetic_market
from arena_gym.market.registry import clear_markets
from arena_gym.presets import load_env_preset

from markets import bars_market, flat_bars

#: also run against the lowest dependency versions pyproject.toml allows (scripts/check_floors.sh)
pytestmark = pytest.mark.floors

FIELDS = ("open", "high", "low", "close", "volume", "funding_rate", "open_interest")


def same_bars(a: MarketData, b: MarketData) -> None:
    assert a.symbols == b.symbols and a.assets == b.assets
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


def test_synthetic_market_is_generated_once_per_parameters():
    a = synthetic_market(600, seed=11)
    assert synthetic_market(600, seed=11) is a
    assert synthetic_market(n_bars=600, seed=11, symbols=a.symbols) is a
    assert synthetic_market(600, seed=12) is not a


def test_envs_from_an_id_or_a_preset_share_one_market():
    envs = [gym.make("arena_gym/Perp-v0").unwrapped for _ in range(2)]
    contest = gym.make("arena_gym/AlphaArena-v0").unwrapped
    assert envs[0].market is envs[1].market
    assert envs[0].market.close.base is envs[1].market.close.base or envs[0].market.close is envs[1].market.close
    # the contest coins in another order: one selection, made once and shared
    assert gym.make("arena_gym/AlphaArena-v0").unwrapped.market is contest.market
    assert envs[0].core.current_rows is envs[1].core.current_rows   # features computed once too
    first, _ = load_env_preset("synthetic")
    second, _ = load_env_preset("synthetic")
    assert first is second


def test_a_market_with_a_recipe_pickles_as_the_recipe_and_is_shared_on_unpickling():
    market = synthetic_market(700, seed=5)
    blob = pickle.dumps(market)
    assert len(blob) < 2_000
    assert pickle.loads(blob) is market
    selected = market.select(["ETH", "BTC"])
    assert selected is market.select(("ETH", "BTC"))
    assert pickle.loads(pickle.dumps(selected)) is selected
    clear_markets()                          # as in a fresh worker process
    rebuilt = pickle.loads(blob)
    assert rebuilt is not market
    same_bars(rebuilt, market)
    assert pickle.loads(blob) is rebuilt     # rebuilt once, then shared
    again = pickle.loads(pickle.dumps(selected))
    assert again is rebuilt.select(["ETH", "BTC"])
    same_bars(again, selected)


def test_a_file_market_pickles_as_path_and_fingerprint_and_refuses_changed_files(tmp_path):
    path = synthetic_market(300, seed=3).to_parquet(tmp_path / "bars.parquet")
    market = MarketData.from_parquet(path)
    assert MarketData.from_parquet(path) is market
    blob = pickle.dumps(market)
    assert len(blob) < 2_000
    clear_markets()
    same_bars(pickle.loads(blob), market)
    frame = pd.read_parquet(path)
    frame.loc[0, "volume"] += 1.0
    frame.to_parquet(path, index=False)
    clear_markets()
    with pytest.raises(MarketDataError, match="changed"):
        pickle.loads(blob)


def test_a_market_from_frames_pickles_its_arrays_without_derived_caches():
    market = bars_market({"BTC": flat_bars(100.0, 50), "ETH": flat_bars(10.0, 50)})
    _ = market.indicators
    blob = pickle.dumps(market)
    copy = pickle.loads(blob)
    same_bars(copy, market)
    assert copy._cache == {} and not copy.close.flags.writeable
    assert len(blob) < 3 * market.close.nbytes * 8


@pytest.mark.parametrize("env_id", ["arena_gym/Perp-v0", "arena_gym/AlphaArena-v0"])
def test_envs_pickle_small_and_continue_identically(env_id):
    env = gym.make(env_id, episode_length=20)
    env.reset(seed=4)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(6)]
    if env_id.endswith("AlphaArena-v0"):
        actions = ['{"BTC": {"signal": "buy_to_enter", "quantity": 0.05, "leverage": 5, "profit_target": 1e6, '
                   '"stop_loss": 1.0, "invalidation_condition": "x", "confidence": 0.7, "risk_usd": 100}}'] + \
                  ['{"BTC": {"signal": "hold"}}'] * 5
    env.step(actions[0])
    blob = pickle.dumps(env)
    assert len(blob) < 200_000, f"{env_id} pickles to {len(blob):,} bytes"
    copy = pickle.loads(blob)
    assert copy.unwrapped.market is env.unwrapped.market
    for action in actions[1:]:
        a, b = env.step(action), copy.step(action)
        if isinstance(a[0], np.ndarray):
            np.testing.assert_array_equal(a[0], b[0])
        else:
            assert a[0] == b[0]
        assert a[1:] == b[1:]
    assert env.unwrapped.records == copy.unwrapped.records


def test_an_env_built_on_a_market_without_recipe_still_round_trips():
    market = bars_market({"BTC": flat_bars(100.0, 300)})
    env = PerpTradingEnv(market, episode_length=5, start=100)
    env.reset()
    copy = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(copy.step(np.array([0.5], np.float32))[0], env.step(np.array([0.5], np.float32))[0])
