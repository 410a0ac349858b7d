"""Turning parsed contest decisions into the environment's target orders for one account.

=================  ==========================================================================
signal             order for the coin (``size`` is the target signed size after the fill)
=================  ==========================================================================
hold               nothing (every field ``NaN``: keep the position and its exit plan)
close_position     ``size = 0``: close fully, whatever quantity the answer wrote. On a coin
                   with no position nothing happens and a ``nothing_to_close`` note is kept
buy_to_enter q     ``size = max(current, 0) + q``: opens or adds to a long; a short is
                   closed and a long of ``q`` opened
sell_to_enter q    ``size = min(current, 0) - q``: the mirror image
=================  ==========================================================================

An entry carries its ``leverage`` (``default_leverage`` when the answer gave none),
``stop_loss`` and ``profit_target`` (as ``take_profit``; ``NaN`` when absent). With house
rules on, an entry on a coin that already has a position is refused: the coin holds, its
flag gets :attr:`~arena_gym.exchange.orders.OrderFlag.HOUSE_RULE` and a ``house_rule``
fallback is recorded. An executed entry whose leverage the parser clamped gets
:attr:`~arena_gym.exchange.orders.OrderFlag.LEVERAGE_CLAMPED`, as an RL action would from
the exchange's validator. That validator then applies the exchange's own limits (maximum
leverage, minimum order value, margin, size step) to these orders like to any other.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from arena_gym.exchange.orders import OrderFlag, Orders
from arena_gym.protocol.decision import Fallback, ParsedDecision, Signal


def decode_decisions(parsed: ParsedDecision, symbols: Sequence[str], position_size: np.ndarray, *,
                     house_rules: bool, default_leverage: float | np.ndarray
                     ) -> tuple[Orders, np.ndarray, list[Fallback]]:
    """Orders for one account from a :class:`ParsedDecision` (rules in the module docstring).

    Args:
        parsed: the output of :func:`arena_gym.protocol.parse.parse_decision`.
        symbols: the environment's symbols, in asset order (length ``A``).
        position_size: (A,) current signed sizes in coins (negative = short).
        house_rules: refuse entries on coins with an open position (the contest's rules).
        default_leverage: leverage for an entry that gave none; a scalar or (A,). ``NaN``
            leaves it to the exchange (the account's default).

    Returns:
        ``(orders, flags, fallbacks)``: :class:`Orders` shaped (1, A); (1, A) ``int64``
        :class:`OrderFlag` bits set here; and every fallback of the step, the parser's
        (``parsed.fallbacks``) followed by those added here, ready for the step's record.
    """
    symbols = tuple(symbols)
    n_assets = len(symbols)
    size = np.asarray(position_size, dtype=np.float64)
    if size.shape != (n_assets,):
        raise ValueError(f"position_size has shape {size.shape}, expected ({n_assets},) for symbols {symbols}")
    if not np.isfinite(size).all():
        raise ValueError(f"position_size must be finite, got {size}")
    try:
        leverage_default = np.broadcast_to(np.asarray(default_leverage, dtype=np.float64), (n_assets,))
    except ValueError:
        raise ValueError(f"default_leverage must be a scalar or shaped ({n_assets},), "
                         f"got shape {np.shape(default_leverage)}") from None

    orders = Orders.hold(1, n_assets)
    flags = np.zeros((1, n_assets), dtype=np.int64)
    fallbacks = list(parsed.fallbacks)
    index = {symbol: a for a, symbol in enumerate(symbols)}
    clamped = {f.coin for f in parsed.fallbacks if f.reason == "leverage_clamped"}

    for coin, decision in parsed.decisions.items():
        a = index.get(coin)
        if a is None:
            detail = f"{coin} is not traded here; symbols: {', '.join(symbols)}"
            fallbacks.append(Fallback(None, "unknown_coin", detail))
            continue
        current = float(size[a])
        if decision.signal is Signal.HOLD:
            continue
        if decision.signal is Signal.CLOSE_POSITION:
            if current == 0.0:
                fallbacks.append(Fallback(coin, "nothing_to_close", f"close_position on {coin}, which has no position"))
            else:
                orders.size[0, a] = 0.0
            continue
        if house_rules and current != 0.0:
            side = "long" if current > 0 else "short"
            flags[0, a] |= OrderFlag.HOUSE_RULE
            fallbacks.append(Fallback(coin, "house_rule", f"{decision.signal.value} on {coin} while a {side} of "
                                      f"{abs(current):g} is open: only hold or close_position are allowed"))
            continue
        quantity = float(decision.quantity)
        if decision.signal is Signal.BUY_TO_ENTER:
            orders.size[0, a] = max(current, 0.0) + quantity
        else:
            orders.size[0, a] = min(current, 0.0) - quantity
        orders.leverage[0, a] = float(decision.leverage) if decision.leverage is not None else leverage_default[a]
        orders.stop_loss[0, a] = _price(decision.stop_loss)
        orders.take_profit[0, a] = _price(decision.profit_target)
        if coin in clamped:
            flags[0, a] |= OrderFlag.LEVERAGE_CLAMPED
    return orders, flags, fallbacks


def _price(value: float | None) -> float:
    return math.nan if value is None else float(value)
