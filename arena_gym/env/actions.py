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

Both modes are decoded per account by the compiled step
(:func:`arena_gym.env.compiled.decode_account`), into the same orders the contest's JSON
decisions decode into (:mod:`arena_gym.llm.decode`, :class:`~arena_gym.exchange.orders.Orders`).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

ACTION_MODES = ("target", "discrete", "decision")


def action_space(mode: str, n_assets: int, max_text_length: int = 20_000) -> spaces.Space:
    if mode == "target":
        return spaces.Box(-1.0, 1.0, shape=(n_assets,), dtype=np.float32)
    if mode == "discrete":
        return spaces.MultiDiscrete([3] * n_assets)
    if mode == "decision":
        return spaces.Text(max_length=max_text_length, min_length=0, charset=_PRINTABLE)
    raise ValueError(f"unknown action_mode {mode!r}; available: {ACTION_MODES}")


_PRINTABLE = frozenset(chr(c) for c in range(32, 127)) | {"\n", "\t"}
