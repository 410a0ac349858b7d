"""The batch perpetual-futures exchange: fills, fees, funding, margin, liquidation, exits.

No Gymnasium and no pandas here: every operation works on (n_accounts, n_assets) arrays, and
each account may sit at its own bar of the shared :class:`~arena_gym.market.MarketData`.

Timeline of one :meth:`Exchange.step` (DESIGN.md section 3). The policy has seen bar ``t``
closed; for each bar ``b = t+1 .. t+k``:

1. **Funding** stamped at ``b`` is settled at its open on the positions held going into it:
   ``payment = size x price x rate`` (price: the mark when the data has one and the preset says
   so, else the open); positive payments are paid, so longs pay shorts when the rate is positive.
2. **Gap check at the open**: positions are marked at the open; an account (cross) or position
   (isolated) already below maintenance is liquidated at the open price.
3. **Orders** (first bar only) are validated (:meth:`Exchange.validate`, one rule set for every
   action mode) and filled at the open plus slippage, taker fee on fill notional. Every fee of
   bar ``b`` (orders, stops, targets, liquidations) is the rate in force at ``b``'s open time:
   the preset's dated ``fee_schedule`` tier, or the asset's own fee before the first tier.
4. **Stop-losses** hit by the bar's adverse extreme (long: low, short: high) close at the stop
   (or at the open when the bar gapped through it), taker fee plus slippage, provided the stop
   comes before the liquidation on the way (else the liquidation comes first): for an isolated
   position, before its liquidation price; for a cross account, before the point of step 5.
5. **Liquidation**, checked on the adverse extremes: along the path from the open to every
   position's adverse extreme, the first point where equity meets maintenance margin is found
   (linear in the path fraction) and every position of the account closes there (cross); an
   isolated position closes at its liquidation price. Taker fee applies. The trader keeps what
   is left (Hyperliquid) unless the preset closes at the bankruptcy price (Binance) or, at a
   gap, equity was already below ``backstop_fraction`` x maintenance: then the rest is
   forfeited. Losses never exceed collateral (a shortfall is absorbed and booked as a negative
   forfeit).
6. **Take-profits** hit by the favourable extreme close at the target (or the open when gapped
   through), as a maker fill at the limit or a taker fill with slippage, per preset. Stop before
   target: a bar that hits both closes at the stop.
7. **Mark** at the close: ``unrealized = size x (close - entry)``; an account with no position
   and equity below the smallest possible initial margin is bankrupt (closed).

Validation rules (in order; each outcome is an :class:`OrderFlag` reported per asset):

* wrong array shapes raise ``ValueError``; ``+-inf`` sizes or leverage drop the order;
* a closed account executes nothing;
* leverage: NaN keeps the position's leverage (the default for a new one); otherwise floored
  to an integer and clamped to ``[1, max_leverage]``;
* sizes round toward zero to the asset's step; a change smaller than the minimum notional is
  dropped, except a full close;
* margin: the exposure-increasing parts of an account's orders (new positions, increases, the
  new side of a flip) are scaled by one common factor so that initial margin plus fees fit in
  equity at the open (isolated: in collateral plus open losses, less the margin of the positions
  kept); an increase that falls below the minimum notional after scaling is refused (a flip then
  just closes);
* stop-loss / take-profit on the wrong side of the open are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..market.spec import ExchangeRules, load_rules
from .ledger import FORFEIT, FUNDING, LIQUIDATION, ORDER, STOP_LOSS, TAKE_PROFIT, Ledger
from .orders import OrderFlag, Orders
from .slippage import SlippageModel, slippage_model
from .state import CROSS, ISOLATED, AccountState, row_sum

if TYPE_CHECKING:
    from ..market.data import MarketData

_F = OrderFlag


@dataclass
class StepReport:
    """What happened during one :meth:`Exchange.step`, per account.

    Attributes:
        flags: (N, A) int ``OrderFlag`` bits from validation.
        margin_scale: (N,) factor applied to exposure increases (1 = none).
        liquidated: (N,) number of positions liquidated during the step.
        stops: (N,) stop-loss fills; targets: (N,) take-profit fills; fills: (N,) all fills.
    """

    flags: np.ndarray
    margin_scale: np.ndarray
    liquidated: np.ndarray
    stops: np.ndarray
    targets: np.ndarray
    fills: np.ndarray


def _fee_tables(market: "MarketData", rules: ExchangeRules, taker: np.ndarray, maker: np.ndarray
                ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The fee tier of every bar and the (tiers + 1, A) taker and maker rates per tier.

    Row 0 holds the assets' own fees (before the first dated tier); row ``k`` the ``k``-th entry
    of ``rules.fee_schedule``. The tier of a bar is the last entry whose start is at or before
    the bar's open time. Without a schedule the bar map is None and only row 0 exists.
    """
    taker_rows, maker_rows = [taker], [maker]
    if not rules.fee_schedule:
        return None, np.array(taker_rows), np.array(maker_rows)
    for t in rules.fee_schedule:
        taker_rows.append(np.full_like(taker, t.taker_fee))
        maker_rows.append(np.full_like(maker, t.maker_fee))
    starts = np.array([t.start_ns for t in rules.fee_schedule], np.int64)
    bar_ns = market.timestamps.astype("datetime64[ns]").astype(np.int64)
    return np.searchsorted(starts, bar_ns, side="right"), np.array(taker_rows), np.array(maker_rows)


class Exchange:
    """``n_accounts`` accounts trading the assets of one MarketData under one rule preset.

    Args:
        market: shared, read-only bars; asset specs (fees, leverage, steps) come from
            ``market.assets``.
        n_accounts: batch size.
        initial_capital: starting collateral per account (quote currency).
        margin_mode: ``"cross"`` (default) or ``"isolated"``.
        rules: exchange preset name/path or loaded rules (exchange-wide behaviour).
        slippage: preset name or :class:`SlippageModel`.
        default_leverage: leverage of new positions whose order gives none (scalar or (A,));
            defaults to each asset's maximum capped at 10.
        ledger: ``"full"``, ``"fills"`` or ``"off"`` (see :mod:`arena_gym.exchange.ledger`).
    """

    def __init__(self, market: MarketData, n_accounts: int = 1, initial_capital: float = 10_000.0, *,
                 margin_mode: str = CROSS, rules: str | ExchangeRules = "hyperliquid",
                 slippage: str | SlippageModel | None = "default", default_leverage: float | np.ndarray | None = None,
                 ledger: str = "full") -> None:
        if margin_mode not in (CROSS, ISOLATED):
            raise ValueError(f"margin_mode must be 'cross' or 'isolated', got {margin_mode!r}")
        if n_accounts < 1:
            raise ValueError(f"n_accounts must be >= 1, got {n_accounts}")
        self.market = market
        self.rules = rules if isinstance(rules, ExchangeRules) else load_rules(rules)
        self.margin_mode = margin_mode
        self.isolated = margin_mode == ISOLATED
        self.slippage = slippage_model(slippage)
        specs = market.assets
        self.taker_fee = np.array([a.taker_fee for a in specs])
        self.maker_fee = np.array([a.maker_fee for a in specs])
        self._fee_tier_of_bar, self._taker_by_tier, self._maker_by_tier = _fee_tables(
            market, self.rules, self.taker_fee, self.maker_fee)
        self._taker_now, self._maker_now = self.taker_fee, self.maker_fee
        self.max_leverage = np.array([float(a.max_leverage) for a in specs])
        self.size_step = np.array([a.size_step for a in specs])
        self.min_notional = np.array([a.min_notional for a in specs])
        k = max(len(a.maintenance_tiers) for a in specs)
        self._tier_floor = np.full((len(specs), k), np.inf)
        self._tier_rate = np.zeros((len(specs), k))
        self._tier_amount = np.zeros((len(specs), k))
        for i, a in enumerate(specs):
            for j, (floor, rate, amount) in enumerate(a.maintenance_tiers):
                self._tier_floor[i, j], self._tier_rate[i, j], self._tier_amount[i, j] = floor, rate, amount
        self._flat_mm = k == 1
        self._flat_rate = self._flat_mm and not self._tier_amount.any()   # maintenance = notional x rate
        if default_leverage is None:
            default_leverage = np.minimum(self.max_leverage, 10.0)
        dl = np.broadcast_to(np.asarray(default_leverage, float), (len(specs),)).copy()
        if (dl < 1).any() or (dl > self.max_leverage).any():
            raise ValueError(f"default_leverage {dl} outside [1, max_leverage {self.max_leverage}]")
        self.default_leverage = np.floor(dl)
        self.bankrupt_below = float(np.min(self.min_notional / self.max_leverage))
        self.use_mark = self.rules.funding_price == "mark" and market.mark is not None
        self.tp_maker = self.rules.take_profit_liquidity == "maker"
        self.forfeit_on_liquidation = self.rules.liquidation_close == "bankruptcy_price"
        self.state = AccountState.new(n_accounts, market.n_assets, initial_capital)
        self.ledger = Ledger(n_accounts, ledger)
        self.funding_accrued = np.zeros((n_accounts, market.n_assets))
        self._rows = np.arange(n_accounts)
        self._ones_n = np.ones(n_accounts)
        self._ones_n.setflags(write=False)
        self._fee_cap = np.maximum(self._taker_by_tier.max(axis=0), self._maker_by_tier.max(axis=0)) \
            + self.slippage.max_slippage
        self._no_flags = np.zeros((n_accounts, market.n_assets), np.int64)
        self._no_flags.setflags(write=False)
        self._bind_market_arrays()

    def _bind_market_arrays(self) -> None:
        """Arrays derived from the market: rebuilt after unpickling instead of being pickled."""
        market = self.market
        self._prev_volume = np.concatenate([market.volume[:1], market.volume[:-1]])
        self._funding_price = market.mark if self.use_mark else market.open

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_prev_volume"], state["_funding_price"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_market_arrays()

    # ------------------------------------------------------------------ lifecycle
    @property
    def n_accounts(self) -> int:
        return self.state.n_accounts

    def reset(self, start_bar: int | np.ndarray, rows: np.ndarray | None = None,
              initial_capital: float | np.ndarray | None = None) -> None:
        """Start fresh accounts observing bar ``start_bar`` (their first orders fill at the next open).

        ``rows`` (bool mask or indices) selects accounts; all by default.
        """
        rows = self._rows if rows is None else rows
        start = np.broadcast_to(np.asarray(start_bar, np.int64), (self.n_accounts,))[rows] if np.ndim(start_bar) == 0 \
            else np.asarray(start_bar, np.int64)
        if (start < 0).any() or (start >= self.market.n_bars - 1).any():
            raise ValueError(f"start bar must be in [0, {self.market.n_bars - 2}], got {start}")
        self.state.reset_rows(rows, initial_capital)
        self.state.bar[rows] = start
        self.state.mark[rows] = self.market.close[start]
        self.funding_accrued[rows] = 0.0
        self.ledger.new_episode(rows)

    # ------------------------------------------------------------------ margin helpers
    def _tiers(self, notional: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Maintenance (rate, amount) per position for the given notionals (N, A)."""
        rate = np.broadcast_to(self._tier_rate[:, 0], notional.shape)
        amount = np.broadcast_to(self._tier_amount[:, 0], notional.shape)
        if self._flat_mm:
            return rate, amount
        for j in range(1, self._tier_floor.shape[1]):
            above = notional >= self._tier_floor[:, j]
            rate = np.where(above, self._tier_rate[:, j], rate)
            amount = np.where(above, self._tier_amount[:, j], amount)
        return rate, amount

    def maintenance_margin(self, price: np.ndarray | None = None) -> np.ndarray:
        """(N, A) maintenance margin of every position at ``price`` (default: the last mark)."""
        s = self.state
        notional = np.abs(s.size) * (s.mark if price is None else price)
        if self._flat_rate:
            return notional * self._tier_rate[:, 0]
        rate, amount = self._tiers(notional)
        return np.where(s.size != 0, notional * rate - amount, 0.0)

    def margin_in_use(self) -> np.ndarray:
        """(N, A) initial margin held by each position: isolated margin, or notional / leverage (cross)."""
        s = self.state
        if self.isolated:
            return s.isolated_margin.copy()
        return np.divide(np.abs(s.size) * s.mark, s.leverage, out=np.zeros(s.size.shape), where=s.leverage > 0)

    def available_margin(self) -> np.ndarray:
        """(N,) margin free for new positions (never negative).

        Cross: equity minus margin in use. Isolated: collateral outside position margins (open
        profits of isolated positions are not available).
        """
        s = self.state
        if self.isolated:
            free = s.collateral - s.isolated_margin.sum(axis=1)
        else:
            free = s.equity - self.margin_in_use().sum(axis=1)
        return np.maximum(free, 0.0)

    def adjust_isolated_margin(self, account: int, asset: int, amount: float) -> float:
        """Add (``amount > 0``) or remove margin of an isolated position, as Hyperliquid allows.

        The margin stays between the initial margin at the asset's maximum leverage (at the
        last mark) and what the account's free collateral allows. Returns the new margin.
        """
        s = self.state
        if not self.isolated:
            raise ValueError("margin can only be adjusted in isolated margin mode")
        if s.size[account, asset] == 0:
            raise ValueError(f"no open position in {self.market.symbols[asset]} for account {account}")
        new = s.isolated_margin[account, asset] + amount
        floor = abs(s.size[account, asset]) * s.mark[account, asset] / self.max_leverage[asset]
        free = s.collateral[account] - s.isolated_margin[account].sum()
        if not np.isfinite(amount) or new < floor or amount > free:
            raise ValueError(f"cannot change margin by {amount}: it must stay >= {floor:.6g} (initial margin at "
                             f"{self.max_leverage[asset]:g}x) and additions <= free collateral {free:.6g}")
        s.isolated_margin[account, asset] = new
        return float(new)

    def liquidation_price(self) -> np.ndarray:
        """(N, A) price at which each position is liquidated, 0 when flat or unreachable.

        Isolated: ``(entry - (margin + amount) / size) / (1 - rate)`` for a long and
        ``(entry + (margin + amount) / |size|) / (1 + rate)`` for a short (DESIGN.md section 4).
        Cross: the price of that asset at which account equity meets total maintenance margin,
        the other assets held at their marks.
        """
        s = self.state
        size, held = s.size, s.size != 0
        rate, amount = self._tiers(np.abs(size) * s.mark)
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = size - np.abs(size) * rate
            if self.isolated:
                num = size * s.entry - s.isolated_margin - amount
            else:
                mm = np.where(held, np.abs(size) * s.mark * rate - amount, 0.0)
                others = mm.sum(axis=1, keepdims=True) - mm
                num = others - amount - s.equity[:, None] + size * s.mark
            price = num / denom
        return np.where(held & np.isfinite(price), np.maximum(price, 0.0), 0.0)

    # ------------------------------------------------------------------ validation
    def validate(self, orders: Orders, open_price: np.ndarray, prev_volume: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Apply the validation rules (module docstring) to ``orders`` at fill prices ``open_price``.

        Returns ``(target, leverage, stop, take_profit, flags, scale, active)``: the final
        target sizes, leverages, exit levels to attach, the (N, A) flags, the (N,) margin scale
        and the (N, A) mask of positions that change.
        """
        s = self.state
        orders.check_shape(*s.size.shape)
        cur = s.size
        flags = np.zeros(cur.shape, np.int64)
        req = np.asarray(orders.size, float)
        lev_in = np.asarray(orders.leverage, float)
        given = ~np.isnan(req)
        if given.any():
            nonfinite = np.isinf(req) | (np.isinf(lev_in) & given)
            if nonfinite.any():
                flags[nonfinite] |= _F.NON_FINITE
                given &= ~nonfinite
            if s.closed.any():
                blocked = given & s.closed[:, None]
                flags[blocked] |= _F.ACCOUNT_CLOSED
                given &= ~blocked
        lev_given = np.isfinite(lev_in)
        lev = np.where(lev_given, lev_in, np.where(s.leverage > 0, s.leverage, self.default_leverage))
        lev = np.minimum(np.maximum(np.floor(lev), 1.0), self.max_leverage)
        clamped = given & lev_given & (lev != lev_in)
        if clamped.any():
            flags[clamped] |= _F.LEVERAGE_CLAMPED

        target = cur
        if given.any():
            target = np.where(given, self._round_to_step(req), cur)
            lost = given & (req != cur) & (target == cur)
            if lost.any():
                flags[lost] |= _F.SIZE_ROUNDED_TO_ZERO
            small = given & (target != cur) & (target != 0) & (np.abs(target - cur) * open_price < self.min_notional)
            if small.any():
                flags[small] |= _F.BELOW_MIN_NOTIONAL
                target = np.where(small, cur, target)

        # margin: scale the exposure-increasing parts by one factor per account. A bound that
        # overstates the need (all of the target at initial margin, every change at the highest
        # fee plus slippage) settles the common case where margin does not bind at all.
        scale = self._ones_n
        lev_after = np.where(target != cur, lev, np.where(s.leverage > 0, s.leverage, lev))
        unit = open_price / lev_after
        upnl = cur * (open_price - s.entry)
        # isolated: open profits stay in their positions and cannot fund new margin
        equity_open = s.collateral + row_sum(np.minimum(upnl, 0.0) if self.isolated else upnl)
        bound = row_sum(np.abs(target) * unit + np.abs(target - cur) * (open_price * self._fee_cap))
        if self.isolated or (bound > equity_open).any():
            same = cur * target > 0
            kept = np.where(same, np.where(np.abs(target) <= np.abs(cur), target, cur), 0.0)
            add = target - kept
            adding = add != 0
            fee_unit = open_price * (self._taker_now + self.slippage.fraction(np.abs(add), prev_volume))
            if self.isolated:   # kept positions hold their own margin, in proportion to what is kept
                kept_margin = np.divide(s.isolated_margin * np.abs(kept), np.abs(cur), out=np.zeros(cur.shape),
                                        where=cur != 0)
            else:
                kept_margin = np.abs(kept) * unit
            base = kept_margin + np.abs(kept - cur) * (open_price * self._taker_now)
            need = row_sum(np.abs(add) * (unit + fee_unit))
            equity = equity_open - row_sum(base)
            short = (equity < need) & (need > 0)
            if short.any():
                phi = np.where(short, np.maximum(equity, 0.0) / np.where(short, need, 1.0), 1.0)
                scale = phi
                scaled = self._round_to_step(add * phi[:, None])
                cut = adding & short[:, None]
                refused = cut & (np.abs(scaled) * open_price < self.min_notional)
                flags[cut & ~refused] |= _F.SCALED_BY_MARGIN
                flags[refused] |= _F.REFUSED_BY_MARGIN
                add = np.where(cut, np.where(refused, 0.0, scaled), add)
                target = kept + add
        active = target != cur

        # exit levels, checked against the side after the fill
        leverage = np.where(target == 0, 0.0, np.where(active, lev, s.leverage))
        if not self._exits_armed() and np.isnan(orders.stop_loss).all() and np.isnan(orders.take_profit).all():
            return target, leverage, s.stop_loss, s.take_profit, flags, scale, active
        fresh = active & (cur * target <= 0)       # opened, flipped or closed: nothing carried over
        stop = self._exit_level(orders.stop_loss, target, open_price, s.stop_loss, fresh, flags, _F.STOP_INVALID, True)
        take = self._exit_level(orders.take_profit, target, open_price, s.take_profit, fresh, flags, _F.TARGET_INVALID, False)
        return target, leverage, stop, take, flags, scale, active

    def _round_to_step(self, size: np.ndarray) -> np.ndarray:
        """Round toward zero to the asset's size step; within 1e-6 step of a multiple counts as it
        (absorbs the float error of size / step)."""
        steps = size / self.size_step
        return np.trunc(steps + np.copysign(1e-6, steps)) * self.size_step

    @staticmethod
    def _exit_level(level: np.ndarray, target: np.ndarray, price: np.ndarray, current: np.ndarray, fresh: np.ndarray,
                    flags: np.ndarray, flag: int, below: bool) -> np.ndarray:
        """New stop (``below=True``: under the price for longs) or target level per position."""
        level = np.asarray(level, float)
        given = ~np.isnan(level)
        if not given.any():
            return np.where(fresh, np.nan, current)
        given &= level != 0
        side = np.sign(target)
        long_bad = level >= price if below else level <= price
        short_bad = level <= price if below else level >= price
        bad = given & (((side > 0) & long_bad) | ((side < 0) & short_bad) | (level < 0) | np.isinf(level)) & (side != 0)
        if bad.any():
            flags[bad] |= flag
        keep = np.where(fresh, np.nan, current)
        out = np.where(given & ~bad, level, np.where(level == 0, np.nan, keep))
        return np.where(side == 0, np.nan, out)

    # ------------------------------------------------------------------ the step
    def step(self, orders: Orders | None, n_bars: int = 1, *, fill_price: np.ndarray | None = None,
             fee_rate: np.ndarray | None = None, maker: np.ndarray | None = None) -> StepReport:
        """Fill ``orders`` at the next open, then run ``n_bars`` bars (see the module docstring).

        For replaying recorded trades, ``fill_price`` (N, A) fills the orders at those prices
        instead of the open plus slippage (NaN: the usual fill), ``fee_rate`` (N, A) replaces the
        taker fee where finite, and ``maker`` (N, A) marks the ledger rows as maker fills.
        """
        s, m = self.state, self.market
        if n_bars < 1:
            raise ValueError(f"n_bars must be >= 1, got {n_bars}")
        if int(s.bar.max()) + n_bars >= m.n_bars:
            raise ValueError(f"stepping {n_bars} bar(s) from bar {int(s.bar.max())} runs past the data ({m.n_bars} bars)")
        n = self.n_accounts
        report = StepReport(flags=self._no_flags, margin_scale=self._ones_n, liquidated=np.zeros(n, np.int64),
                            stops=np.zeros(n, np.int64), targets=np.zeros(n, np.int64), fills=s.n_fills.copy())
        for b in range(n_bars):
            idx = s.bar + 1
            if self._fee_tier_of_bar is not None:
                tier = np.take(self._fee_tier_of_bar, idx)
                self._taker_now, self._maker_now = self._taker_by_tier[tier], self._maker_by_tier[tier]
            o = np.take(m.open, idx, axis=0)
            if s.size.any():
                self._settle_funding(idx)
                self._mark(o)
                self._liquidate_at_open(idx, o, report)
            if b == 0 and orders is not None:
                self._execute(orders, idx, o, np.take(self._prev_volume, idx, axis=0), report, fill_price, fee_rate,
                              maker)
                self._mark(o)
            if s.size.any():
                h, l = np.take(m.high, idx, axis=0), np.take(m.low, idx, axis=0)
                if self._exits_armed():
                    volume = np.take(self._prev_volume, idx, axis=0)
                    self._trigger_stops(idx, o, h, l, volume, report)
                    self._liquidate_intrabar(idx, o, h, l, report)
                    self._trigger_targets(idx, o, h, l, volume, report)
                else:
                    self._liquidate_intrabar(idx, o, h, l, report)
            self._mark(np.take(m.close, idx, axis=0))
            s.bar += 1
            poor = s.collateral < self.bankrupt_below
            if poor.any():
                s.closed |= poor & ~(s.size != 0).any(axis=1) & (s.equity < self.bankrupt_below)
        report.fills = s.n_fills - report.fills
        return report

    def _exits_armed(self) -> bool:
        """Whether any stop-loss or take-profit is attached (never, for RL target orders)."""
        s = self.state
        return not (np.isnan(s.stop_loss).all() and np.isnan(s.take_profit).all())

    def _mark(self, price: np.ndarray) -> None:
        s = self.state
        s.mark[:] = price
        np.subtract(price, s.entry, out=s.unrealized_pnl)
        s.unrealized_pnl *= s.size

    def _settle_funding(self, idx: np.ndarray) -> None:
        rate = np.take(self.market.funding_rate, idx, axis=0)
        if not rate.any():
            return
        s = self.state
        price = np.take(self._funding_price, idx, axis=0)
        pay = s.size * price * rate
        total = row_sum(pay)
        s.collateral -= total
        s.funding_paid += total
        self.funding_accrued += pay
        if self.isolated:
            s.isolated_margin -= pay
        if self.ledger.records_funding:
            acc, ast = np.nonzero(pay)
            z = np.zeros(len(acc))
            self.ledger.append(FUNDING, acc, ast, idx[acc], z, price[acc, ast], z, z, pay[acc, ast])

    def _execute(self, orders: Orders, idx: np.ndarray, open_price: np.ndarray, prev_volume: np.ndarray,
                 report: StepReport, fill_price: np.ndarray | None = None, fee_rate: np.ndarray | None = None,
                 maker: np.ndarray | None = None) -> None:
        s = self.state
        target, leverage, stop, take, flags, scale, active = self.validate(orders, open_price, prev_volume)
        report.flags = flags
        report.margin_scale = scale
        if active.any():
            cur = s.size
            delta = target - cur
            qty = np.abs(delta)
            fill = open_price * (1.0 + np.sign(delta) * self.slippage.fraction(qty, prev_volume))
            if fill_price is not None:
                fill = np.where(np.isfinite(fill_price), fill_price, fill)
            taker = self._taker_now
            fee = qty * fill * (taker if fee_rate is None else np.where(np.isfinite(fee_rate), fee_rate, taker))
            closing = np.where(cur * delta < 0, np.minimum(qty, np.abs(cur)), 0.0)
            realized = closing * np.sign(cur) * (fill - s.entry)
            grow = active & (cur * delta >= 0)
            flip = active & (cur * target < 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                entry = np.where(grow, (np.abs(cur) * s.entry + qty * fill) / np.abs(target),
                                 np.where(flip, fill, np.where(target == 0, 0.0, s.entry)))
                if self.isolated:
                    shrink = active & ~grow & ~flip
                    margin = np.where(grow | flip, np.abs(target) * entry / np.where(leverage > 0, leverage, 1.0),
                                      np.where(shrink, s.isolated_margin * np.abs(target) / np.abs(cur), s.isolated_margin))
                    s.isolated_margin[:] = np.where(target == 0, 0.0, margin)
            self._book(ORDER, active, idx, delta, fill, fee, realized,
                       False if maker is None else maker, leverage)
            s.opened_bar[:] = np.where(target == 0, -1, np.where(active & (cur * target <= 0), idx[:, None], s.opened_bar))
            s.size[:] = target
            s.entry[:] = entry
        s.leverage[:] = leverage
        s.stop_loss[:] = stop
        s.take_profit[:] = take

    def _book(self, kind: int, mask: np.ndarray, idx: np.ndarray, quantity: np.ndarray, price: np.ndarray,
              fee: np.ndarray, realized: np.ndarray, maker: bool | np.ndarray, leverage: np.ndarray) -> None:
        """Book the fills in ``mask`` (zero ``fee`` and ``realized`` elsewhere): ledger rows with the
        funding each position accrued since its last fill, then the account totals."""
        s = self.state
        if self.ledger.level != "off":
            acc, ast = np.nonzero(mask)
            self.ledger.append(kind, acc, ast, idx[acc], quantity[acc, ast], price[acc, ast], fee[acc, ast],
                               realized[acc, ast], self.funding_accrued[acc, ast],
                               maker if np.ndim(maker) == 0 else maker[acc, ast], leverage[acc, ast])
        self.funding_accrued[mask] = 0.0
        realized_total = row_sum(realized)
        fee_total = row_sum(fee)
        s.collateral += realized_total - fee_total
        s.realized_pnl += realized_total
        s.fees_paid += fee_total
        s.n_fills += np.count_nonzero(mask, axis=1)

    def _close(self, mask: np.ndarray, price: np.ndarray, idx: np.ndarray, kind: int, fee_rate: np.ndarray,
               maker: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Close the positions in ``mask`` at ``price``; returns per-position (realized, fee) arrays."""
        s = self.state
        realized = np.where(mask, s.size * (price - s.entry), 0.0)
        fee = np.where(mask, np.abs(s.size) * price * fee_rate, 0.0)
        self._book(kind, mask, idx, -s.size, price, fee, realized, maker, s.leverage)
        for arr, value in ((s.size, 0.0), (s.entry, 0.0), (s.leverage, 0.0), (s.isolated_margin, 0.0),
                           (s.stop_loss, np.nan), (s.take_profit, np.nan), (s.opened_bar, -1),
                           (s.unrealized_pnl, 0.0)):
            arr[mask] = value
        return realized, fee

    def _forfeit(self, amount: np.ndarray, idx: np.ndarray) -> None:
        """Remove ``amount`` (N,) from collateral as a forfeit (negative: a shortfall absorbed)."""
        s = self.state
        rows = np.nonzero(amount)[0]
        if len(rows) == 0:
            return
        s.collateral -= amount
        s.forfeited += amount
        z = np.zeros(len(rows))
        self.ledger.append(FORFEIT, rows, np.zeros(len(rows), np.int64), idx[rows], z, z, z, -amount[rows], z)

    def _liquidate(self, mask: np.ndarray, price: np.ndarray, idx: np.ndarray, backstop: np.ndarray,
                   report: StepReport) -> None:
        """Close liquidated positions at ``price`` and settle what the trader keeps."""
        s = self.state
        margin_before = s.isolated_margin.copy() if self.isolated else None
        realized, fee = self._close(mask, price, idx, LIQUIDATION, self._taker_now)
        count = mask.sum(axis=1)
        report.liquidated += count
        s.n_liquidations += count
        if self.isolated:
            remaining = np.where(mask, margin_before + realized - fee, 0.0)
            forfeit_pos = mask & (self.forfeit_on_liquidation | backstop | (remaining < 0))
            self._forfeit(row_sum(np.where(forfeit_pos, remaining, 0.0)), idx)
        else:
            rows = mask.any(axis=1)
            remaining = s.collateral
            forfeit = rows & (self.forfeit_on_liquidation | backstop.any(axis=1) | (remaining < 0))
            self._forfeit(np.where(forfeit, remaining, 0.0), idx)
            s.closed |= rows

    def _liquidate_at_open(self, idx: np.ndarray, open_price: np.ndarray, report: StepReport) -> None:
        s = self.state
        held = s.size != 0
        mm = self.maintenance_margin(open_price)
        if self.isolated:
            equity_pos = s.isolated_margin + s.unrealized_pnl
            mask = held & (equity_pos < mm)
            if not mask.any():
                return
            backstop = mask & (equity_pos < self.rules.backstop_fraction * mm)
        else:
            equity = s.equity
            total_mm = row_sum(mm)
            rows = equity < total_mm
            if not rows.any():
                return
            rows &= held.any(axis=1)
            mask = held & rows[:, None]
            backstop = mask & (equity < self.rules.backstop_fraction * total_mm)[:, None]
        if mask.any():
            self._liquidate(mask, open_price, idx, backstop, report)

    def _liquidate_intrabar(self, idx: np.ndarray, open_price: np.ndarray, high: np.ndarray, low: np.ndarray,
                            report: StepReport) -> None:
        s = self.state
        size = s.size
        long = size > 0
        adverse = np.where(long, low, high)
        if self.isolated:
            liq = self.liquidation_price()
            hit = (size != 0) & np.where(long, adverse <= liq, adverse >= liq)
            if hit.any():
                self._liquidate(hit, np.where(hit, liq, open_price), idx, np.zeros_like(hit), report)
            return
        move = adverse - open_price
        frac = self._cross_liquidation_fraction(open_price, move)
        rows = np.isfinite(frac)
        if not rows.any():
            return
        price = open_price + np.where(rows, frac, 0.0)[:, None] * move
        self._liquidate((size != 0) & rows[:, None], price, idx, np.zeros(size.shape, bool), report)

    def _cross_liquidation_fraction(self, open_price: np.ndarray, move: np.ndarray) -> np.ndarray:
        """(N,) fraction of the way from the open to every position's adverse extreme (``move``)
        at which a cross account's equity meets its maintenance margin; ``inf`` where it never does.

        Equity and maintenance are both linear along that path (maintenance at the tier of the
        open notional), so the crossing point is exact.
        """
        s = self.state
        size = s.size
        absize = np.abs(size)
        if self._flat_rate:
            rate = self._tier_rate[:, 0]
            gap0 = s.equity - row_sum(absize * open_price * rate)
        else:
            rate, amount = self._tiers(absize * open_price)
            gap0 = s.equity - row_sum(absize * open_price * rate - np.where(size != 0, amount, 0.0))
        gap1 = gap0 + row_sum((size - absize * rate) * move)
        hit = (gap1 < 0) & (size != 0).any(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(hit, np.clip(gap0 / (gap0 - gap1), 0.0, 1.0), np.inf)

    def _trigger_stops(self, idx: np.ndarray, open_price: np.ndarray, high: np.ndarray, low: np.ndarray,
                       prev_volume: np.ndarray, report: StepReport) -> None:
        s = self.state
        stop = s.stop_loss
        long = s.size > 0
        hit = np.where(long, low <= stop, high >= stop)   # False where no stop (NaN compares False)
        if not hit.any():
            return
        if self.isolated:
            liq = self.liquidation_price()
            hit &= np.where(long, stop > liq, (stop < liq) | (liq == 0))
        else:   # the stop must come before the account's liquidation point on the same path
            move = np.where(long, low, high) - open_price
            liq_frac = self._cross_liquidation_fraction(open_price, move)
            with np.errstate(divide="ignore", invalid="ignore"):
                stop_frac = np.where(move != 0, (stop - open_price) / move, 0.0)
            hit &= stop_frac <= liq_frac[:, None]
        if not hit.any():
            return
        level = np.where(long, np.minimum(stop, open_price), np.maximum(stop, open_price))
        slip = self.slippage.fraction(np.abs(s.size), prev_volume)
        self._close(hit, level * (1.0 - np.sign(s.size) * slip), idx, STOP_LOSS, self._taker_now)
        report.stops += hit.sum(axis=1)

    def _trigger_targets(self, idx: np.ndarray, open_price: np.ndarray, high: np.ndarray, low: np.ndarray,
                         prev_volume: np.ndarray, report: StepReport) -> None:
        s = self.state
        take = s.take_profit
        long = s.size > 0
        hit = np.where(long, high >= take, low <= take)
        if not hit.any():
            return
        level = np.where(long, np.maximum(take, open_price), np.minimum(take, open_price))
        if self.tp_maker:
            self._close(hit, level, idx, TAKE_PROFIT, self._maker_now, maker=True)
        else:
            slip = self.slippage.fraction(np.abs(s.size), prev_volume)
            self._close(hit, level * (1.0 - np.sign(s.size) * slip), idx, TAKE_PROFIT, self._taker_now)
        report.targets += hit.sum(axis=1)
