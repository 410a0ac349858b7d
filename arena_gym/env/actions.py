"""RL action modes, decoded batch-first into the one internal order type.

``target`` — ``Box(-1, 1, (A,))``: the target exposure of each asset as a fraction of
``leverage_cap x equity``. When the absolute weights sum to more than 1 they are scaled down to
sum to 1, so gross exposure never exceeds ``leverage_cap x equity``. Positions are opened at
leverage ``max(leverage_cap, default leverage)`` (capped by each asset's maximum), so that the
exposure cap, not the initial-margin check, is what binds. A change smaller than
``deadband x equity`` in notional is not traded (a hold), except a target of exactly 0, which
closes the position.

``discrete`` — ``MultiDiscrete([3] * A)``: 0 short, 1 flat, 2 long; a long or short slot is a
target weight of ``+-1 / A``, then as ``target``.

The contest's JSON decisions decode in :mod:`arena_gym.llm.decode` into the same
:class:`~arena_gym.exchange.orders.Orders`.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from ..exchange.engine import Exchange
from ..exchange.orders import Orders

ACTION_MODES = ("target", "discrete", "decision")


def target_orders(weights: np.ndarray, exchange: Exchange, leverage_cap: float, deadband: float) -> Orders:
    """Orders reaching target weights (N, A) in [-1, 1] from the accounts' last marks.

    Positions are opened at ``max(leverage_cap, default leverage)`` (capped per asset), so that
    initial margin stays well inside equity and the cap, not the margin check, binds.
    """
    s = exchange.state
    w = np.minimum(np.maximum(np.asarray(weights, dtype=np.float64), -1.0), 1.0)
    gross = np.abs(w) @ np.ones(w.shape[1])
    if (gross > 1.0).any():
        w = w / np.maximum(gross, 1.0)[:, None]
    equity = np.maximum(s.equity, 0.0)[:, None]
    target_notional = w * (leverage_cap * equity)
    change = np.abs(target_notional - s.size * s.mark)
    trade = (change >= deadband * equity) | ((w == 0) & (s.size != 0))
    size = target_notional / s.mark
    size[~trade] = np.nan
    leverage = np.where(trade, np.minimum(np.maximum(leverage_cap, exchange.default_leverage), exchange.max_leverage), np.nan)
    nan = np.full(size.shape, np.nan)
    return Orders(size=size, leverage=leverage, stop_loss=nan, take_profit=nan.copy())


def discrete_weights(actions: np.ndarray, n_assets: int) -> np.ndarray:
    """Map {0: short, 1: flat, 2: long} slots (N, A) to weights of ``+-1 / A``."""
    a = np.asarray(actions)
    return (a.astype(np.float64) - 1.0) / n_assets


def action_space(mode: str, n_assets: int, max_text_length: int = 20_000) -> spaces.Space:
    if mode == "target":
        return spaces.Box(-1.0, 1.0, shape=(n_assets,), dtype=np.float32)
    if mode == "discrete":
        return spaces.MultiDiscrete([3] * n_assets)
    if mode == "decision":
        return spaces.Text(max_length=max_text_length, min_length=0, charset=_PRINTABLE)
    raise ValueError(f"unknown action_mode {mode!r}; available: {ACTION_MODES}")


_PRINTABLE = frozenset(chr(c) for c in range(32, 127)) | {"\n", "\t"}
