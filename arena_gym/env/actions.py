"""RL action modes, decoded batch-first into the one internal order type.

``target`` — ``Box(-1, 1, (A,))``: the target exposure of each asset as a fraction of
``leverage_cap x equity``. When the absolute weights sum to more than 1 they are scaled down to
sum to 1, so gross exposure never exceeds ``leverage_cap x equity``. The leverage of each order
(which sets the margin it puts up) depends on the margin mode:

* **isolated**: margin in proportion to each position's share of the account, as a careful
  user margins a portfolio. With ``G = leverage_cap x min(sum |w|, 1)`` the target gross
  exposure (in multiples of equity), every traded position opens at leverage ``ceil(G)``, at
  least 1x and at most the asset's maximum (leverage is a whole number, as on the exchange).
  The margins then add up to ``G / ceil(G)`` of equity (all of it when ``G`` is whole), each in
  proportion to its position's share of the gross exposure, so a position is liquidated only by
  a move of its price that would wipe out the whole portfolio if every coin made it: a 1x
  portfolio (``G <= 1``) holds every position at 1x, which only a price near zero liquidates.
  When ``G`` is whole the opening fees do not fit beside the full margins, so the margin check
  scales the increases by about ``1 / (1 + taker fee)``; where ``ceil(G)`` exceeds an asset's
  maximum, that position needs more than its share and may be scaled too.
* **cross**: leverage ``max(leverage_cap, default leverage)`` (capped by each asset's
  maximum), so that the exposure cap, not the initial-margin check, is what binds; the account's
  whole equity backs every position, so the leverage only sets the initial margin.

A change smaller than
``deadband x equity`` in notional is not traded (a hold), except a target of exactly 0, which
closes the position.

``target_leverage`` — ``Box((2, A))``: row 0 the target weights, exactly as ``target`` (in
[-1, 1], a fraction of ``leverage_cap x equity``, scaled down when their absolute values sum to
more than 1, the same deadband); row 1 the leverage each asset's order opens at, in either margin
mode, instead of the rules above: clipped to ``[1, the asset's maximum]`` and floored to a whole
number (:func:`~arena_gym.venue.formulas.clamp_leverage`, the exchange's own clamp). The
leverage takes effect only when the asset trades (outside the deadband); a held position keeps
the leverage it has. On isolated margin an order at leverage ``L`` puts up ``notional / L`` of
margin, so the position's liquidation price is that of an ``L``x position; on cross margin ``L``
sets the initial margin the margin check asks for, and the account's equity backs the position.
The space's bounds: ``low = [[-1] * A, [1] * A]``, ``high = [[1] * A, max leverages]``; weights and
leverages outside them are clipped and counted in ``info["actions_clipped"]``.

``discrete`` — ``MultiDiscrete([3] * A)``: 0 short, 1 flat, 2 long; a long or short slot is a
target weight of ``+-1 / A``, then as ``target``.

The numeric modes are decoded per account by the compiled step
(:func:`arena_gym.env.compiled.decode_account`), into the same orders the contest's JSON
decisions decode into (:mod:`arena_gym.protocol.decode`, :class:`~arena_gym.exchange.orders.Orders`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces

ACTION_MODES = ("target", "target_leverage", "discrete", "decision")


def action_space(mode: str, n_assets: int, max_text_length: int = 20_000,
                 max_leverage: Sequence[float] | None = None) -> spaces.Space:
    """The action space of ``mode`` for ``n_assets`` assets; ``target_leverage`` needs each
    asset's ``max_leverage`` (its space's upper bound of leverage)."""
    if mode == "target":
        return spaces.Box(-1.0, 1.0, shape=(n_assets,), dtype=np.float32)
    if mode == "target_leverage":
        if max_leverage is None or len(max_leverage) != n_assets:
            raise ValueError(f"the target_leverage action space needs the maximum leverage of each of the {n_assets} "
                             f"assets, got {max_leverage!r}")
        low = np.stack([np.full(n_assets, -1.0), np.ones(n_assets)]).astype(np.float32)
        high = np.stack([np.ones(n_assets), np.asarray(max_leverage, dtype=np.float64)]).astype(np.float32)
        return spaces.Box(low, high, dtype=np.float32)
    if mode == "discrete":
        return spaces.MultiDiscrete([3] * n_assets)
    if mode == "decision":
        return spaces.Text(max_length=max_text_length, min_length=0, charset=_PRINTABLE)
    raise ValueError(f"unknown action_mode {mode!r}; available: {ACTION_MODES}")


_PRINTABLE = frozenset(chr(c) for c in range(32, 127)) | {"\n", "\t"}
