"""The compiled environment step: its decoding, rewards, info types and buffers against the
documented rules, and the exchange arrays it borrows staying valid when the ledger grows."""

from __future__ import annotations

import numpy as np
import pytest

from arena_gym.env import PerpTradingEnv, PerpVectorEnv
from arena_gym.env.core import INFO_KEYS
from arena_gym.env.rewards import log_return
from arena_gym.exchange.layout import O_LEVERAGE, O_SIZE
from arena_gym.market import synthetic_market


@pytest.fixture(scope="module")
def market():
    return synthetic_market(n_bars=1_200, seed=5)


def test_target_actions_decode_to_the_documented_orders(market):
    """Weights clipped to [-1, 1], scaled to a gross of 1, times leverage_cap x equity, in coins
    at the last mark; a change under the deadband holds, a 0 target closes."""
    env = PerpTradingEnv(market, leverage_cap=2.0, deadband=0.05, start=300, episode_length=10)
    env.reset(seed=0)
    env.step(np.array([0.4, 0.0, 0, 0, 0, 0.2], np.float32))
    state = env.unwrapped.account
    equity = float(state.equity[0])
    mark = state.mark[0].copy()
    size_before = state.size[0].copy()
    weights = np.array([1.5, -1.5, 0.0, 0.0, 0.0, 0.2], np.float32)   # gross 2.2 once clipped to [-1, 1]
    env.step(weights)
    orders = env.unwrapped.core.exchange.kernel_arguments(1).step[0]
    w = np.clip(weights.astype(np.float64), -1, 1)
    w = w / np.abs(w).sum()
    expect = w * 2.0 * equity / mark
    moved = np.abs(w * 2.0 * equity - size_before * mark) >= 0.05 * equity
    closes = (w == 0) & (size_before != 0)
    trade = moved | closes
    np.testing.assert_allclose(orders[O_SIZE, 0][trade], expect[trade], rtol=1e-12)
    assert np.isnan(orders[O_SIZE, 0][~trade]).all()
    default = env.unwrapped.core.exchange.default_leverage
    max_lev = env.unwrapped.core.exchange.max_leverage
    np.testing.assert_array_equal(orders[O_LEVERAGE, 0][trade], np.minimum(np.maximum(2.0, default), max_lev)[trade])
    assert trade[0] and trade[1] and env.step(weights)[4]["actions_clipped"] == 2


def test_discrete_levels_are_target_weights_of_one_over_the_asset_count(market):
    env = PerpTradingEnv(market, action_mode="discrete", deadband=0.01, start=300, episode_length=10)
    env.reset(seed=0)
    equity = float(env.unwrapped.account.equity[0])
    mark = env.unwrapped.account.mark[0].copy()
    env.step(np.array([2, 0, 1, 1, 1, 1]))
    orders = env.unwrapped.core.exchange.kernel_arguments(1).step[0]
    leverage_cap = env.unwrapped.config.leverage_cap
    assert orders[O_SIZE, 0, 0] == pytest.approx(leverage_cap * equity / 6 / mark[0], rel=1e-12)
    assert orders[O_SIZE, 0, 1] == pytest.approx(-leverage_cap * equity / 6 / mark[1], rel=1e-12)
    assert np.isnan(orders[O_SIZE, 0, 2:]).all()       # flat and already flat: hold


def test_built_in_and_callable_rewards_agree_with_equity(market):
    seen = []

    def halved_pnl(prev_equity, equity, initial_capital):
        seen.append(len(prev_equity))
        return (equity - prev_equity) / initial_capital / 2

    built_in = PerpTradingEnv(market, start=300, episode_length=6)
    custom = PerpTradingEnv(market, start=300, episode_length=6, reward=halved_pnl)
    by_name = PerpTradingEnv(market, start=300, episode_length=6, reward="pnl")
    simple = PerpTradingEnv(market, start=300, episode_length=6, reward="return")
    for env in (built_in, custom, by_name, simple):
        env.reset(seed=0)
    rng = np.random.default_rng(1)
    prev = 10_000.0
    for _ in range(5):
        action = rng.uniform(-1, 1, 6).astype(np.float32)
        _, r_log, *_, info = built_in.step(action)
        _, r_custom, *_ = custom.step(action)
        _, r_pnl, *_ = by_name.step(action)
        _, r_simple, *_ = simple.step(action)
        equity = info["equity"]
        assert r_log == pytest.approx(float(log_return(np.array(prev), np.array(equity), np.array(10_000.0))), rel=1e-12)
        assert r_pnl == pytest.approx((equity - prev) / 10_000, rel=1e-12, abs=1e-15)
        assert r_custom == pytest.approx(r_pnl / 2, rel=1e-12, abs=1e-15)
        assert r_simple == pytest.approx(equity / prev - 1, rel=1e-12, abs=1e-15)
        prev = equity
    assert seen == [1] * 5


def test_info_keys_types_and_fresh_arrays(market):
    env = PerpTradingEnv(market, start=300, episode_length=6)
    _, info = env.reset(seed=0)
    assert tuple(info) == INFO_KEYS
    _, _, _, _, info = env.step(np.full(6, 0.3, np.float32))
    for key, value in info.items():
        expected = bool if key in ("liquidated", "invalid_output") else \
            float if key in ("equity", "collateral", "unrealized_pnl", "realized_pnl", "fees_paid", "funding_paid",
                             "gross_leverage", "margin_scale") else int
        assert type(value) is expected, key
    vec = PerpVectorEnv(3, market, episode_length=4)
    vec.reset(seed=0)
    _, _, _, _, first = vec.step(np.full((3, 6), 0.3, np.float32))
    kept = {k: first[k].copy() for k in INFO_KEYS}
    assert first["liquidated"].dtype == bool and first["fills"].dtype == np.int64 and first["equity"].dtype == float
    vec.step(np.full((3, 6), -0.3, np.float32))
    for key in INFO_KEYS:   # the arrays handed out are not rewritten by the next step
        np.testing.assert_array_equal(first[key], kept[key])


def test_the_ledger_growing_between_steps_moves_no_array_under_the_compiled_step(market):
    env = PerpTradingEnv(market, start=300, episode_length=40, ledger="full")
    env.reset(seed=0)
    ledger = env.unwrapped.core.exchange.ledger
    rng = np.random.default_rng(2)
    for step in range(30):
        if step % 7 == 3:
            ledger.reserve(ledger.float_block.shape[1] + 1)    # forces new, larger blocks
        env.step(rng.uniform(-1, 1, 6).astype(np.float32))
    frame = env.unwrapped.ledger_frame()
    fills = frame[frame["kind"] == "order"]
    assert len(fills) > 0 and frame["bar"].is_monotonic_increasing
    fees = env.unwrapped.account.fees_paid[0]
    assert frame["fee"].sum() == pytest.approx(fees, rel=1e-12)


def test_stepping_past_the_data_is_one_clear_error(market):
    env = PerpTradingEnv(market, start=market.n_bars - 60, episode_length=None)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="runs past the data"):
        for _ in range(80):
            env.step(np.zeros(6, np.float32))


@pytest.mark.skipif(not hasattr(__import__("arena_gym.env.compiled").env.compiled.step_env, "signatures"),
                    reason="numba's JIT is disabled: nothing is compiled")
def test_an_unpickled_env_reuses_the_compiled_step_instead_of_compiling_another(market):
    import pickle

    from arena_gym.env import compiled

    env = PerpTradingEnv(market, start=300, episode_length=5)
    env.reset(seed=0)
    env.step(np.zeros(6, np.float32))
    before = set(compiled.step_env.signatures)
    clone = pickle.loads(pickle.dumps(env))
    clone.reset(seed=0)
    clone.step(np.zeros(6, np.float32))
    assert set(compiled.step_env.signatures) == before
