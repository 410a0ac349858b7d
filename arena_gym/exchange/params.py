"""The exchange's parameters: built once from a market and a rule preset, then frozen.

Everything the rules read that does not change while accounts trade lives here, packed into two
flat blocks the compiled kernel takes, one of floats and one of integers (integers stay
integers), plus the market's bar table; their parts are views (layouts: the ``S_*``, ``Q_*``,
``AP_*``, ``T_*`` and ``B_*`` indices and :func:`~arena_gym.exchange.layout.param_views`). The
accounts' state lives in :class:`~arena_gym.exchange.state.AccountState`. The arrays are
read-only.

Dated fee tiers (the preset's ``fee_schedule``) resolve here, once per market: ``fee_tier[bar]``
is the index of the tier in force at that bar's open time (the last entry whose ``from`` is at
or before it), and ``fees[0 | 1, tier, asset]`` its taker | maker rate. Tier 0 holds each
asset's own fees, in force before the first entry. Every fee of a bar (orders, stops, targets,
liquidations) is charged at that bar's tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..row_buffer import RowBuffer
from ..venue import AssetSpec, ExchangeRules
from .layout import (LEDGER_FILLS, LEDGER_FULL, LEDGER_OFF, N_INT_SCALARS, Q_ASSETS, Q_FEE_TIERS,
                     Q_FORFEIT_ON_LIQUIDATION, Q_ISOLATED, Q_LEDGER_LEVEL, Q_TIERS, Q_TP_MAKER, param_views)
from .slippage import SlippageModel


class MarketArrays(Protocol):
    """What the exchange reads of a market (an :class:`arena_gym.market.MarketData` has all of it):
    arrays of shape ``(n_bars, n_assets)`` in quote currency (volume in coins, funding rate a
    fraction per settlement, ``mark`` None when the data has no mark price)."""

    assets: tuple[AssetSpec, ...]
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    funding_rate: np.ndarray
    mark: np.ndarray | None

    @property
    def n_bars(self) -> int: ...

    @property
    def n_assets(self) -> int: ...

    @property
    def symbols(self) -> tuple[str, ...]: ...

LEDGER_LEVELS = {"off": LEDGER_OFF, "fills": LEDGER_FILLS, "full": LEDGER_FULL}


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _bar_fields(market: MarketArrays, use_mark: bool, start: int) -> np.ndarray:
    """(7, T - start, A) the fields of the bars ``start:``."""
    rows = slice(start, market.n_bars)
    prev_volume = market.volume[max(start - 1, 0):market.n_bars - 1]
    if start == 0:
        prev_volume = np.concatenate([market.volume[:1], prev_volume])
    return np.stack([market.open[rows], market.high[rows], market.low[rows], market.close[rows], prev_volume,
                     market.funding_rate[rows], (market.mark if use_mark else market.open)[rows]]).astype(np.float64)


def market_bars(market: MarketArrays, use_mark: bool) -> np.ndarray:
    """(7, T, A) open, high, low, close, previous bar's volume, funding rate, funding price;
    shared by every exchange on the same bars.

    After the market grew in place (:meth:`~arena_gym.market.MarketData.append`) the table is a
    buffer of a larger capacity, ``(7, C, A)`` with ``C >= T``: its rows from ``T`` on are zero
    and no step may reach them (callers check the market's ``n_bars``)."""
    key = ("exchange_bars", use_mark)
    cached = market._cache.get(key)
    if cached is None:
        cached = market._cache[key] = RowBuffer(_frozen(_bar_fields(market, use_mark, 0)), axis=1)
    elif cached.n < market.n_bars:
        cached.append(_bar_fields(market, use_mark, cached.n))
    return cached.buffer


@dataclass(frozen=True, eq=False)
class ExchangeParams:
    """Frozen parameters of one exchange over one market (see the module docstring).

    Attributes:
        par_f: float64 block: the exchange-wide numbers (``S_*``: backstop fraction, bankruptcy
            threshold, slippage model), then ``asset_par``, ``tiers`` and ``fees``.
        par_i: int64 block: the table sizes and switches (``Q_*``: margin mode, take-profit
            liquidity, bankruptcy close, ledger level), then ``fee_tier``.
        bars: (7, T, A) the market fields the rules read.

    Views into the blocks: ``asset_par`` (4, A) max leverage, size step, minimum notional,
    default leverage; ``tiers`` (3, A, K) maintenance tier floors, rates and amounts (unused
    tiers: floor inf); ``fees`` (2, F, A) taker, maker rates of each fee tier; ``fee_tier`` (T,)
    the fee tier in force at each bar; ``scal`` the exchange-wide numbers.
    """

    par_f: np.ndarray
    par_i: np.ndarray
    bars: np.ndarray

    def __repr__(self) -> str:
        from arena_gym.text_format import arrays_repr

        return arrays_repr(self)

    @property
    def scal(self) -> np.ndarray:
        return param_views(self.par_f, self.par_i)[0]

    @property
    def asset_par(self) -> np.ndarray:
        return param_views(self.par_f, self.par_i)[1]

    @property
    def tiers(self) -> np.ndarray:
        return param_views(self.par_f, self.par_i)[2]

    @property
    def fees(self) -> np.ndarray:
        return param_views(self.par_f, self.par_i)[3]

    @property
    def fee_tier(self) -> np.ndarray:
        return param_views(self.par_f, self.par_i)[4]

    @classmethod
    def build(cls, market: MarketArrays, rules: ExchangeRules, slippage: SlippageModel, *, isolated: bool,
              default_leverage: np.ndarray, ledger_level: str) -> "ExchangeParams":
        specs = market.assets
        n_assets = len(specs)
        max_leverage = np.array([float(a.max_leverage) for a in specs])
        min_notional = np.array([a.min_notional for a in specs])
        asset_par = np.stack([max_leverage, np.array([a.size_step for a in specs]), min_notional, default_leverage])
        k = max(len(a.maintenance_tiers) for a in specs)
        tiers = np.zeros((3, n_assets, k))
        tiers[0] = np.inf
        for i, a in enumerate(specs):
            for j, tier in enumerate(a.maintenance_tiers):
                tiers[:, i, j] = tier
        use_mark = rules.funding_price == "mark" and market.mark is not None
        scal = np.array([rules.backstop_fraction, float(np.min(min_notional / max_leverage)), slippage.half_spread,
                         slippage.impact, slippage.max_slippage, slippage.min_volume])
        schedule = rules.fee_schedule
        fees = np.zeros((2, 1 + len(schedule), n_assets))
        fees[0, 0] = [a.taker_fee for a in specs]          # tier 0: the assets' own fees
        fees[1, 0] = [a.maker_fee for a in specs]
        for j, tier in enumerate(schedule, start=1):
            fees[0, j], fees[1, j] = tier.taker_fee, tier.maker_fee
        starts = np.array([t.start_ns for t in schedule], np.int64)
        bar_ns = np.asarray(market.timestamps).astype("datetime64[ns]").astype(np.int64)
        fee_tier = np.searchsorted(starts, bar_ns, side="right").astype(np.int64)
        ints = np.zeros(N_INT_SCALARS, np.int64)
        ints[Q_ASSETS], ints[Q_TIERS], ints[Q_FEE_TIERS] = n_assets, k, fees.shape[1]
        ints[Q_ISOLATED] = isolated
        ints[Q_TP_MAKER] = rules.take_profit_liquidity == "maker"
        ints[Q_FORFEIT_ON_LIQUIDATION] = rules.liquidation_close == "bankruptcy_price"
        ints[Q_LEDGER_LEVEL] = LEDGER_LEVELS[ledger_level]
        par_f = np.concatenate([scal, asset_par.ravel(), tiers.ravel(), fees.ravel()])
        par_i = np.concatenate([ints, fee_tier])
        return cls(par_f=_frozen(par_f), par_i=_frozen(par_i), bars=market_bars(market, use_mark))
