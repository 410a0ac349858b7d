"""The environment's step, compiled: one call decodes every account's action, runs the exchange
kernel, and writes rewards, episode ends, ``info`` values and observations into buffers.

:class:`~arena_gym.env.core.PerpCore` calls one entry point once per ``step`` of the single
env and of the vector env alike, so that a step costs one call into compiled code however many
accounts it advances: :func:`step_env` for numeric actions, :func:`step_env_threaded` for the
same over several threads, :func:`step_decided` for orders the LLM decision decoder wrote; and
:func:`refresh_accounts` after a reset. Each is compiled on its first use only. The pieces are
the definitions the rest of the package documents:

* action decoding (:func:`decode_account`) is the ``target``, ``target_leverage`` and
  ``discrete`` modes of :mod:`arena_gym.env.actions`;
* the exchange step is :func:`arena_gym.exchange.kernel.step_account`, the per-account step of
  :func:`~arena_gym.exchange.kernel.step_accounts`, unchanged;
* rewards are the built-ins of :mod:`arena_gym.env.rewards`, compiled from the same functions;
* episode ends are those of :class:`~arena_gym.env.PerpTradingEnv` (``terminated``: the account
  was liquidated or went bankrupt; ``truncated``: the episode length or the end of the split);
* ``info`` (:func:`write_info`) fills the rows laid out in :mod:`arena_gym.env.buffers`;
* the observation (:func:`write_observation`) is the numeric observation of
  :mod:`arena_gym.env.features`.

Like the exchange kernel, this code allocates nothing and runs without numba's reference
counting; with ``NUMBA_DISABLE_JIT=1`` it runs as plain Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..exchange import kernel
from ..exchange.layout import (A_CAPITAL, A_COLLATERAL, A_FEES, A_FUNDING, A_MARGIN_SCALE, A_REALIZED,
                               AP_DEFAULT_LEVERAGE, AP_MAX_LEVERAGE, I_BAR, I_LIQUIDATIONS, O_LEVERAGE, O_SIZE,
                               O_STOP_LOSS, O_TAKE_PROFIT, P_MARK, P_SIZE, P_UPNL, Q_ISOLATED, R_FILLS,
                               R_LIQUIDATED, R_STOPS, R_TARGETS)
from . import buffers, rewards
from .buffers import (BAD_DISCRETE_ACTION, E_ACTION_MODE, E_BARS_PER_DECISION, E_CURRENT_WIDTH, E_DEADBAND,
                      E_EPISODE_LENGTH, E_LEVERAGE_CAP, E_LOOKBACK, E_REWARD, E_SPLIT_END, E_WINDOW_WIDTH,
                      IF_COLLATERAL, IF_EQUITY, IF_FEES, IF_FUNDING, IF_GROSS_LEVERAGE, IF_MARGIN_SCALE, IF_REALIZED,
                      IF_UNREALIZED, II_ACTIONS_CLIPPED, II_BAR, II_DECISION_FALLBACKS, II_FILLS, II_FIRST_FLAG,
                      II_INVALID_OUTPUT, II_LIQUIDATED, II_LIQUIDATIONS, II_STEP, II_STOP_FILLS,
                      II_TAKE_PROFIT_FILLS, D_FALLBACKS, D_INVALID_OUTPUT, MODE_DISCRETE, N_FLAGS, NON_FINITE_ACTION, OK, PAST_THE_DATA,
                      MODE_TARGET_LEVERAGE)
from .features import CLIP

# compile options as in the exchange kernel (see the comment there); the per-account writers of
# the step are forced inline (measured with the kernel's: a vector step passes them a dozen arrays
# per account)
_JIT, _RULE, _HOT, _ONCE = kernel.JIT_ENTRY, kernel.JIT_RULE, kernel.JIT_HOT, kernel.JIT_ONCE

account_views = njit(**_RULE)(buffers.account_views)
log_return = njit(**_RULE)(rewards.log_return)
simple_return = njit(**_RULE)(rewards.simple_return)
pnl = njit(**_RULE)(rewards.pnl)


@njit(**_RULE)
def reward_of(kind, prev_equity, equity, initial_capital):
    """The built-in reward number ``kind`` (its position in ``rewards.REWARDS``); 0 for a callable."""
    if kind == 0:
        return log_return(prev_equity, equity, initial_capital)
    if kind == 1:
        return simple_return(prev_equity, equity, initial_capital)
    if kind == 2:
        return pnl(prev_equity, equity, initial_capital)
    return 0.0


@njit(**_RULE)
def clip(x):
    return min(max(x, -CLIP), CLIP)


# ---------------------------------------------------------------------------- actions
@njit(**_RULE)
def check_actions(actions, mode):
    """``OK``, or why the batch of actions cannot be decoded (non-finite target, discrete level
    outside {0, 1, 2})."""
    for i in range(actions.shape[0]):
        for a in range(actions.shape[1]):
            x = actions[i, a]
            if mode == MODE_DISCRETE:
                if not (x == 0.0 or x == 1.0 or x == 2.0):
                    return BAD_DISCRETE_ACTION
            elif not np.isfinite(x):
                return NON_FINITE_ACTION
    return OK


@njit(**_HOT)
def decode_account(actions, env_par, env_int, orders, pos, acc, asset_par, isolated, i):
    """Account ``i``'s action as target orders (:mod:`arena_gym.env.actions`) written into
    ``orders``; returns how many numbers of the action were outside their box and clipped
    (target weights outside [-1, 1]; in the ``target_leverage`` mode also leverages outside
    [1, the asset's maximum]; 0 in discrete mode).

    ``actions[i, :A]`` are the A assets' weights (discrete: levels); in the ``target_leverage``
    mode ``actions[i, A:]`` are the leverages their orders open at. ``isolated``: the account is
    on isolated margin (the ``target`` mode's leverage rule differs, see there)."""
    A = pos.shape[2]
    mode = env_int[E_ACTION_MODE]
    discrete = mode == MODE_DISCRETE
    own_leverage = mode == MODE_TARGET_LEVERAGE
    cap = env_par[E_LEVERAGE_CAP]
    clipped = 0
    gross = 0.0
    for a in range(A):
        w = (actions[i, a] - 1.0) / A if discrete else actions[i, a]
        if abs(w) > 1.0:
            clipped += 1
        if own_leverage and not 1.0 <= actions[i, A + a] <= asset_par[AP_MAX_LEVERAGE, a]:
            clipped += 1
        w = min(max(w, -1.0), 1.0)
        orders[O_SIZE, i, a] = w            # the weight, until it becomes a size below
        gross += abs(w)
    equity = max(kernel.equity_of(pos, acc, i), 0.0)
    scale = gross if gross > 1.0 else 1.0
    # isolated margin: each position's margin is its share of equity, its leverage the target gross exposure
    account_leverage = max(np.ceil(cap * min(gross, 1.0) - 1e-9), 1.0)
    for a in range(A):
        w = orders[O_SIZE, i, a] / scale
        size, mark = pos[P_SIZE, i, a], pos[P_MARK, i, a]
        target_notional = w * (cap * equity)
        trade = abs(target_notional - size * mark) >= env_par[E_DEADBAND] * equity or (w == 0.0 and size != 0.0)
        if trade:
            orders[O_SIZE, i, a] = target_notional / mark
            if own_leverage:        # the exchange's clamp: floored to a whole number, within [1, max]
                orders[O_LEVERAGE, i, a] = kernel.clamp_leverage(actions[i, A + a], asset_par[AP_MAX_LEVERAGE, a])
            else:
                lev = account_leverage if isolated else max(cap, asset_par[AP_DEFAULT_LEVERAGE, a])
                orders[O_LEVERAGE, i, a] = min(lev, asset_par[AP_MAX_LEVERAGE, a])
        else:
            orders[O_SIZE, i, a] = np.nan
            orders[O_LEVERAGE, i, a] = np.nan
        orders[O_STOP_LOSS, i, a] = np.nan
        orders[O_TAKE_PROFIT, i, a] = np.nan
    return 0 if discrete else clipped


@njit(**_RULE)
def hold_account(orders, i):
    for a in range(orders.shape[2]):
        orders[O_SIZE, i, a] = np.nan
        orders[O_LEVERAGE, i, a] = np.nan
        orders[O_STOP_LOSS, i, a] = np.nan
        orders[O_TAKE_PROFIT, i, a] = np.nan


# ---------------------------------------------------------------------------- info and observation
@njit(**_HOT)
def write_info(info_f, info_i, has_report, pos, acc, iacc, flags, steps, clipped, decisions, i):
    """Account ``i``'s ``info`` values (layout: :mod:`arena_gym.env.buffers`); without a report
    (after a reset) the per-step counts are 0 and the margin scale 1. ``decisions`` holds the
    decision decoder's counts of the step (``D_*`` rows; zeros for numeric actions)."""
    A = pos.shape[2]
    gross = 0.0
    for a in range(A):
        gross += abs(pos[P_SIZE, i, a]) * pos[P_MARK, i, a]
    unrealized = kernel.unrealized_of(pos, i)
    equity = kernel.equity_of(pos, acc, i)
    info_f[IF_EQUITY, i] = equity
    info_f[IF_COLLATERAL, i] = acc[A_COLLATERAL, i]
    info_f[IF_UNREALIZED, i] = unrealized
    info_f[IF_REALIZED, i] = acc[A_REALIZED, i]
    info_f[IF_FEES, i] = acc[A_FEES, i]
    info_f[IF_FUNDING, i] = acc[A_FUNDING, i]
    info_f[IF_GROSS_LEVERAGE, i] = gross / max(equity, 1e-9)
    info_f[IF_MARGIN_SCALE, i] = acc[A_MARGIN_SCALE, i] if has_report else 1.0
    info_i[II_LIQUIDATIONS, i] = iacc[I_LIQUIDATIONS, i]
    info_i[II_DECISION_FALLBACKS, i] = decisions[D_FALLBACKS, i] if has_report else 0
    info_i[II_INVALID_OUTPUT, i] = decisions[D_INVALID_OUTPUT, i] if has_report else 0
    info_i[II_BAR, i] = iacc[I_BAR, i]
    info_i[II_STEP, i] = steps[i]
    if has_report:
        info_i[II_FILLS, i] = iacc[R_FILLS, i]
        info_i[II_LIQUIDATED, i] = 1 if iacc[R_LIQUIDATED, i] > 0 else 0
        info_i[II_STOP_FILLS, i] = iacc[R_STOPS, i]
        info_i[II_TAKE_PROFIT_FILLS, i] = iacc[R_TARGETS, i]
        info_i[II_ACTIONS_CLIPPED, i] = clipped[i]
    else:
        info_i[II_FILLS, i] = 0
        info_i[II_LIQUIDATED, i] = 0
        info_i[II_STOP_FILLS, i] = 0
        info_i[II_TAKE_PROFIT_FILLS, i] = 0
        info_i[II_ACTIONS_CLIPPED, i] = 0
    for j in range(N_FLAGS):
        info_i[II_FIRST_FLAG + j, i] = 0
    if has_report:
        for a in range(A):
            f = flags[i, a]
            if f != 0:
                for j in range(N_FLAGS):
                    if f & (1 << j):
                        info_i[II_FIRST_FLAG + j, i] += 1


@njit(**_HOT)
def write_observation(obs, row, windows, current, holding, env_int, isolated, pos, opened, acc, iacc, steps, i):
    """Account ``i``'s numeric observation into ``obs[row]`` (:mod:`arena_gym.env.features`):
    the window features of the last ``lookback`` bars (oldest first), the market features at the
    last closed bar, the account features per asset and the global ones, clipped.

    ``windows`` and ``current`` are the flattened (bar-major) feature tables; ``holding[k]`` is
    the holding feature of a position held for ``k`` bars."""
    A = pos.shape[2]
    t = iacc[I_BAR, i]
    lookback = env_int[E_LOOKBACK]
    width = env_int[E_WINDOW_WIDTH]
    n_window = lookback * width
    n_current = env_int[E_CURRENT_WIDTH]
    out = obs[row]
    # unsigned offsets: numba then knows they are not negative and the copies vectorize
    first = np.uint64((t - lookback + 1) * width)
    for k in range(n_window):
        out[k] = windows[first + np.uint64(k)]
    first = np.uint64(t * n_current)
    for k in range(n_current):
        out[n_window + k] = current[first + np.uint64(k)]
    k = n_window + n_current
    equity = kernel.equity_of(pos, acc, i)
    initial = acc[A_CAPITAL, i]
    scale = 1.0 / max(equity, 1e-9 * initial)
    margin_total = 0.0
    for a in range(A):
        size, mark = pos[P_SIZE, i, a], pos[P_MARK, i, a]
        margin = kernel.margin_in_use(pos, isolated, i, a) * scale
        margin_total += margin
        held = max(t - opened[i, a], 0) if opened[i, a] >= 0 else 0
        obs[row, k] = clip(size * mark * scale)
        obs[row, k + 1] = clip(pos[P_UPNL, i, a] * scale)
        obs[row, k + 2] = clip(margin)
        obs[row, k + 3] = holding[held]
        k += 4
    length = env_int[E_EPISODE_LENGTH]
    obs[row, k] = clip(np.log(max(equity, 1e-9) / initial))
    obs[row, k + 1] = clip(margin_total)
    obs[row, k + 2] = clip(steps[i] / length if length > 0 else 0.0)


# ---------------------------------------------------------------------------- the entry points
# Every entry point takes the environment's three bundles, then the exchange's (after at most
# two arguments of its own): ``env = (env_par, env_int)``, ``accounts = (acct_f, acct_i, acct_b,
# decoder_flags)`` and ``observation = (obs, windows, current, holding)`` (layout:
# :mod:`arena_gym.env.buffers`, bound by :class:`~arena_gym.env.core.PerpCore`), then
# ``params``, ``book``, ``step`` and ``ledger`` (:class:`~arena_gym.exchange.engine.KernelBundles`).
# Each bundle is a plain tuple of blocks, each block one array of one dtype with named rows; the
# functions below take their parts as views (``account_views``, ``kernel.unpack``), which cost
# nothing. Passing 22 arrays in 7 tuples instead of one by one costs numba's dispatcher about
# 0.3 us more per call (1.6-1.8 against 1.3-1.9 us, numba 0.68, best of 7 x 50,000 calls);
# for 37 arrays, NamedTuples cost 6-14 us and StructRefs 5-12 us, plus about 2 s of compiling per
# process for StructRefs.
@njit(**_JIT)
def refresh_accounts(rows, with_info, env, accounts, observation, params, book):
    """Observations (into their rows of ``obs``) and, with ``with_info``, the ``info`` values
    without a step report, of the accounts ``rows`` (indices): what a reset returns."""
    env_par, env_int = env
    acct_f, acct_i, acct_b, decoder_flags = accounts
    obs, windows, current, holding = observation
    bars, par_f, par_i = params
    pos, pos_i, acc, iacc, closed = book
    prev_equity, reward, info_f, steps, clipped, decisions, info_i, restarted, terminated, truncated = \
        account_views(acct_f, acct_i, acct_b)
    scal, asset_par, tiers, fees, fee_tier, opened, flags, h_maker = kernel.unpack(par_f, par_i, pos_i)
    isolated = par_i[Q_ISOLATED] != 0
    for r in range(rows.shape[0]):
        i = rows[r]
        if with_info:
            write_info(info_f, info_i, np.bool_(False), pos, acc, iacc, flags, steps, clipped, decisions, i)
        write_observation(obs, i, windows, current, holding, env_int, isolated, pos, opened, acc, iacc, steps, i)


@njit(**_ONCE)
def finish_account(env_int, restarted, prev_equity, steps, clipped, decisions, reward, terminated, truncated, info_f,
                   info_i, obs, windows, current, holding, isolated, pos, opened, acc, iacc, closed, flags, i):
    """After the exchange ran account ``i``'s decision: its reward, episode end, ``info`` and
    observation. A ``restarted`` account (reset to hold through this decision, see the vector env)
    gets reward 0, is not done, and starts at step 0."""
    equity = kernel.equity_of(pos, acc, i)
    steps[i] += 1
    if restarted[i]:
        reward[i] = 0.0
        terminated[i] = False
        truncated[i] = False
        steps[i] = 0
    else:
        length = env_int[E_EPISODE_LENGTH]
        horizon_end = env_int[E_SPLIT_END] - env_int[E_BARS_PER_DECISION]
        reward[i] = reward_of(env_int[E_REWARD], prev_equity[i], equity, acc[A_CAPITAL, i])
        terminated[i] = closed[i]
        truncated[i] = not closed[i] and (iacc[I_BAR, i] > horizon_end or (length > 0 and steps[i] >= length))
    prev_equity[i] = equity
    write_info(info_f, info_i, np.bool_(True), pos, acc, iacc, flags, steps, clipped, decisions, i)
    write_observation(obs, i, windows, current, holding, env_int, isolated, pos, opened, acc, iacc, steps, i)


@njit(**_HOT)
def check_horizon(env_int, iacc, bars):
    """``OK``, or ``PAST_THE_DATA`` when some account's decision would run past the data."""
    k = env_int[E_BARS_PER_DECISION]
    for i in range(iacc.shape[1]):
        if iacc[I_BAR, i] + k >= bars.shape[1]:
            return PAST_THE_DATA
    return OK


@njit(**_HOT)
def check_step(actions, env_int, iacc, bars):
    """``OK``, or why a numeric step does nothing: :func:`check_actions`, then :func:`check_horizon`."""
    status = check_actions(actions, env_int[E_ACTION_MODE])
    return check_horizon(env_int, iacc, bars) if status == OK else status


@njit(**_JIT)
def step_env(actions, env, accounts, observation, params, book, step, ledger):
    """One decision for every account from numeric ``actions`` (N, A): decode each account's
    action into ``orders`` (it holds when ``restarted``), run the exchange for
    ``bars_per_decision`` bars, then :func:`finish_account`. Returns ``(status, ledger rows)``:
    the status is ``OK`` or why nothing was done (an invalid action, or a decision that would run
    past the data)."""
    env_par, env_int = env
    acct_f, acct_i, acct_b, decoder_flags = accounts
    obs, windows, current, holding = observation
    bars, par_f, par_i = params
    pos, pos_i, acc, iacc, closed = book
    orders, work = step
    led_f, led_i, n = ledger
    status = check_step(actions, env_int, iacc, bars)
    if status != OK:
        return status, n
    prev_equity, reward, info_f, steps, clipped, decisions, info_i, restarted, terminated, truncated = \
        account_views(acct_f, acct_i, acct_b)
    scal, asset_par, tiers, fees, fee_tier, opened, flags, h_maker = kernel.unpack(par_f, par_i, pos_i)
    isolated = par_i[Q_ISOLATED] != 0
    k = env_int[E_BARS_PER_DECISION]
    # the account step of step_env_threaded, in three passes over the accounts (each pass's code
    # stays in the instruction cache)
    N = pos.shape[1]
    for i in range(N):
        if restarted[i]:
            hold_account(orders, i)
            clipped[i] = 0
        else:
            clipped[i] = decode_account(actions, env_par, env_int, orders, pos, acc, asset_par, isolated, i)
    for i in range(N):
        n = kernel.step_account(k, np.bool_(True), np.bool_(False), orders, bars, scal, par_i, asset_par, tiers, fees,
                                fee_tier, pos, opened, flags, h_maker, acc, iacc, closed, work[0], led_f, led_i, n, i)
    for i in range(N):
        finish_account(env_int, restarted, prev_equity, steps, clipped, decisions, reward, terminated, truncated,
                       info_f, info_i, obs, windows, current, holding, isolated, pos, opened, acc, iacc, closed,
                       flags, i)
    return OK, n


@njit(parallel=True, **_JIT)
def step_env_threaded(actions, env, accounts, observation, params, book, step, ledger):
    """:func:`step_env` with the accounts spread over numba's threads (``prange``), each account
    with its own scratch slot ``work[i]``. The ledger must be off (its rows are appended in one
    sequence): the row count is returned unchanged. The accounts are independent, so every
    number is the one :func:`step_env` computes."""
    env_par, env_int = env
    acct_f, acct_i, acct_b, decoder_flags = accounts
    obs, windows, current, holding = observation
    bars, par_f, par_i = params
    pos, pos_i, acc, iacc, closed = book
    orders, work = step
    led_f, led_i, n = ledger
    status = check_step(actions, env_int, iacc, bars)
    if status != OK:
        return status, n
    prev_equity, reward, info_f, steps, clipped, decisions, info_i, restarted, terminated, truncated = \
        account_views(acct_f, acct_i, acct_b)
    scal, asset_par, tiers, fees, fee_tier, opened, flags, h_maker = kernel.unpack(par_f, par_i, pos_i)
    isolated = par_i[Q_ISOLATED] != 0
    k = env_int[E_BARS_PER_DECISION]
    for i in prange(pos.shape[1]):
        # the same account step as in step_env, with the account's own scratch
        if restarted[i]:
            hold_account(orders, i)
            clipped[i] = 0
        else:
            clipped[i] = decode_account(actions, env_par, env_int, orders, pos, acc, asset_par, isolated, i)
        kernel.step_account(k, np.bool_(True), np.bool_(False), orders, bars, scal, par_i, asset_par, tiers, fees,
                            fee_tier, pos, opened, flags, h_maker, acc, iacc, closed, work[i], led_f, led_i, n, i)
        finish_account(env_int, restarted, prev_equity, steps, clipped, decisions, reward, terminated, truncated,
                       info_f, info_i, obs, windows, current, holding, isolated, pos, opened, acc, iacc, closed,
                       flags, i)
    return OK, n


@njit(**_JIT)
def step_decided(has_hooks, env, accounts, observation, params, book, step, ledger):
    """One decision for every account from orders already decoded into ``orders`` (the LLM
    ``decision`` mode): run the exchange (with the replay hooks when ``has_hooks``, a recorded
    fill tape's), add the decoder's ``decoder_flags`` (N, A) to the order flags, then
    :func:`finish_account` (the decoder's counts are in ``decisions``). Returns ``(status, ledger
    rows)`` as :func:`step_env`."""
    env_par, env_int = env
    acct_f, acct_i, acct_b, decoder_flags = accounts
    obs, windows, current, holding = observation
    bars, par_f, par_i = params
    pos, pos_i, acc, iacc, closed = book
    orders, work = step
    led_f, led_i, n = ledger
    status = check_horizon(env_int, iacc, bars)
    if status != OK:
        return status, n
    prev_equity, reward, info_f, steps, clipped, decisions, info_i, restarted, terminated, truncated = \
        account_views(acct_f, acct_i, acct_b)
    scal, asset_par, tiers, fees, fee_tier, opened, flags, h_maker = kernel.unpack(par_f, par_i, pos_i)
    isolated = par_i[Q_ISOLATED] != 0
    k = env_int[E_BARS_PER_DECISION]
    for i in range(pos.shape[1]):
        clipped[i] = 0
        n = kernel.step_account(k, np.bool_(True), has_hooks, orders, bars, scal, par_i, asset_par, tiers, fees,
                                fee_tier, pos, opened, flags, h_maker, acc, iacc, closed, work[0], led_f, led_i, n, i)
        for a in range(pos.shape[2]):
            flags[i, a] |= decoder_flags[i, a]
        finish_account(env_int, restarted, prev_equity, steps, clipped, decisions, reward, terminated, truncated,
                       info_f, info_i, obs, windows, current, holding, isolated, pos, opened, acc, iacc, closed,
                       flags, i)
    return OK, n
