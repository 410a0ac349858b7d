"""Recorded fills: the replay-only way to fill an order at a price from inside a bar.

Every policy's orders fill at the open of the bar after its decision, plus slippage: a policy
deciding live never trades at a price it could not have had. A *recorded* trade log is
different: its fills happened, at known times and prices. To replay one **as traded**, an env is
built with a :class:`FillTape` (the log's fills: coin, time, signed quantity, price, maker flag)
given to its constructor, ``PerpTradingEnv(market, config, recorded_fills=tape)``; the tape is
not an :class:`~arena_gym.env.EnvConfig` field, so no policy's ``env_overrides`` can ask for it,
and the evaluation runner builds such an env only for a recorded policy replayed as traded.

Such an env takes one action type only, :class:`RecordedFills`: per coin, the tape fills (by
their index) that make one order, the position's target size after it and its leverage. The
env, not the action, supplies the price: the volume-weighted price of those tape fills, and the
fee rate of the dated fee schedule in force at each fill's time, taker or maker by its flag
(:func:`tape_fee_rates`). It refuses (``ValueError``) a fill used twice, a fill of another coin,
and a fill recorded at or after the close of the bar being filled (no price from a later
moment); every other rule (margin, liquidation, funding) is the env's own. An env without a tape
refuses :class:`RecordedFills` actions, and the JSON decision and numeric actions have no price
field: an order a policy sends fills at the open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FillTape:
    """Recorded fills, one entry per fill (index = the fill's key in :class:`RecordedOrder`).

    Attributes:
        symbol: coin of each fill.
        time: UTC time of each fill (``pandas.DatetimeIndex``).
        quantity: signed change of the position in coins (buy > 0, sell < 0).
        price: fill price, quote currency per coin (> 0).
        maker: True for a resting (maker) fill, False for a taker fill.
    """

    symbol: tuple[str, ...]
    time: pd.DatetimeIndex
    quantity: np.ndarray
    price: np.ndarray
    maker: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.symbol)
        if not (len(self.time) == len(self.quantity) == len(self.price) == len(self.maker) == n):
            raise ValueError("FillTape: symbol, time, quantity, price and maker must have one entry per fill")
        if not (np.isfinite(self.price).all() and (self.price > 0).all()):
            raise ValueError("FillTape: every price must be a positive finite number")
        if not (np.isfinite(self.quantity).all() and (self.quantity != 0).all()):
            raise ValueError("FillTape: every quantity must be a non-zero finite number")

    def __len__(self) -> int:
        return len(self.symbol)


@dataclass(frozen=True)
class RecordedOrder:
    """One coin's order of a :class:`RecordedFills` step: tape fills ``fills`` (indices) make one
    fill at their volume-weighted price; ``target`` is the signed size in coins after it (0
    closes), ``leverage`` the position's integer leverage (NaN keeps the current one)."""

    fills: tuple[int, ...]
    target: float
    leverage: float = float("nan")


@dataclass(frozen=True)
class RecordedFills:
    """The action of an env built with a :class:`FillTape`: ``orders`` by coin (none = hold)."""

    orders: Mapping[str, RecordedOrder] = field(default_factory=dict)

    def to_record(self) -> dict:
        return {coin: {"fills": list(o.fills), "target": o.target, "leverage": o.leverage}
                for coin, o in self.orders.items()}


def tape_fee_rates(tape: FillTape, symbols: Sequence[str], taker: np.ndarray, maker: np.ndarray,
                   schedule: Sequence) -> np.ndarray:
    """Fee rate (fraction of fill notional) of every tape fill: the taker or maker rate (by its
    flag) of the dated ``schedule`` entry (:class:`~arena_gym.venue.FeeTier`) in force
    at the fill's time, before the first entry the contract's ``taker`` / ``maker`` (per asset of
    ``symbols``)."""
    column = {s: j for j, s in enumerate(symbols)}
    out = np.empty(len(tape))
    for i, (coin, when, is_maker) in enumerate(zip(tape.symbol, tape.time, tape.maker)):
        j = column[coin]
        tier = None
        for t in schedule:
            if t.start <= when:
                tier = t
        if tier is None:
            out[i] = maker[j] if is_maker else taker[j]
        else:
            out[i] = tier.maker_fee if is_maker else tier.taker_fee
    return out


class TapeReader:
    """The env's side of a tape: turns a :class:`RecordedFills` action into orders and the fill
    prices, fee rates and maker flags of the exchange's replay hooks (module docstring)."""

    def __init__(self, tape: FillTape, symbols: Sequence[str], fee_rates: np.ndarray,
                 bar_close: np.ndarray) -> None:
        unknown = sorted(set(tape.symbol) - set(symbols))
        if unknown:
            raise ValueError(f"the fill tape holds coins {unknown} the env does not trade ({list(symbols)})")
        self.tape = tape
        self.symbols = list(symbols)
        self.fee_rates = fee_rates
        self.bar_close = bar_close                      # (n_bars,) int64 ns: close time of each bar
        self.time_ns = tape.time.as_unit("ns").asi8
        self.used = np.zeros(len(tape), bool)

    def reset(self) -> None:
        self.used[:] = False

    def hooks(self, action: RecordedFills, fill_bar: int):
        """(orders (1, A), fill_price, fee_rate, maker) for the step that fills at bar ``fill_bar``."""
        from ..exchange.orders import Orders

        a = len(self.symbols)
        orders = Orders.hold(1, a)
        price = np.full((1, a), np.nan)
        fee = np.full((1, a), np.nan)
        maker = np.zeros((1, a), bool)
        close = self.bar_close[fill_bar]
        for coin, order in action.orders.items():
            if coin not in self.symbols:
                raise ValueError(f"recorded fills for {coin!r}, which the env does not trade")
            keys = np.asarray(order.fills, np.int64)
            if keys.size == 0 or keys.min() < 0 or keys.max() >= len(self.tape):
                raise ValueError(f"{coin}: recorded fills {list(order.fills)} are not on the tape "
                                 f"(0..{len(self.tape) - 1})")
            if len(set(keys.tolist())) != keys.size or self.used[keys].any():
                raise ValueError(f"{coin}: recorded fills {list(order.fills)} were already filled")
            if any(self.tape.symbol[k] != coin for k in keys):
                raise ValueError(f"{coin}: recorded fills {list(order.fills)} belong to another coin")
            if (self.time_ns[keys] >= close).any():
                raise ValueError(f"{coin}: recorded fills {list(order.fills)} happened after the bar being filled "
                                 f"closes ({pd.Timestamp(close, tz='UTC')}); a fill never takes a later price")
            if not np.isfinite(order.target):
                raise ValueError(f"{coin}: target size must be finite, got {order.target}")
            q = np.abs(self.tape.quantity[keys])
            notional = q * self.tape.price[keys]
            j = self.symbols.index(coin)
            orders.size[0, j] = order.target
            orders.leverage[0, j] = order.leverage
            price[0, j] = notional.sum() / q.sum()
            fee[0, j] = float((self.fee_rates[keys] * notional).sum() / notional.sum())
            maker[0, j] = bool(self.tape.maker[keys].all())
            self.used[keys] = True
        return orders, price, fee, maker
