"""The Gymnasium environment, the vector env and the SB3 adapter."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import arena_gym  # noqa: F401  (registers the environments)
from arena_gym.env import EnvConfig, PerpTradingEnv, PerpVectorEnv
from arena_gym.market import synthetic_market
from markets import random_market

#: also run against the lowest dependency versions pyproject.toml allows (scripts/check_floors.sh)
pytestmark = pytest.mark.floors

RL_MODES = ["target", "target_leverage", "discrete"]


@pytest.fixture(scope="module")
def market():
    return synthetic_market(n_bars=1_500, seed=3)


@pytest.mark.parametrize("mode", RL_MODES)
def test_gymnasium_check_env(market, mode):
    check_env(PerpTradingEnv(market, action_mode=mode, episode_length=40), skip_render_check=True)


@pytest.mark.parametrize("action_mode, observation_mode", [("decision", "text"), ("decision", "both"),
                                                            ("target", "both")])
def test_gymnasium_check_env_text_and_decision_modes(market, action_mode, observation_mode):
    check_env(PerpTradingEnv(market, action_mode=action_mode, observation_mode=observation_mode, episode_length=20),
              skip_render_check=True)


@pytest.mark.parametrize("mode", RL_MODES)
def test_sb3_check_env(market, mode):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(PerpTradingEnv(market, action_mode=mode, episode_length=40), warn=True)


def test_registered_ids_make_the_envs():
    env = gym.make("arena_gym/Perp-v0", episode_length=10)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and info["equity"] == 10_000.0
    contest = gym.make("arena_gym/AlphaArena-v0", observation_mode="numeric", action_mode="target", episode_length=10)
    assert contest.unwrapped.market.symbols == ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")
    assert contest.unwrapped.config.initial_capital == 10_000.0


def rollout(env, seed, n=30):
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [(obs.copy(), 0.0, info)]
    for _ in range(n):
        obs, reward, term, trunc, info = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
        out.append((obs.copy(), reward, info))
        if term or trunc:
            break
    return out


def test_seeded_reset_reproduces_an_episode_exactly(market):
    a = rollout(PerpTradingEnv(market, episode_length=30), seed=7)
    b = rollout(PerpTradingEnv(market, episode_length=30), seed=7)
    c = rollout(PerpTradingEnv(market, episode_length=30), seed=8)
    assert len(a) == len(b)
    for (oa, ra, ia), (ob, rb, ib) in zip(a, b):
        assert np.array_equal(oa, ob) and ra == rb and ia == ib
    assert a[0][2]["bar"] != c[0][2]["bar"]          # another seed draws another window


def test_observations_are_fresh_arrays(market):
    env = PerpTradingEnv(market, episode_length=20)
    first, _ = env.reset(seed=0)
    kept = first.copy()
    second, *_ = env.step(np.ones(6, np.float32) * 0.5)
    third, *_ = env.step(-np.ones(6, np.float32) * 0.5)
    assert np.array_equal(first, kept) and not np.shares_memory(second, third)
    assert first.dtype == np.float32 and np.isfinite(third).all()


def test_terminated_on_liquidation_and_truncated_at_episode_end():
    crash = random_market(0, n_bars=400, vol=0.08)
    env = PerpTradingEnv(crash, episode_length=300, leverage_cap=40.0, deadband=0.0, slippage="none")
    env.reset(seed=0)
    terminated = truncated = False
    for _ in range(300):
        _, _, terminated, truncated, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
        if terminated or truncated:
            break
    assert terminated and info["liquidations"] >= 1 and info["equity"] >= 0
    env = PerpTradingEnv(crash, episode_length=5)
    env.reset(seed=0)
    flags = [env.step(np.zeros(3, np.float32))[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]


def test_out_of_range_actions_are_clipped_and_reported_and_bad_shapes_raise(market):
    env = PerpTradingEnv(market, episode_length=10)
    env.reset(seed=0)
    *_, info = env.step(np.array([2.0, 0, 0, 0, 0, -3.0], np.float32))
    assert info["actions_clipped"] == 2
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan] * 6, np.float32))
    denv = PerpTradingEnv(market, action_mode="discrete", episode_length=10)
    denv.reset(seed=0)
    with pytest.raises(ValueError, match=r"\{0, 1, 2\}"):
        denv.step(np.array([3, 0, 0, 0, 0, 0]))


def test_target_action_reaches_the_requested_exposure(market):
    env = PerpTradingEnv(market, episode_length=10, leverage_cap=2.0, deadband=0.0, slippage="none")
    env.reset(seed=0)
    *_, info = env.step(np.array([0.5, -0.25, 0, 0, 0, 0], np.float32))
    pos = {p.symbol: p for p in env.positions()}
    equity_at_fill = 10_000 - info["fees_paid"]
    assert pos["BTC"].size * pos["BTC"].entry_price == pytest.approx(0.5 * 2.0 * 10_000, rel=2e-3)
    assert pos["ETH"].size * pos["ETH"].entry_price == pytest.approx(-0.25 * 2.0 * 10_000, rel=2e-3)
    assert pos["BTC"].leverage == 10 and equity_at_fill > 9_990
    # a change below the deadband is not traded
    env2 = PerpTradingEnv(market, episode_length=10, deadband=0.05)
    env2.reset(seed=0)
    env2.step(np.array([0.5, 0, 0, 0, 0, 0], np.float32))
    *_, info = env2.step(np.array([0.51, 0, 0, 0, 0, 0], np.float32))
    assert info["fills"] == 0


def test_observation_layout_matches_the_documented_features(market):
    """Window (oldest first), current market features, account features and globals, value by value."""
    from arena_gym.env.features import MARKET_FEATURES, WINDOW_FEATURES, market_features

    lookback, A = 5, market.n_assets
    env = PerpTradingEnv(market, lookback=lookback, episode_length=10, start=300, slippage="none")
    env.reset()
    obs, *_ = env.step(np.array([0.5, -0.25, 0, 0, 0, 0], np.float32))
    obs, *_, info = env.step(np.array([0.5, -0.25, 0, 0, 0, 0], np.float32))
    bar = info["bar"]
    feats = market_features(env.market)
    pick = [MARKET_FEATURES.index(f) for f in WINDOW_FEATURES]
    n_window = lookback * A * len(WINDOW_FEATURES)
    window = obs[:n_window].reshape(lookback, A, len(WINDOW_FEATURES))
    np.testing.assert_array_equal(window, feats[bar - lookback + 1: bar + 1][:, :, pick])
    n_market = n_window + A * len(MARKET_FEATURES)
    np.testing.assert_array_equal(obs[n_window:n_market].reshape(A, -1), feats[bar])
    account = obs[n_market: n_market + 4 * A].reshape(A, 4)
    equity = info["equity"]
    pos = {p.symbol: p for p in env.positions()}
    btc = env.market.symbols.index("BTC")
    assert account[btc, 0] == pytest.approx(pos["BTC"].size * pos["BTC"].mark_price / equity, rel=1e-6)
    assert account[btc, 1] == pytest.approx(pos["BTC"].unrealized_pnl / equity, rel=1e-5, abs=1e-9)
    assert account[btc, 2] == pytest.approx(pos["BTC"].margin / equity, rel=1e-6)
    assert account[btc, 3] == pytest.approx(np.log1p(1) / 5.0)   # held for one bar since the fill
    assert np.all(account[2:] == 0.0)
    log_equity, margin_use, progress = obs[n_market + 4 * A:]
    assert log_equity == pytest.approx(np.log(equity / 10_000), rel=1e-5)
    assert margin_use == pytest.approx(sum(p.margin for p in pos.values()) / equity, rel=1e-6)
    assert progress == pytest.approx(2 / 10)


def test_vector_env_matches_single_envs_account_by_account(market):
    starts = 200
    n = 4
    vec = PerpVectorEnv(n, market, episode_length=25, start=starts)
    vec.reset(seed=0)
    singles = [PerpTradingEnv(market, episode_length=25, start=starts) for _ in range(n)]
    for s in singles:
        s.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(25):
        actions = rng.uniform(-1, 1, (n, 6)).astype(np.float32)
        obs, reward, term, trunc, info = vec.step(actions)
        for i, env in enumerate(singles):
            o, r, te, tr, inf = env.step(actions[i])
            assert np.array_equal(obs[i], o) and reward[i] == r and trunc[i] == tr
            assert info["equity"][i] == inf["equity"]


def test_vector_env_shares_the_market_and_autoresets_next_step(market):
    vec = PerpVectorEnv(3, market, episode_length=3)
    obs, info = vec.reset(seed=1)
    assert np.shares_memory(vec.core.market.close, market.close)
    zero = np.zeros((3, 6), np.float32)
    for _ in range(2):
        vec.step(zero)
    _, _, term, trunc, _ = vec.step(np.full((3, 6), 0.3, np.float32))
    assert trunc.all()
    obs, reward, term, trunc, info = vec.step(np.full((3, 6), 0.3, np.float32))   # the reset step
    assert (reward == 0).all() and not trunc.any() and (info["step"] == 0).all()
    assert (info["equity"] == 10_000).all() and (info["fills"] == 0).all()
    assert vec.observation_space.contains(obs)


def test_vector_env_same_step_mode_reports_final_observation(market):
    vec = PerpVectorEnv(2, market, episode_length=2, autoreset_mode="same_step")
    vec.reset(seed=0)
    vec.step(np.zeros((2, 6), np.float32))
    obs, _, _, trunc, info = vec.step(np.zeros((2, 6), np.float32))
    assert trunc.all() and info["_final_obs"].all()
    assert info["final_info"]["step"].tolist() == [2, 2]
    assert not np.array_equal(info["final_obs"][0], obs[0])


def test_sb3_ppo_trains_on_the_vector_env(market):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    from arena_gym.env.sb3 import SB3VecEnv

    venv = VecMonitor(SB3VecEnv(8, market, episode_length=32, ledger="off"))
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=2, seed=0, verbose=0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512
    assert any(not (a == b.detach()).all() for a, b in zip(before, model.policy.parameters()))
    finished = [e["r"] for e in model.ep_info_buffer]     # episodes of 32 steps completed by VecMonitor
    assert len(finished) >= 8 and np.isfinite(finished).all()


def test_config_errors_name_the_problem(market):
    with pytest.raises(ValueError, match="action_mode"):
        EnvConfig(action_mode="buy")
    with pytest.raises(ValueError, match="valid starts"):
        PerpTradingEnv(market, start=5)
    with pytest.raises(ValueError, match="too short"):
        PerpTradingEnv(market, episode_length=10_000)
    with pytest.raises(ValueError, match="not in this market"):
        PerpTradingEnv(market, assets=["BTC", "LINK"])
