"""The exchange rules, compiled: one numba kernel steps every account through its bars.

This module is the rule book. Each rule is one small scalar function below; :func:`step_accounts`
applies them account by account, bar by bar, in the order documented here. The same functions
run as plain Python when numba's JIT is disabled (``NUMBA_DISABLE_JIT=1``), which is how the
test suite checks the compiled code against the reference semantics: there is one
implementation, not a compiled one and a NumPy one.

Conventions: prices and money in the quote currency, sizes in signed coins (negative = short),
fee, funding and maintenance rates as plain fractions, leverage an integer multiple.

Timeline of one step. The policy has seen bar ``t`` closed; for each bar ``b = t+1 .. t+k`` of
each account:

1. **Funding** stamped at ``b`` is settled at its open on the positions held going into it:
   ``payment = size x price x rate`` (price: the mark when the data has one and the preset says
   so, else the open); positive payments are paid, so longs pay shorts when the rate is positive.
2. **Gap check at the open**: positions are marked at the open; an account (cross) or position
   (isolated) already below maintenance is liquidated at the open price.
3. **Orders** (first bar only) are validated (rules below, one rule set for every action mode)
   and filled at the open plus slippage, taker fee on fill notional.
4. **Stop-losses** hit by the bar's adverse extreme (long: low, short: high) close at the stop
   (or at the open when the bar gapped through it), taker fee plus slippage, provided the stop
   comes before the liquidation on the way (else the liquidation comes first): for an isolated
   position, before its liquidation price; for a cross account, before the point of step 5.
5. **Liquidation**, checked on the adverse extremes: along the path from the open to every
   position's adverse extreme, the first point where equity meets maintenance margin is found
   (linear in the path fraction, maintenance at the tier of the open notional) and every
   position of the account closes there (cross); an isolated position closes at its liquidation
   price. Taker fee applies. The trader keeps what is left (Hyperliquid) unless the preset closes
   at the bankruptcy price (Binance) or, at a gap, equity was already below
   ``backstop_fraction`` x maintenance: then the rest is forfeited. Losses never exceed
   collateral (a shortfall is absorbed and booked as a negative forfeit).
6. **Take-profits** hit by the favourable extreme close at the target (or the open when gapped
   through), as a maker fill at the limit or a taker fill with slippage, per preset. Stop before
   target: a bar that hits both closes at the stop.
7. **Mark** at the close: ``unrealized = size x (close - entry)``; an account with no position
   and equity below the smallest possible initial margin is bankrupt (closed).

Rules, one function each:

* maintenance margin (:func:`~arena_gym.venue.formulas.maintenance_tier`,
  :func:`maintenance_margin`): a position of
  notional ``n`` needs ``n x rate - amount`` for the last tier whose floor is ``<= n``; a single
  tier ``(0, mmr, 0)`` is a flat rate (Hyperliquid, ``mmr = 1 / (2 x max_leverage)``);
* slippage (:func:`slippage`): ``min(half_spread + impact x sqrt(q / max(V, min_volume)),
  max_slippage)`` of the reference price for ``q`` coins against the previous bar's volume ``V``;
  buys pay it, sells receive less;
* fees: fill notional times the taker (or maker) rate of the fee tier in force at the fill
  bar's open time (dated fee schedules resolve to one tier per bar, once per market);
* liquidation price (:func:`liquidation_price`): isolated ``(entry - (margin + amount) / size)
  / (1 - rate)`` for a long and ``(entry + (margin + amount) / |size|) / (1 + rate)`` for a
  short; cross: the price of that asset at which account equity meets total maintenance margin,
  the other assets held at their marks; 0 when flat or unreachable. ``positions()`` reads it from
  this same function;
* cross liquidation point (:func:`cross_liquidation_fraction`) on the intrabar path;
* stop and target triggers (:func:`stop_hit`, :func:`target_hit`);
* order validation (:func:`validate_account`), in this order, each outcome an ``OrderFlag``:
  ``+-inf`` sizes or leverage drop the order (``NON_FINITE``); a closed account executes
  nothing; leverage: NaN keeps the position's leverage (the default for a new one), otherwise
  floored to an integer and clamped to ``[1, max_leverage]``
  (:func:`~arena_gym.venue.formulas.clamp_leverage`, the one clamp every action mode and the
  decision parser use); sizes round toward zero to the asset's step; an order whose
  rounded size or notional is not a finite number, or whose fill price is not a positive
  finite number, is dropped (``NON_FINITE``): no non-finite number ever reaches an account; a
  change smaller than the minimum notional is dropped, except a full close; margin: the
  exposure-increasing parts of an account's orders (new positions, increases, the new side of a
  flip) are scaled by one common factor (:func:`margin_scale`) so that initial margin plus fees
  fit in equity at the open (isolated: in collateral plus open losses, less the margin of the
  positions kept); an increase that falls below the minimum notional after scaling is refused
  (a flip then just closes); stop-loss / take-profit on the wrong side of the open are dropped.

Memory layout (all C-contiguous, written in place; the blocks and their named rows are listed in
:mod:`arena_gym.exchange.layout`, the state's fields are views into them, see
:mod:`arena_gym.exchange.state`): ``pos[field, account, asset]`` float64 per-position fields
(``P_*``), ``opened[account, asset]`` int64 (a row of ``pos_i``), ``acc[field, account]``
float64 per-account money (``A_*``), ``iacc[field, account]`` int64 counters (``I_*``) and step
report (``R_*``), ``closed[account]`` bool. Market ``bars[field, bar, asset]`` (``B_*``).
Parameters: a float and an integer block (``par_f``, ``par_i``). Orders ``orders[field, account,
asset]`` (``O_*``, the fields of :class:`~arena_gym.exchange.orders.Orders`, then the replay
hooks ``H_*``).
The ledger is two column blocks ``led_f[field, row]`` / ``led_i[field, row]`` (``LF_*``,
``LI_*``) with room reserved by the caller for every row a step can write.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..venue import formulas

from .layout import (  # noqa: F401  (the layout is part of the rule book)
    P_SIZE, P_ENTRY, P_LEVERAGE, P_MARGIN, P_STOP, P_TAKE, P_MARK, P_UPNL, P_FUNDING, N_POS_FIELDS, A_CAPITAL,
    A_COLLATERAL, A_REALIZED, A_FEES, A_FUNDING, A_FORFEITED, N_ACC_FIELDS, I_FILLS, I_LIQUIDATIONS, I_BAR,
    N_IACC_FIELDS, B_OPEN, B_HIGH, B_LOW, B_CLOSE, B_PREV_VOLUME, B_FUNDING_RATE, B_FUNDING_PRICE, N_BAR_FIELDS,
    AP_MAX_LEVERAGE, AP_SIZE_STEP, AP_MIN_NOTIONAL, AP_DEFAULT_LEVERAGE, N_ASSET_PARAMS, S_BACKSTOP,
    S_BANKRUPT_BELOW, S_HALF_SPREAD, S_IMPACT, S_MAX_SLIPPAGE, S_MIN_VOLUME, N_SCALARS, Q_ISOLATED, Q_TP_MAKER,
    Q_FORFEIT_ON_LIQUIDATION, Q_LEDGER_LEVEL, N_INT_SCALARS, T_FLOOR, T_RATE, T_AMOUNT, R_LIQUIDATED, R_STOPS,
    R_TARGETS, R_FILLS, A_MARGIN_SCALE, I_EPISODE, PI_OPENED, PI_FLAGS, PI_MAKER, N_POS_INT_FIELDS,
    N_REPORT_FIELDS, LF_QUANTITY, LF_PRICE, LF_FEE, LF_REALIZED, LF_FUNDING, LF_LEVERAGE, LI_KIND, LI_ACCOUNT,
    LI_EPISODE, LI_ASSET, LI_BAR, LI_MAKER, N_LEDGER_FIELDS, K_ORDER, K_STOP_LOSS, K_TAKE_PROFIT, K_LIQUIDATION,
    K_FUNDING, K_FORFEIT, LEDGER_OFF, LEDGER_FILLS, LEDGER_FULL, F_LEVERAGE_CLAMPED, F_BELOW_MIN_NOTIONAL,
    F_SCALED_BY_MARGIN, F_REFUSED_BY_MARGIN, F_STOP_INVALID, F_TARGET_INVALID, F_NON_FINITE,
    F_SIZE_ROUNDED_TO_ZERO, F_ACCOUNT_CLOSED, W_TARGET, W_LEV, W_LEV_OUT, W_STOP, W_TAKE, W_KEPT, W_ADD, W_MASK,
    W_PRICE, W_BACKSTOP, W_TAKER, W_MAKER, W_REALIZED, W_FEE, W_MARGIN_HELD, W_FEE_BOUND, W_MARGIN_PER_COIN,
    W_MARGIN_FLAGS, N_WORK_ROWS, O_SIZE, O_LEVERAGE, O_STOP_LOSS,
    O_TAKE_PROFIT, N_ORDER_FIELDS, H_FILL_PRICE, H_FEE_RATE, N_ORDER_ROWS,
)
from . import layout

# The kernel allocates nothing: every array it touches is owned by the caller. It is compiled
# without numba's reference counting (``_nrt=False``), whose atomic increments and decrements
# on every array passed between these functions cost more than the rules themselves (numba
# cannot prune them across branches: numba issue 2350).
#
# Compile time. Every function is compiled once, as a function of its own: numba's IR inlining
# (``inline="always"``) re-types the inlined body at every call site and took most of the first
# compile. Functions called only from compiled code (``_RULE``) get no Python or C-callable
# wrapper. Constants passed to them go through ``np.int64`` / ``np.bool_``: a bare literal would
# make numba compile the callee once per distinct constant.
#
# Forced inlining (``_HOT``: LLVM's ``alwaysinline``, no re-typing) is kept only on the steps
# every account runs every bar, and on the environment's per-account writers (``env.compiled``):
# passing a dozen arrays per call otherwise costs about half of a vector step. Measured together
# (one run, loaded two-core machine, best of 5 x 1000 steps): ``PerpVectorEnv(256)`` 1.9x the
# account-steps/s without it (366,000 against 183,000), for 25 % more compile CPU time
# (24.5 s against 19.6 s for the first single-env step, empty cache). Measured again after the
# entry points took bundles (``scripts/_bench_runners/run_perp_vector_env.py``'s parts, best of
# 9 x 200 steps, with and without alternated three times on a shared two-core machine): the
# compiled vector step 224-344 us with it against 299-386 us without, the exchange's bars
# without orders 20-32 against 33-37 us, and no measurable compile cost (15.0 s with it, 16.4 s
# without, one first single-env step each).
#
# The per-account step (:func:`step_account`, and the environment's per-account finish) is
# inlined by numba itself (``_ONCE``): it has one call site in each entry point that uses it, and
# as a function of its own its whole inlined body was optimized once more by LLVM at each level
# (first single-env step: 14.8 s against 20.3 s of CPU time, same machine, back to back; vector
# env speed unchanged). numba's inliner cannot take a call of more than 30 arguments (CPython
# passes them as ``*args``), which is why larger steps are not inlined this way.
JIT_ENTRY = dict(cache=True, error_model="numpy", nogil=True, _nrt=False, no_cfunc_wrapper=True)
JIT_RULE = dict(JIT_ENTRY, no_cpython_wrapper=True)
JIT_HOT = dict(JIT_RULE, forceinline=True)
JIT_ONCE = dict(JIT_RULE, inline="always")
_JIT, _RULE, _HOT, _ONCE = JIT_ENTRY, JIT_RULE, JIT_HOT, JIT_ONCE


# ---------------------------------------------------------------------------- scalar rules
maintenance_tier = njit(**_RULE)(formulas.maintenance_tier)
clamp_leverage = njit(**_RULE)(formulas.clamp_leverage)
param_views = njit(**_RULE)(layout.param_views)


@njit(**_RULE)
def maintenance_margin(tiers, a, size, price):
    """Maintenance margin of ``size`` coins of asset ``a`` at ``price`` (0 when flat)."""
    if size == 0.0:
        return 0.0
    notional = abs(size) * price
    rate, amount = maintenance_tier(tiers, a, notional)
    return notional * rate - amount


@njit(**_RULE)
def slippage(scal, quantity, bar_volume):
    """Slippage fraction for a taker fill of ``quantity`` coins against ``bar_volume`` coins."""
    if scal[S_IMPACT] == 0.0:
        return min(scal[S_HALF_SPREAD], scal[S_MAX_SLIPPAGE])
    participation = quantity / max(bar_volume, scal[S_MIN_VOLUME])
    return min(scal[S_HALF_SPREAD] + scal[S_IMPACT] * np.sqrt(participation), scal[S_MAX_SLIPPAGE])


@njit(**_RULE)
def round_to_step(size, step):
    """Round toward zero to the size step; within 1e-6 step of a multiple counts as it."""
    steps = size / step
    return np.trunc(steps + np.copysign(1e-6, steps)) * step


@njit(**_RULE)
def stop_hit(size, stop, high, low):
    """Whether the bar's adverse extreme reaches the stop (False when there is none)."""
    return low <= stop if size > 0.0 else high >= stop


@njit(**_RULE)
def target_hit(size, take, high, low):
    """Whether the bar's favourable extreme reaches the take-profit (False when there is none)."""
    return high >= take if size > 0.0 else low <= take


@njit(**_HOT)
def unrealized_of(pos, i):
    """Account ``i``'s unrealized PnL at the last mark, summed over its positions."""
    total = 0.0
    for a in range(pos.shape[2]):
        total += pos[P_UPNL, i, a]
    return total


@njit(**_HOT)
def equity_of(pos, acc, i):
    """Collateral plus unrealized PnL at the last mark."""
    return acc[A_COLLATERAL, i] + unrealized_of(pos, i)


@njit(**_HOT)
def margin_in_use(pos, isolated, i, a):
    """Initial margin held by account ``i``'s position in asset ``a``: its isolated margin, or
    (cross) its notional at the last mark over its leverage (0 when flat)."""
    if isolated:
        return pos[P_MARGIN, i, a]
    lev = pos[P_LEVERAGE, i, a]
    return abs(pos[P_SIZE, i, a]) * pos[P_MARK, i, a] / lev if lev > 0.0 else 0.0


@njit(**_RULE)
def liquidation_price(pos, acc, tiers, isolated, i, a):
    """Price of asset ``a`` at which account ``i``'s position there is liquidated (0: flat or never)."""
    size = pos[P_SIZE, i, a]
    if size == 0.0:
        return 0.0
    rate, amount = maintenance_tier(tiers, a, abs(size) * pos[P_MARK, i, a])
    denom = size - abs(size) * rate
    if isolated:
        num = size * pos[P_ENTRY, i, a] - pos[P_MARGIN, i, a] - amount
    else:
        total_mm = 0.0
        for b in range(pos.shape[2]):
            total_mm += maintenance_margin(tiers, b, pos[P_SIZE, i, b], pos[P_MARK, i, b])
        others = total_mm - maintenance_margin(tiers, a, size, pos[P_MARK, i, a])
        num = others - amount - equity_of(pos, acc, i) + size * pos[P_MARK, i, a]
    if denom == 0.0:
        return 0.0
    price = num / denom
    if not np.isfinite(price):
        return 0.0
    return max(price, 0.0)


@njit(**_RULE)
def cross_liquidation_fraction(pos, acc, tiers, bars, i, t):
    """Fraction of the way from the open of bar ``t`` to every position's adverse extreme at which
    the cross account's equity meets its maintenance margin; ``inf`` where it never does (NaN
    when undefined, which also means never).

    Equity and maintenance are both linear along that path (maintenance at the tier of the
    open notional), so the crossing point is exact.
    """
    gap0 = equity_of(pos, acc, i)
    mm0 = 0.0
    slope = 0.0
    held = False
    for a in range(pos.shape[2]):
        size = pos[P_SIZE, i, a]
        if size == 0.0:
            continue
        held = True
        o = bars[B_OPEN, t, a]
        absize = abs(size)
        rate, amount = maintenance_tier(tiers, a, absize * o)
        mm0 += absize * o * rate - amount
        adverse = bars[B_LOW, t, a] if size > 0.0 else bars[B_HIGH, t, a]
        slope += (size - absize * rate) * (adverse - o)
    gap0 = gap0 - mm0
    gap1 = gap0 + slope
    if not (held and gap1 < 0.0):
        return np.inf
    d = gap0 - gap1
    if d == 0.0:
        return 0.0 if gap0 < 0.0 else np.nan
    q = gap0 / d
    if q != q:
        return np.nan
    return min(max(q, 0.0), 1.0)


# ---------------------------------------------------------------------------- ledger and booking
@njit(**_RULE)
def write_row(led_f, led_i, n, level, kind, i, episode, a, bar, quantity, price, fee, realized, funding, maker,
              leverage):
    """Append one ledger row at ``n`` (when the level keeps it); returns the new row count."""
    if level == LEDGER_OFF or (kind == K_FUNDING and level != LEDGER_FULL):
        return n
    led_i[LI_KIND, n] = kind
    led_i[LI_ACCOUNT, n] = i
    led_i[LI_EPISODE, n] = episode
    led_i[LI_ASSET, n] = a
    led_i[LI_BAR, n] = bar
    led_i[LI_MAKER, n] = 1 if maker else 0
    led_f[LF_QUANTITY, n] = quantity
    led_f[LF_PRICE, n] = price
    led_f[LF_FEE, n] = fee
    led_f[LF_REALIZED, n] = realized
    led_f[LF_FUNDING, n] = funding
    led_f[LF_LEVERAGE, n] = leverage
    return n + 1


@njit(**_RULE)
def clear_position(pos, opened, i, a):
    pos[P_SIZE, i, a] = 0.0
    pos[P_ENTRY, i, a] = 0.0
    pos[P_LEVERAGE, i, a] = 0.0
    pos[P_MARGIN, i, a] = 0.0
    pos[P_STOP, i, a] = np.nan
    pos[P_TAKE, i, a] = np.nan
    pos[P_UPNL, i, a] = 0.0
    opened[i, a] = -1


@njit(**_RULE)
def close_positions(pos, opened, acc, iacc, work, fee_row, i, t, kind, maker, episode, sw, led_f, led_i, n):
    """Close the positions flagged in ``work[W_MASK]`` at ``work[W_PRICE]``: book the fills (with the
    funding each accrued since its last fill), then settle the account. Leaves per position the
    realized PnL in ``work[W_REALIZED]`` and the fee in ``work[W_FEE]``; returns (rows, count).
    ``sw``: the integer parameters (``par_i``: switches and ledger level)."""
    level = sw[Q_LEDGER_LEVEL]
    realized_total = 0.0
    fee_total = 0.0
    count = 0
    for a in range(pos.shape[2]):
        if work[W_MASK, a] == 0.0:
            continue
        size = pos[P_SIZE, i, a]
        price = work[W_PRICE, a]
        realized = size * (price - pos[P_ENTRY, i, a])
        fee = abs(size) * price * work[fee_row, a]
        n = write_row(led_f, led_i, n, level, kind, i, episode, a, t, -size, price, fee, realized,
                      pos[P_FUNDING, i, a], maker, pos[P_LEVERAGE, i, a])
        pos[P_FUNDING, i, a] = 0.0
        work[W_REALIZED, a] = realized
        work[W_FEE, a] = fee
        realized_total += realized
        fee_total += fee
        count += 1
    acc[A_COLLATERAL, i] += realized_total - fee_total
    acc[A_REALIZED, i] += realized_total
    acc[A_FEES, i] += fee_total
    iacc[I_FILLS, i] += count
    for a in range(pos.shape[2]):
        if work[W_MASK, a] != 0.0:
            clear_position(pos, opened, i, a)
    return n, count


@njit(**_RULE)
def forfeit(acc, i, t, amount, episode, sw, led_f, led_i, n):
    """Remove ``amount`` from collateral as a forfeit (negative: a shortfall absorbed)."""
    if amount == 0.0:
        return n
    acc[A_COLLATERAL, i] -= amount
    acc[A_FORFEITED, i] += amount
    return write_row(led_f, led_i, n, sw[Q_LEDGER_LEVEL], np.int64(K_FORFEIT), i, episode, np.int64(0), t, 0.0, 0.0, 0.0,
                     -amount, 0.0, np.bool_(False), 0.0)


@njit(**_RULE)
def liquidate(pos, opened, acc, iacc, closed, work, sw, i, t, episode, led_f, led_i, n):
    """Liquidate the positions in ``work[W_MASK]`` at ``work[W_PRICE]`` and settle what the trader
    keeps (``work[W_BACKSTOP]`` marks positions past the backstop). Returns (rows, count)."""
    isolated = sw[Q_ISOLATED] != 0
    A = pos.shape[2]
    for a in range(A):   # the margin each isolated position brings to its settlement
        work[W_MARGIN_HELD, a] = pos[P_MARGIN, i, a]
    n, count = close_positions(pos, opened, acc, iacc, work, np.int64(W_TAKER), i, t, np.int64(K_LIQUIDATION),
                               np.bool_(False), episode, sw, led_f, led_i, n)
    iacc[I_LIQUIDATIONS, i] += count
    forfeit_all = sw[Q_FORFEIT_ON_LIQUIDATION] != 0
    if isolated:
        amount = 0.0
        for a in range(A):
            if work[W_MASK, a] != 0.0:
                remaining = work[W_MARGIN_HELD, a] + work[W_REALIZED, a] - work[W_FEE, a]
                if forfeit_all or work[W_BACKSTOP, a] != 0.0 or remaining < 0.0:
                    amount += remaining
        n = forfeit(acc, i, t, amount, episode, sw, led_f, led_i, n)
    elif count > 0:
        backstop = False
        for a in range(A):
            if work[W_BACKSTOP, a] != 0.0:
                backstop = True
        remaining = acc[A_COLLATERAL, i]
        if forfeit_all or backstop or remaining < 0.0:
            n = forfeit(acc, i, t, remaining, episode, sw, led_f, led_i, n)
        closed[i] = True
    return n, count


@njit(**_HOT)
def mark(pos, bars, field, i, t):
    """Mark account ``i``'s positions at bar ``t``'s ``field`` price."""
    for a in range(pos.shape[2]):
        p = bars[field, t, a]
        pos[P_MARK, i, a] = p
        pos[P_UPNL, i, a] = (p - pos[P_ENTRY, i, a]) * pos[P_SIZE, i, a]


@njit(**_HOT)
def holds_any(pos, i):
    for a in range(pos.shape[2]):
        if pos[P_SIZE, i, a] != 0.0:
            return True
    return False


# ---------------------------------------------------------------------------- the steps of a bar
@njit(**_HOT)
def settle_funding(pos, acc, bars, sw, i, t, episode, led_f, led_i, n):
    """Step 1: funding stamped at bar ``t`` on the positions held into its open."""
    level = sw[Q_LEDGER_LEVEL]
    isolated = sw[Q_ISOLATED] != 0
    total = 0.0
    for a in range(pos.shape[2]):
        rate = bars[B_FUNDING_RATE, t, a]
        if rate == 0.0:
            continue
        price = bars[B_FUNDING_PRICE, t, a]
        pay = pos[P_SIZE, i, a] * price * rate
        if pay == 0.0:
            continue
        total += pay
        pos[P_FUNDING, i, a] += pay
        if isolated:
            pos[P_MARGIN, i, a] -= pay
        n = write_row(led_f, led_i, n, level, np.int64(K_FUNDING), i, episode, a, t, 0.0, price, 0.0, 0.0, pay, np.bool_(False), 0.0)
    acc[A_COLLATERAL, i] -= total
    acc[A_FUNDING, i] += total
    return n


@njit(**_HOT)
def liquidate_at_open(pos, opened, acc, iacc, closed, work, tiers, bars, scal, sw, i, t, episode, led_f, led_i,
                      n):
    """Step 2: positions (isolated) or accounts (cross) already below maintenance at the open."""
    A = pos.shape[2]
    isolated = sw[Q_ISOLATED] != 0
    backstop_fraction = scal[S_BACKSTOP]
    any_hit = False
    if isolated:
        for a in range(A):
            work[W_MASK, a] = 0.0
            work[W_BACKSTOP, a] = 0.0
            work[W_PRICE, a] = bars[B_OPEN, t, a]
            size = pos[P_SIZE, i, a]
            if size == 0.0:
                continue
            mm = maintenance_margin(tiers, a, size, bars[B_OPEN, t, a])
            equity_pos = pos[P_MARGIN, i, a] + pos[P_UPNL, i, a]
            if equity_pos < mm:
                work[W_MASK, a] = 1.0
                any_hit = True
                if equity_pos < backstop_fraction * mm:
                    work[W_BACKSTOP, a] = 1.0
    else:
        total_mm = 0.0
        for a in range(A):
            total_mm += maintenance_margin(tiers, a, pos[P_SIZE, i, a], bars[B_OPEN, t, a])
        equity = equity_of(pos, acc, i)
        if not equity < total_mm:
            return n, 0
        backstop = 1.0 if equity < backstop_fraction * total_mm else 0.0
        for a in range(A):
            held = pos[P_SIZE, i, a] != 0.0
            work[W_MASK, a] = 1.0 if held else 0.0
            work[W_BACKSTOP, a] = backstop if held else 0.0
            work[W_PRICE, a] = bars[B_OPEN, t, a]
            any_hit = any_hit or held
    if not any_hit:
        return n, 0
    return liquidate(pos, opened, acc, iacc, closed, work, sw, i, t, episode, led_f, led_i, n)


@njit(**_RULE)
def exit_level(level, target, price, current, fresh, below):
    """New stop (``below``: under the price for longs) or take-profit level of one position, and
    whether the given level was invalid. NaN keeps ``current`` (nothing after a fresh open, flip
    or close), 0 removes it, a level on the wrong side of ``price`` (or negative, or infinite) is
    dropped."""
    keep = np.nan if fresh else current
    if target == 0.0:
        return np.nan, False
    if level != level:
        return keep, False
    if level == 0.0:
        return np.nan, False
    if target > 0.0:
        bad = level >= price if below else level <= price
    else:
        bad = level <= price if below else level >= price
    bad = bad or level < 0.0 or np.isinf(level)
    if bad:
        return keep, True
    return level, False


@njit(**_RULE)
def margin_scale(pos, acc, work, scal, asset_par, bars, i, t, isolated):
    """The one factor that scales account ``i``'s exposure increases (``work[W_TARGET]``) so that
    initial margin plus fees fit in its equity at the open. Rewrites ``work[W_TARGET]`` and the
    flags of scaled or refused orders (in ``work[W_MARGIN_FLAGS]``, as bits); returns the factor
    (1: none).
    """
    A = pos.shape[2]
    equity_open = acc[A_COLLATERAL, i]
    bound = 0.0
    for a in range(A):
        o = bars[B_OPEN, t, a]
        cur = pos[P_SIZE, i, a]
        target = work[W_TARGET, a]
        upnl = cur * (o - pos[P_ENTRY, i, a])
        equity_open += min(upnl, 0.0) if isolated else upnl
        lev_after = work[W_LEV, a] if target != cur else (pos[P_LEVERAGE, i, a] if pos[P_LEVERAGE, i, a] > 0.0
                                                          else work[W_LEV, a])
        work[W_MARGIN_PER_COIN, a] = o / lev_after
        bound += abs(target) * work[W_MARGIN_PER_COIN, a] + abs(target - cur) * (o * work[W_FEE_BOUND, a])
        work[W_MARGIN_FLAGS, a] = 0.0
    if not (isolated or bound > equity_open):
        return 1.0
    need = 0.0
    base = 0.0
    for a in range(A):
        o = bars[B_OPEN, t, a]
        cur = pos[P_SIZE, i, a]
        target = work[W_TARGET, a]
        kept = (target if abs(target) <= abs(cur) else cur) if cur * target > 0.0 else 0.0
        add = target - kept
        work[W_KEPT, a] = kept
        work[W_ADD, a] = add
        unit = work[W_MARGIN_PER_COIN, a]
        fee_unit = o * (work[W_TAKER, a] + slippage(scal, abs(add), bars[B_PREV_VOLUME, t, a]))
        if isolated:   # kept positions hold their own margin, in proportion to what is kept
            kept_margin = pos[P_MARGIN, i, a] * abs(kept) / abs(cur) if cur != 0.0 else 0.0
        else:
            kept_margin = abs(kept) * unit
        base += kept_margin + abs(kept - cur) * (o * work[W_TAKER, a])
        need += abs(add) * (unit + fee_unit)
    equity = equity_open - base
    if not (equity < need and need > 0.0):
        return 1.0
    phi = max(equity, 0.0) / need
    for a in range(A):
        add = work[W_ADD, a]
        if add == 0.0:
            continue
        scaled = round_to_step(add * phi, asset_par[AP_SIZE_STEP, a])
        if not np.isfinite(scaled) or abs(scaled) * bars[B_OPEN, t, a] < asset_par[AP_MIN_NOTIONAL, a]:
            work[W_MARGIN_FLAGS, a] = F_REFUSED_BY_MARGIN
            scaled = 0.0
        else:
            work[W_MARGIN_FLAGS, a] = F_SCALED_BY_MARGIN
        work[W_TARGET, a] = work[W_KEPT, a] + scaled
    return phi


@njit(**_RULE)
def validate_account(pos, acc, closed, work, flags, scal, sw, asset_par, bars, orders, i, t):
    """Step 3a: the validation rules (module docstring) for account ``i``'s orders at bar ``t``'s
    open. Leaves the final targets, leverages and exit levels in ``work``; returns the margin
    scale."""
    A = pos.shape[2]
    isolated = sw[Q_ISOLATED] != 0
    for a in range(A):
        cur = pos[P_SIZE, i, a]
        req = orders[O_SIZE, i, a]
        lev_in = orders[O_LEVERAGE, i, a]
        o = bars[B_OPEN, t, a]
        f = 0
        given = req == req
        if given and (np.isinf(req) or np.isinf(lev_in)):
            f |= F_NON_FINITE
            given = False
        if given and closed[i]:
            f |= F_ACCOUNT_CLOSED
            given = False
        lev_given = np.isfinite(lev_in)
        if lev_given:
            lev = lev_in
        elif pos[P_LEVERAGE, i, a] > 0.0:
            lev = pos[P_LEVERAGE, i, a]
        else:
            lev = asset_par[AP_DEFAULT_LEVERAGE, a]
        lev = clamp_leverage(lev, asset_par[AP_MAX_LEVERAGE, a])
        if given and lev_given and lev != lev_in:
            f |= F_LEVERAGE_CLAMPED
        target = cur
        if given:
            rounded = round_to_step(req, asset_par[AP_SIZE_STEP, a])
            if not (np.isfinite(rounded) and np.isfinite(abs(rounded) * o) and o > 0.0 and np.isfinite(o)):
                f |= F_NON_FINITE
            else:
                target = rounded
                if req != cur and target == cur:
                    f |= F_SIZE_ROUNDED_TO_ZERO
                if target != cur and target != 0.0 and abs(target - cur) * o < asset_par[AP_MIN_NOTIONAL, a]:
                    f |= F_BELOW_MIN_NOTIONAL
                    target = cur
        work[W_TARGET, a] = target
        work[W_LEV, a] = lev
        work[W_FEE_BOUND, a] = max(work[W_TAKER, a], work[W_MAKER, a]) + scal[S_MAX_SLIPPAGE]
        flags[i, a] = f
    phi = margin_scale(pos, acc, work, scal, asset_par, bars, i, t, isolated)
    for a in range(A):
        flags[i, a] |= int(work[W_MARGIN_FLAGS, a])
        cur = pos[P_SIZE, i, a]
        target = work[W_TARGET, a]
        active = target != cur
        work[W_LEV_OUT, a] = 0.0 if target == 0.0 else (work[W_LEV, a] if active else pos[P_LEVERAGE, i, a])
        fresh = active and cur * target <= 0.0     # opened, flipped or closed: nothing carried over
        o = bars[B_OPEN, t, a]
        stop, bad = exit_level(orders[O_STOP_LOSS, i, a], target, o, pos[P_STOP, i, a], fresh, np.bool_(True))
        if bad:
            flags[i, a] |= F_STOP_INVALID
        take, bad = exit_level(orders[O_TAKE_PROFIT, i, a], target, o, pos[P_TAKE, i, a], fresh, np.bool_(False))
        if bad:
            flags[i, a] |= F_TARGET_INVALID
        work[W_STOP, a] = stop
        work[W_TAKE, a] = take
    return phi


@njit(**_HOT)
def execute_orders(pos, opened, acc, iacc, closed, work, flags, scal, sw, asset_par, bars, orders, has_hooks,
                   h_maker, i, t, episode, led_f, led_i, n):
    """Step 3: validate account ``i``'s orders and fill the changes at the open plus slippage
    (with ``has_hooks``, at the replay hooks of ``orders``). Returns (ledger rows, margin scale)."""
    A = pos.shape[2]
    level = sw[Q_LEDGER_LEVEL]
    isolated = sw[Q_ISOLATED] != 0
    phi = validate_account(pos, acc, closed, work, flags, scal, sw, asset_par, bars, orders, i, t)
    realized_total = 0.0
    fee_total = 0.0
    count = 0
    for a in range(A):
        cur = pos[P_SIZE, i, a]
        target = work[W_TARGET, a]
        lev_out = work[W_LEV_OUT, a]
        if target != cur:
            o = bars[B_OPEN, t, a]
            entry = pos[P_ENTRY, i, a]
            delta = target - cur
            qty = abs(delta)
            fill = o * (1.0 + np.sign(delta) * slippage(scal, qty, bars[B_PREV_VOLUME, t, a]))
            rate = work[W_TAKER, a]
            is_maker = False
            if has_hooks:   # replayed fills: only prices and fees that keep the account finite
                price = orders[H_FILL_PRICE, i, a]
                if price > 0.0 and np.isfinite(price) and np.isfinite(qty * price):
                    fill = price
                fee_rate = orders[H_FEE_RATE, i, a]
                if np.isfinite(fee_rate) and np.isfinite(qty * fill * fee_rate):
                    rate = fee_rate
                is_maker = h_maker[i, a] != 0
            fee = qty * fill * rate
            closing = min(qty, abs(cur)) if cur * delta < 0.0 else 0.0
            realized = closing * np.sign(cur) * (fill - entry)
            grow = cur * delta >= 0.0
            flip = cur * target < 0.0
            if grow:
                new_entry = (abs(cur) * entry + qty * fill) / abs(target)
            elif flip:
                new_entry = fill
            else:
                new_entry = 0.0 if target == 0.0 else entry
            if isolated:
                if target == 0.0:
                    pos[P_MARGIN, i, a] = 0.0
                elif grow or flip:
                    pos[P_MARGIN, i, a] = abs(target) * new_entry / (lev_out if lev_out > 0.0 else 1.0)
                else:
                    pos[P_MARGIN, i, a] = pos[P_MARGIN, i, a] * abs(target) / abs(cur)
            n = write_row(led_f, led_i, n, level, np.int64(K_ORDER), i, episode, a, t, delta, fill, fee, realized,
                          pos[P_FUNDING, i, a], is_maker, lev_out)
            pos[P_FUNDING, i, a] = 0.0
            realized_total += realized
            fee_total += fee
            count += 1
            if target == 0.0:
                opened[i, a] = -1
            elif cur * target <= 0.0:
                opened[i, a] = t
            pos[P_SIZE, i, a] = target
            pos[P_ENTRY, i, a] = new_entry
        pos[P_LEVERAGE, i, a] = lev_out
        pos[P_STOP, i, a] = work[W_STOP, a]
        pos[P_TAKE, i, a] = work[W_TAKE, a]
    if count > 0:
        acc[A_COLLATERAL, i] += realized_total - fee_total
        acc[A_REALIZED, i] += realized_total
        acc[A_FEES, i] += fee_total
        iacc[I_FILLS, i] += count
    return n, phi


@njit(**_RULE)
def trigger_stops(pos, opened, acc, iacc, work, tiers, bars, scal, sw, i, t, episode, led_f, led_i, n):
    """Step 4: stop-losses reached by the bar's adverse extreme before the liquidation point."""
    A = pos.shape[2]
    isolated = sw[Q_ISOLATED] != 0
    any_hit = False
    for a in range(A):
        size = pos[P_SIZE, i, a]
        hit = size != 0.0 and stop_hit(size, pos[P_STOP, i, a], bars[B_HIGH, t, a], bars[B_LOW, t, a])
        work[W_MASK, a] = 1.0 if hit else 0.0
        any_hit = any_hit or hit
    if not any_hit:
        return n, 0
    liq_frac = 0.0 if isolated else cross_liquidation_fraction(pos, acc, tiers, bars, i, t)
    any_hit = False
    for a in range(A):
        if work[W_MASK, a] == 0.0:
            continue
        size = pos[P_SIZE, i, a]
        stop = pos[P_STOP, i, a]
        o = bars[B_OPEN, t, a]
        if isolated:
            liq = liquidation_price(pos, acc, tiers, np.bool_(True), i, a)
            hit = stop > liq if size > 0.0 else (stop < liq or liq == 0.0)
        else:
            move = (bars[B_LOW, t, a] if size > 0.0 else bars[B_HIGH, t, a]) - o
            stop_frac = (stop - o) / move if move != 0.0 else 0.0
            hit = stop_frac <= liq_frac
        work[W_MASK, a] = 1.0 if hit else 0.0     # reached before the liquidation: it fills
        any_hit = any_hit or hit
    if not any_hit:
        return n, 0
    for a in range(A):
        if work[W_MASK, a] != 0.0:
            size = pos[P_SIZE, i, a]
            o = bars[B_OPEN, t, a]
            stop = pos[P_STOP, i, a]
            lvl = min(stop, o) if size > 0.0 else max(stop, o)
            slip = slippage(scal, abs(size), bars[B_PREV_VOLUME, t, a])
            work[W_PRICE, a] = lvl * (1.0 - np.sign(size) * slip)
    return close_positions(pos, opened, acc, iacc, work, np.int64(W_TAKER), i, t, np.int64(K_STOP_LOSS), np.bool_(False),
                           episode, sw, led_f, led_i, n)


@njit(**_HOT)
def liquidate_intrabar(pos, opened, acc, iacc, closed, work, tiers, bars, sw, i, t, episode, led_f, led_i,
                       n):
    """Step 5: liquidation on the path from the open to the adverse extremes."""
    A = pos.shape[2]
    any_hit = False
    if sw[Q_ISOLATED] != 0:
        for a in range(A):
            size = pos[P_SIZE, i, a]
            work[W_BACKSTOP, a] = 0.0
            work[W_MASK, a] = 0.0
            if size == 0.0:
                continue
            liq = liquidation_price(pos, acc, tiers, np.bool_(True), i, a)
            hit = bars[B_LOW, t, a] <= liq if size > 0.0 else bars[B_HIGH, t, a] >= liq
            if hit:
                work[W_MASK, a] = 1.0
                work[W_PRICE, a] = liq
                any_hit = True
    else:
        frac = cross_liquidation_fraction(pos, acc, tiers, bars, i, t)
        if not np.isfinite(frac):
            return n, 0
        for a in range(A):
            size = pos[P_SIZE, i, a]
            o = bars[B_OPEN, t, a]
            work[W_BACKSTOP, a] = 0.0
            work[W_MASK, a] = 1.0 if size != 0.0 else 0.0
            work[W_PRICE, a] = o + frac * ((bars[B_LOW, t, a] if size > 0.0 else bars[B_HIGH, t, a]) - o)
            any_hit = any_hit or size != 0.0
    if not any_hit:
        return n, 0
    return liquidate(pos, opened, acc, iacc, closed, work, sw, i, t, episode, led_f, led_i, n)


@njit(**_RULE)
def trigger_targets(pos, opened, acc, iacc, work, bars, scal, sw, i, t, episode, led_f, led_i, n):
    """Step 6: take-profits reached by the bar's favourable extreme."""
    A = pos.shape[2]
    as_maker = sw[Q_TP_MAKER] != 0
    any_hit = False
    for a in range(A):
        size = pos[P_SIZE, i, a]
        take = pos[P_TAKE, i, a]
        hit = size != 0.0 and target_hit(size, take, bars[B_HIGH, t, a], bars[B_LOW, t, a])
        work[W_MASK, a] = 1.0 if hit else 0.0
        if hit:
            any_hit = True
            o = bars[B_OPEN, t, a]
            lvl = max(take, o) if size > 0.0 else min(take, o)
            if as_maker:
                work[W_PRICE, a] = lvl
            else:
                slip = slippage(scal, abs(size), bars[B_PREV_VOLUME, t, a])
                work[W_PRICE, a] = lvl * (1.0 - np.sign(size) * slip)
    if not any_hit:
        return n, 0
    return close_positions(pos, opened, acc, iacc, work, W_MAKER if as_maker else W_TAKER, i, t, np.int64(K_TAKE_PROFIT),
                           as_maker, episode, sw, led_f, led_i, n)


@njit(**_RULE)
def exits_armed(pos, i):
    for a in range(pos.shape[2]):
        if pos[P_STOP, i, a] == pos[P_STOP, i, a] or pos[P_TAKE, i, a] == pos[P_TAKE, i, a]:
            return True
    return False


# ---------------------------------------------------------------------------- the kernel
@njit(**_ONCE)
def step_account(n_bars, has_orders, has_hooks, orders, bars, scal, sw, asset_par, tiers, fees, fee_tier, pos, opened,
                 flags, h_maker, acc, iacc, closed, work, led_f, led_i, n, i):
    """Run ``n_bars`` bars for account ``i`` (the timeline of the module docstring); the arguments
    are the blocks of :func:`step_accounts` with their parts unpacked (:func:`unpack`), ``work``
    this account's scratch slot. Returns the ledger row count."""
    A = pos.shape[2]
    acc[A_MARGIN_SCALE, i] = 1.0
    for a in range(A):
        flags[i, a] = 0
    for r in range(R_LIQUIDATED, R_LIQUIDATED + N_REPORT_FIELDS):
        iacc[r, i] = 0
    fills_before = iacc[I_FILLS, i]
    ep = iacc[I_EPISODE, i]
    for b in range(n_bars):
        t = iacc[I_BAR, i] + 1
        tier = fee_tier[t]
        for a in range(A):
            work[W_TAKER, a] = fees[0, tier, a]
            work[W_MAKER, a] = fees[1, tier, a]
        if holds_any(pos, i):
            n = settle_funding(pos, acc, bars, sw, i, t, ep, led_f, led_i, n)
            mark(pos, bars, np.int64(B_OPEN), i, t)
            n, count = liquidate_at_open(pos, opened, acc, iacc, closed, work, tiers, bars, scal, sw, i, t, ep,
                                         led_f, led_i, n)
            iacc[R_LIQUIDATED, i] += count
        if b == 0 and has_orders:
            n, phi = execute_orders(pos, opened, acc, iacc, closed, work, flags, scal, sw, asset_par,
                                    bars, orders, has_hooks, h_maker, i, t, ep, led_f, led_i, n)
            acc[A_MARGIN_SCALE, i] = phi
            mark(pos, bars, np.int64(B_OPEN), i, t)
        if holds_any(pos, i):
            armed = exits_armed(pos, i)
            if armed:
                n, count = trigger_stops(pos, opened, acc, iacc, work, tiers, bars, scal, sw, i, t, ep,
                                         led_f, led_i, n)
                iacc[R_STOPS, i] += count
            n, count = liquidate_intrabar(pos, opened, acc, iacc, closed, work, tiers, bars, sw, i,
                                          t, ep, led_f, led_i, n)
            iacc[R_LIQUIDATED, i] += count
            if armed:
                n, count = trigger_targets(pos, opened, acc, iacc, work, bars, scal, sw, i, t, ep,
                                           led_f, led_i, n)
                iacc[R_TARGETS, i] += count
        mark(pos, bars, np.int64(B_CLOSE), i, t)
        iacc[I_BAR, i] = t
        bankrupt_below = scal[S_BANKRUPT_BELOW]
        if acc[A_COLLATERAL, i] < bankrupt_below and not holds_any(pos, i) \
                and equity_of(pos, acc, i) < bankrupt_below:
            closed[i] = True
    iacc[R_FILLS, i] = iacc[I_FILLS, i] - fills_before
    return n


@njit(**_HOT)
def unpack(par_f, par_i, pos_i):
    """The parts of the parameter blocks (:func:`~arena_gym.exchange.layout.param_views`) and of
    the per-position integers, as views: ``(scal, asset_par, tiers, fees, fee_tier, opened,
    flags, h_maker)``."""
    scal, asset_par, tiers, fees, fee_tier = param_views(par_f, par_i)
    return scal, asset_par, tiers, fees, fee_tier, pos_i[PI_OPENED], pos_i[PI_FLAGS], pos_i[PI_MAKER]


@njit(**_JIT)
def step_accounts(n_bars, has_orders, has_hooks, params, book, step, ledger):
    """Run ``n_bars`` bars for every account (the timeline of the module docstring), the orders of
    ``step`` (when ``has_orders``) filling at the first bar's open, with its replay hooks and the
    maker marks of the book (when ``has_hooks``). Writes the step report (order flags, margin
    scale, counts: rows of ``pos_i``, ``acc`` and ``iacc``); returns the ledger row count.

    ``params``, ``book``, ``step`` and ``ledger`` are the exchange's four bundles, tuples of the
    blocks of :mod:`arena_gym.exchange.layout` (see
    :meth:`~arena_gym.exchange.engine.Exchange.kernel_arguments`): ``(bars, par_f, par_i)``,
    ``(pos, pos_i, acc, iacc, closed)``, ``(orders, work)`` and ``(led_f, led_i, rows)``. The
    accounts share the scratch slot ``work[0]``."""
    bars, par_f, par_i = params
    pos, pos_i, acc, iacc, closed = book
    orders, work = step
    led_f, led_i, n = ledger
    scal, asset_par, tiers, fees, fee_tier, opened, flags, h_maker = unpack(par_f, par_i, pos_i)
    for i in range(pos.shape[1]):
        n = step_account(n_bars, has_orders, has_hooks, orders, bars, scal, par_i, asset_par, tiers, fees, fee_tier,
                         pos, opened, flags, h_maker, acc, iacc, closed, work[0], led_f, led_i, n, i)
    return n


# ---------------------------------------------------------------------------- read paths
@njit(**_JIT)
def liquidation_prices(pos, acc, tiers, isolated, out):
    """(N, A) liquidation price of every position into ``out`` (0 when flat or unreachable)."""
    for i in range(pos.shape[1]):
        for a in range(pos.shape[2]):
            out[i, a] = liquidation_price(pos, acc, tiers, isolated, i, a)


@njit(**_JIT)
def maintenance_margins(pos, tiers, price, out):
    """(N, A) maintenance margin of every position at ``price`` (N, A) into ``out``."""
    for i in range(pos.shape[1]):
        for a in range(pos.shape[2]):
            out[i, a] = maintenance_margin(tiers, a, pos[P_SIZE, i, a], price[i, a])


@njit(**_JIT)
def margins_in_use(pos, isolated, out):
    """(N, A) initial margin held by every position into ``out`` (:func:`margin_in_use`)."""
    for i in range(pos.shape[1]):
        for a in range(pos.shape[2]):
            out[i, a] = margin_in_use(pos, isolated, i, a)
