"""Scalar rules of the venue that are also needed outside the compiled kernel.

Plain Python on floats and NumPy arrays, free of numba: :mod:`arena_gym.exchange.kernel`
compiles these same functions into its step, and the contract specs and the decision parser
call them directly, so each rule exists once. The field order of the maintenance tier table
(``T_FLOOR``, ``T_RATE``, ``T_AMOUNT``) is defined here and re-exported by
:mod:`arena_gym.exchange.layout` with the kernel's other array layouts.
"""

from __future__ import annotations

import numpy as np

#: Fields of ``tiers[field, asset, tier]``: the notional floor, the rate and the amount of a tier.
T_FLOOR, T_RATE, T_AMOUNT = range(3)


def maintenance_tier(tiers: np.ndarray, a: int, notional: float) -> tuple[float, float]:
    """(rate, amount) of the maintenance tier of asset ``a`` for a position of ``notional``:
    the last tier whose floor is ``<= notional``. ``tiers[field, asset, tier]`` holds floors,
    rates and amounts (unused tiers: floor inf); maintenance margin is ``notional x rate - amount``."""
    rate = tiers[T_RATE, a, 0]
    amount = tiers[T_AMOUNT, a, 0]
    for j in range(1, tiers.shape[2]):
        if notional >= tiers[T_FLOOR, a, j]:
            rate = tiers[T_RATE, a, j]
            amount = tiers[T_AMOUNT, a, j]
    return rate, amount


def clamp_leverage(leverage: float, max_leverage: float) -> float:
    """Leverage floored to an integer and clamped to ``[1, max_leverage]``."""
    return min(max(np.floor(leverage), 1.0), max_leverage)
