"""The ``target_leverage`` action mode: target weights as in ``target``, and each order's own
leverage, clipped to [1, the asset's maximum] and floored, checked against hand-computed sizes,
margins and liquidation prices on isolated and cross margin."""

from __future__ import annotations

import numpy as np
import pytest

from arena_gym.env import PerpTradingEnv
from arena_gym.env.vector_env import PerpVectorEnv
from arena_gym.exchange.layout import O_LEVERAGE
from arena_gym.market.indicators import WARMUP_BARS
from markets import bars_market, flat_bars

START = WARMUP_BARS + 5
# Hyperliquid: BTC up to 40x (maintenance 1.25 %), ETH up to 25x (2 %)
BTC_MMR, ETH_MMR = 0.0125, 0.02


def flat_pair(n: int = 80):
    """BTC flat at 100, ETH flat at 2000."""
    return bars_market({"BTC": flat_bars(100.0, n), "ETH": flat_bars(2000.0, n)})


def env_of(margin_mode: str, market=None, **config) -> PerpTradingEnv:
    env = PerpTradingEnv(market or flat_pair(), action_mode="target_leverage", margin_mode=margin_mode,
                         slippage="none", fees=(0.0, 0.0), start=START, episode_length=8, deadband=0.0, **config)
    env.reset(seed=0)
    return env


def action(weights, leverages) -> np.ndarray:
    return np.array([weights, leverages], np.float32)


def test_the_action_space_bounds_weights_and_each_assets_leverage():
    space = env_of("isolated").action_space
    assert space.shape == (2, 2)
    np.testing.assert_array_equal(space.low, [[-1, -1], [1, 1]])
    np.testing.assert_array_equal(space.high, [[1, 1], [40, 25]])


def test_isolated_positions_open_at_their_own_leverage():
    """cap 2, weights (0.5, -0.25): 10,000 $ long BTC at 5x puts up 2,000 $, 5,000 $ short ETH at
    10x puts up 500 $; isolated liquidation prices (entry -+ margin / |size|) / (1 -+ rate)."""
    env = env_of("isolated", leverage_cap=2.0)
    _, _, _, _, info = env.step(action([0.5, -0.25], [5, 10]))
    assert info["actions_clipped"] == 0 and info["orders_scaled_by_margin"] == 0
    held = {p.symbol: p for p in env.unwrapped.positions()}
    assert {s: p.size for s, p in held.items()} == pytest.approx({"BTC": 100.0, "ETH": -2.5}, rel=1e-12)
    assert {s: p.leverage for s, p in held.items()} == {"BTC": 5.0, "ETH": 10.0}
    assert {s: p.margin for s, p in held.items()} == pytest.approx({"BTC": 2_000.0, "ETH": 500.0}, rel=1e-12)
    liquidation = {"BTC": (100.0 - 2_000.0 / 100.0) / (1 - BTC_MMR), "ETH": (2_000.0 + 500.0 / 2.5) / (1 + ETH_MMR)}
    assert {s: p.liquidation_price for s, p in held.items()} == pytest.approx(liquidation, rel=1e-12)
    # the same weights at other leverages: nothing trades, the positions keep theirs
    env.step(action([0.5, -0.25], [2, 3]))
    assert {p.symbol: p.leverage for p in env.unwrapped.positions()} == {"BTC": 5.0, "ETH": 10.0}


def test_leverages_are_clipped_to_the_assets_range_floored_and_counted():
    """Weight 1.5 -> 1 (cap 1: 10,000 $ of BTC), leverage 60 -> BTC's 40 (250 $ of margin), 0.5 ->
    1: three numbers outside the box. 7.9 -> 7 (floored like every leverage on the exchange)."""
    env = env_of("isolated", leverage_cap=1.0)
    _, _, _, _, info = env.step(action([1.5, 0.0], [60.0, 0.5]))
    orders = env.unwrapped.core.exchange.kernel_arguments(1).step[0]
    assert orders[O_LEVERAGE, 0, 0] == 40.0 and info["actions_clipped"] == 3
    assert info["orders_leverage_clamped"] == 0        # clipped by the action's decoding, not refused later
    (btc,) = env.unwrapped.positions()
    assert (btc.size, btc.leverage) == (pytest.approx(100.0, rel=1e-12), 40.0)
    assert btc.margin == pytest.approx(250.0, rel=1e-12)
    assert btc.liquidation_price == pytest.approx((100.0 - 2.5) / (1 - BTC_MMR), rel=1e-12)

    env = env_of("isolated", leverage_cap=1.0)
    _, _, _, _, info = env.step(action([0.375, 0.0], [7.9, 1.0]))
    (btc,) = env.unwrapped.positions()
    assert info["actions_clipped"] == 0 and btc.leverage == 7.0
    assert btc.margin == pytest.approx(3_750.0 / 7.0, rel=1e-12)


def test_cross_positions_take_the_leverage_for_their_initial_margin_only():
    """Cross margin: the leverage sets the margin in use (notional / leverage) and the margin
    check; the liquidation price is the account's (equity meets total maintenance), whatever the
    leverage: BTC at p with 100 BTC and 2.5 ETH short held: 100 p = 1.25 p + 100."""
    env = env_of("cross", leverage_cap=2.0)
    env.step(action([0.5, -0.25], [5, 10]))
    held = {p.symbol: p for p in env.unwrapped.positions()}
    assert {s: p.leverage for s, p in held.items()} == {"BTC": 5.0, "ETH": 10.0}
    assert {s: p.margin for s, p in held.items()} == pytest.approx({"BTC": 2_000.0, "ETH": 500.0}, rel=1e-12)
    # ETH at q: 10,000 - 2.5 (q - 2000) = 125 + 2.5 q x 0.02
    liquidation = {"BTC": 100.0 / (100.0 - 100.0 * BTC_MMR), "ETH": 14_875.0 / 2.55}
    assert {s: p.liquidation_price for s, p in held.items()} == pytest.approx(liquidation, rel=1e-12)

    # 20,000 $ of BTC (200 coins) needs 20,000 $ of margin at 1x: the margin check halves it; at 2x it fits
    for leverage, size in ((1.0, 100.0), (2.0, 200.0)):
        env = env_of("cross", leverage_cap=2.0)
        _, _, _, _, info = env.step(action([1.0, 0.0], [leverage, 1.0]))
        (btc,) = env.unwrapped.positions()
        assert btc.size == pytest.approx(size, rel=1e-12) and btc.leverage == leverage
        assert info["margin_scale"] == pytest.approx(size / 200.0, rel=1e-12)


def test_the_leverage_decides_an_isolated_liquidation():
    """BTC dips to 95 (-5 %) inside a bar: at 25x (liquidation at 96 / 0.9875) the position is
    closed there and the account keeps the rest; at 10x it survives the dip."""
    n = 80
    btc = flat_bars(100.0, n)
    btc[START + 1] = (100.0, 100.0, 95.0, 100.0)
    market = bars_market({"BTC": btc, "ETH": flat_bars(2000.0, n)})
    env = PerpVectorEnv(2, market, action_mode="target_leverage", margin_mode="isolated", slippage="none",
                        fees=(0.0, 0.0), start=START, episode_length=4, deadband=0.0, leverage_cap=1.0)
    env.reset(seed=0)
    actions = np.array([[[0.5, 0.0], [25, 1]], [[0.5, 0.0], [10, 1]]])
    _, _, _, _, info = env.step(actions)
    liquidated_at = (100.0 - 5_000.0 / 25 / 50.0) / (1 - BTC_MMR)
    np.testing.assert_array_equal(info["liquidations"], [1, 0])
    np.testing.assert_allclose(info["equity"], [10_000.0 - 50.0 * (100.0 - liquidated_at), 10_000.0], rtol=1e-12)


def test_bad_leverage_actions_are_refused_with_a_clear_error():
    env = env_of("isolated")
    with pytest.raises(ValueError, match="finite"):
        env.step(action([0.1, 0.1], [np.nan, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(1, 2, 2\)"):
        env.step(np.array([0.1, 0.1], np.float32))
