"""What users read beside the observation: feature names, the structured snapshot, pictures."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest

import arena_gym  # noqa: F401  (registers the environments)
from arena_gym.env import PerpTradingEnv, PerpVectorEnv
from arena_gym.env.features import ACCOUNT_FEATURES, GLOBAL_FEATURES, MARKET_FEATURES, market_features
from arena_gym.env.frame import PALETTE
from arena_gym.market import synthetic_market

#: also run against the lowest dependency versions pyproject.toml allows (scripts/check_floors.sh)
pytestmark = pytest.mark.floors

NAME = re.compile(r"^(?P<symbol>[A-Z]+)\.(?P<feature>[a-z0-9_]+)(\[t(?:-(?P<lag>\d+))?\])?$")


@pytest.fixture(scope="module")
def market():
    return synthetic_market(1200, seed=2)


def test_observation_names_match_the_observation_value_by_value(market):
    lookback = 4
    env = PerpTradingEnv(market, assets=("ETH", "BTC", "SOL"), lookback=lookback, episode_length=10, start=400,
                         slippage="none")
    env.reset()
    for _ in range(3):
        obs, *_, info = env.step(np.array([0.6, -0.3, 0.0], np.float32))
    names = env.observation_names
    assert len(names) == obs.shape[0] == env.observation_space.shape[0] and len(set(names)) == len(names)
    m, bar, equity = env.market, info["bar"], info["equity"]
    feats = market_features(m)
    positions = {p.symbol: p for p in env.positions()}
    assert set(positions) == {"ETH", "BTC"}
    state = env.core.exchange.state
    for i, name in enumerate(names):
        if name in GLOBAL_FEATURES:
            expected = {"log_equity": np.log(equity / 10_000.0),
                        "margin_use": sum(p.margin for p in positions.values()) / equity,
                        "episode_progress": 3 / 10}[name]
            assert obs[i] == pytest.approx(expected, rel=1e-5), name
            continue
        match = NAME.match(name)
        assert match, name
        a = m.symbols.index(match["symbol"])
        feature = match["feature"]
        if match.group(3):                                # a window feature
            lag = int(match["lag"] or 0)
            assert obs[i] == feats[bar - lag, a, MARKET_FEATURES.index(feature)], name
        elif feature in ACCOUNT_FEATURES:
            p = positions.get(match["symbol"])
            held = bar - int(state.opened_bar[0, a]) if p else 0
            expected = {"exposure": p.size * p.mark_price / equity if p else 0.0,
                        "unrealized": p.unrealized_pnl / equity if p else 0.0,
                        "margin": p.margin / equity if p else 0.0,
                        "holding": np.log1p(held) / 5.0}[feature]
            assert obs[i] == pytest.approx(expected, rel=1e-5, abs=1e-7), name
        else:
            assert obs[i] == feats[bar, a, MARKET_FEATURES.index(feature)], name
    assert names[0] == "ETH.log_return[t-3]" and names[lookback * 3 * 2 - 1] == "SOL.range[t]"


def test_observation_names_on_every_numeric_env(market):
    single = gym.make("arena_gym/Perp-v0").unwrapped
    vector = PerpVectorEnv(2, market, lookback=5)
    assert len(single.observation_names) == single.observation_space.shape[0]
    assert len(vector.observation_names) == vector.single_observation_space.shape[0]
    both = PerpTradingEnv(market, observation_mode="both", action_mode="decision")
    assert len(both.observation_names) == both.observation_space["numeric"].shape[0]
    assert PerpTradingEnv(market, observation_mode="text", action_mode="decision").observation_names is None


def test_snapshot_gives_prices_and_account_beside_the_prompt(market):
    env = gym.make("arena_gym/AlphaArena-v0", episode_length=5, start=500)
    prompt, info = env.reset()
    decision = ('{"ETH": {"signal": "buy_to_enter", "quantity": 1.0, "leverage": 5, "profit_target": 1e6, '
                '"stop_loss": 1.0, "invalidation_condition": "x", "confidence": 0.6, "risk_usd": 50}}')
    prompt, _, _, _, info = env.step(decision)
    snap = env.unwrapped.snapshot()
    m = env.unwrapped.market
    bar = info["bar"]
    assert snap["bar"] == bar and snap["time"].startswith(str(m.timestamps[bar])[:10])
    eth = m.symbols.index("ETH")
    assert snap["prices"]["ETH"]["close"] == m.close[bar, eth]
    assert snap["prices"]["ETH"]["funding_rate"] == m.funding_rate[bar, eth]
    assert set(snap["prices"]) == set(m.symbols)
    assert snap["account"]["equity"] == info["equity"] and snap["account"]["fees_paid"] == info["fees_paid"]
    assert list(snap["positions"]) == ["ETH"] and snap["positions"]["ETH"]["size"] == pytest.approx(1.0)
    price = snap["prices"]["ETH"]["close"]
    assert f"{price:g}"[:4] in prompt.replace(",", "")         # the same price the prompt shows


def test_rgb_array_frames_and_the_episode_figure(tmp_path, market):
    env = PerpTradingEnv(market, assets=("BTC", "ETH"), episode_length=400, start=500, leverage_cap=40.0,
                         deadband=0.0, render_mode="rgb_array")
    env.reset()
    frame = env.render()
    assert frame.shape == (600, 800, 3) and frame.dtype == np.uint8
    terminated = False
    while not terminated:
        _, _, terminated, truncated, info = env.step(np.array([1.0, -1.0], np.float32))
        assert not truncated
    events = env._trace.events()
    assert events["long_entries"][0][1] == 0 and events["short_entries"][0][1] == 1
    assert {a for _, a in events["liquidations"]} == {0, 1}
    assert all(bar == info["bar"] for bar, _ in events["liquidations"])
    last = env.render()
    assert last.shape == frame.shape and (last != frame).any()
    colours = {tuple(c) for c in last.reshape(-1, 3).tolist()}
    assert {tuple(PALETTE[0]), tuple(PALETTE[1]), (0, 0, 0), (214, 39, 40)} <= colours  # BTC, ETH, equity, liquidation
    out = env.render_all(tmp_path / "episode.png")
    assert out.axes and (tmp_path / "episode.png").stat().st_size > 10_000


def test_ansi_render_stays(market):
    env = PerpTradingEnv(market, episode_length=5, start=300, render_mode="ansi")
    env.reset()
    env.step(np.array([0.5, 0, 0, 0, 0, 0], np.float32))
    text = env.render()
    assert "equity" in text and "BTC" in text
    vector = PerpVectorEnv(3, market, render_mode="ansi", episode_length=5)
    vector.reset(seed=0)
    assert len(vector.render().splitlines()) == 3


@pytest.mark.parametrize(("mode", "lengths"), [("next_step", [2, 3, 4, 1, 2, 3]), ("same_step", [2, 3, 1, 2, 3, 1])])
def test_vector_env_pictures_follow_each_account_across_autoresets(market, mode, lengths):
    vector = PerpVectorEnv(2, market, episode_length=3, render_mode="rgb_array", autoreset_mode=mode)
    vector.reset(seed=0)
    seen = []
    for _ in range(6):
        vector.step(np.full((2, 6), 0.3, np.float32))
        seen.append(len(vector._traces[0].bars))
        bars = vector._traces[1].bars
        assert bars == list(range(bars[0], bars[0] + len(bars)))   # one bar per decision, no gaps
    assert seen == lengths
    frames = vector.render()
    assert len(frames) == 2 and frames[0].shape == (600, 800, 3)
