"""Batch episode logic shared by :class:`PerpTradingEnv` (one account) and :class:`PerpVectorEnv`.

``PerpCore`` owns one :class:`~arena_gym.exchange.Exchange` of ``N`` accounts over one shared
MarketData, plus per-account episode bookkeeping (start bar, decisions taken) and the step
buffers, allocated once: rewards, episode ends, ``info`` values and observations are written in
place by the compiled step (:mod:`arena_gym.env.compiled`, one call per decision for every
account and every action mode; layout in :mod:`arena_gym.env.buffers`). The env classes copy
what they hand out. Gymnasium specifics (spaces checks, seeding API, autoreset) live in the two
env classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter

import numpy as np
import pandas as pd

from ..exchange.engine import CompiledEntry, Exchange
from ..exchange.trades import trades_from_ledger
from ..exchange.orders import Orders
from ..market.data import MarketData
from ..market.indicators import WARMUP_BARS
from ..venue import ExchangeRules, load_rules
from . import rewards
from .buffers import (BOOL_INFO, E_ACTION_MODE, E_BARS_PER_DECISION, E_CURRENT_WIDTH, E_DEADBAND, E_EPISODE_LENGTH,
                      E_LEVERAGE_CAP, E_LOOKBACK, E_REWARD, E_SPLIT_END, E_WINDOW_WIDTH, FLOAT_INFO,
                      D_FALLBACKS, D_INVALID_OUTPUT, INFO_KEYS, INFO_ROWS, MODE_DISCRETE, MODE_TARGET,
                      MODE_TARGET_LEVERAGE, N_ACCOUNT_FLAGS, N_ACCOUNT_FLOATS, N_ACCOUNT_INTS, N_ENV_INTS, N_ENV_PARAMS,
                      NON_FINITE_ACTION, OK, PAST_THE_DATA, REWARD_PYTHON, account_views)
from .config import EnvConfig
from .features import ACCOUNT_FEATURES, GLOBAL_FEATURES, MARKET_FEATURES, WINDOW_FEATURES, feature_rows, holding_feature

__all__ = ["INFO_KEYS", "PerpCore", "Position", "prepare_market", "resolve_bar"]

_COMPILED = None
#: The compiled env functions whose disk cache was checked in this process (see :func:`load_compiled`).
_CHECKED: set[str] = set()
# the info values in ``INFO_KEYS`` order, picked from the float rows followed by the int rows
_INFO_ORDER = itemgetter(*(row if b == 0 else len(FLOAT_INFO) + row for b, row in INFO_ROWS.values()))
#: The numeric action modes (decoded by the compiled step) and their ``E_ACTION_MODE`` numbers.
NUMERIC_MODES = {"target": MODE_TARGET, "discrete": MODE_DISCRETE, "target_leverage": MODE_TARGET_LEVERAGE}


def load_compiled(entry_points: tuple[str, ...] = ()):
    """The compiled env step module, imported (and compiled on a fresh machine) on first use.

    ``entry_points`` name the functions of :mod:`.compiled` the caller will run (see
    :func:`compiled_entry_points`); the first time one is named in a process, a missing disk
    cache is announced on stderr, so the notice comes only when something will compile."""
    global _COMPILED
    from ..exchange.engine import announce_compiling, load_kernel

    if _COMPILED is None:
        load_kernel()
        from . import compiled

        _COMPILED = compiled
    unchecked = [name for name in entry_points if name not in _CHECKED]
    if unchecked:
        _CHECKED.update(unchecked)
        announce_compiling([getattr(_COMPILED, name) for name in unchecked], "the environment's step")
    return _COMPILED


def compiled_entry_points(config: EnvConfig, num_threads: int = 1) -> tuple[str, ...]:
    """The functions of :mod:`.compiled` an env of ``config`` runs: numeric actions go through
    ``step_env`` (``step_env_threaded`` on several threads), contest decisions through
    ``step_decided``; every env refreshes its accounts with ``refresh_accounts``."""
    if config.action_mode == "decision":
        step = "step_decided"
    else:
        step = "step_env_threaded" if num_threads > 1 else "step_env"
    return ("refresh_accounts", step)


@dataclass(frozen=True)
class Position:
    """One open position, as returned by ``positions()``.

    Sizes in coins (negative = short); prices, margin and PnL in quote currency; ``stop_loss`` /
    ``take_profit`` are ``None`` when not set; ``liquidation_price`` is 0 when unreachable.
    """

    symbol: str
    size: float
    entry_price: float
    mark_price: float
    leverage: float
    margin: float
    liquidation_price: float
    unrealized_pnl: float
    stop_loss: float | None
    take_profit: float | None
    opened_at: str
    notional: float


def prepare_market(market: MarketData, config: EnvConfig) -> tuple[MarketData, ExchangeRules]:
    """Select the configured assets; return the market under the configured exchange's specs and
    those rules, both with the configured fee override."""
    if config.assets is not None:
        market = market.select(list(config.assets))
    rules = load_rules(config.exchange)
    if config.fees == "zero":
        rules = rules.with_fees(0.0, 0.0)
    elif isinstance(config.fees, (tuple, list)):
        rules = rules.with_fees(float(config.fees[0]), float(config.fees[1]))
    elif config.fees != "exchange":
        raise ValueError(f"fees must be 'exchange', 'zero' or (taker, maker), got {config.fees!r}")
    return market.with_assets(rules.specs(market.symbols)), rules


def resolve_bar(market: MarketData, spec, name: str) -> int:
    """A bar index from a fraction in [0, 1], an integer index or a timestamp."""
    if isinstance(spec, (bool, np.bool_)):
        raise ValueError(f"{name}: expected a fraction, bar index or timestamp, got {spec!r}")
    if isinstance(spec, float) and 0.0 <= spec <= 1.0:
        return int(round(spec * market.n_bars))
    if isinstance(spec, (int, np.integer)):
        if not -market.n_bars <= spec <= market.n_bars:
            raise ValueError(f"{name}: bar {spec} outside the data (0..{market.n_bars})")
        return int(spec) % (market.n_bars + 1) if spec >= 0 else market.n_bars + int(spec)
    try:
        ts = pd.Timestamp(spec)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name}: cannot read {spec!r} as a fraction, bar index or timestamp") from err
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(np.searchsorted(market.timestamps, np.datetime64(ts.tz_localize(None), "ns")))


class PerpCore:
    """``n_accounts`` episodes over one market (see the module docstring)."""

    def __init__(self, market: MarketData, n_accounts: int, config: EnvConfig, min_start: int = 0,
                 default_ledger: str = "episode", num_threads: int = 1) -> None:
        if not isinstance(num_threads, (int, np.integer)) or isinstance(num_threads, bool) or num_threads < 1:
            raise ValueError(f"num_threads must be an integer >= 1, got {num_threads!r}")
        self.config = config
        self.market, self.rules = prepare_market(market, config)
        m = self.market
        self.exchange = Exchange(m, n_accounts, config.initial_capital, margin_mode=config.margin_mode,
                                 rules=self.rules, slippage=config.slippage, default_leverage=config.default_leverage,
                                 ledger=config.ledger or default_ledger)
        self.n = n_accounts
        self.k = config.bars_per_decision
        self.reward_fn = rewards.reward_function(config.reward)
        self._bind_features()
        self.n_window = config.lookback * m.n_assets * len(WINDOW_FEATURES)
        self.n_market = self.n_window + m.n_assets * len(MARKET_FEATURES)
        self.obs_dim = self.n_market + m.n_assets * len(ACCOUNT_FEATURES) + len(GLOBAL_FEATURES)
        begin, end = (0, m.n_bars) if config.split is None else (
            resolve_bar(m, config.split[0], "split begin"), resolve_bar(m, config.split[1], "split end"))
        if not 0 <= begin < end <= m.n_bars:
            raise ValueError(f"split {config.split} gives bars [{begin}, {end}) outside [0, {m.n_bars}]")
        self.split_end = end - 1  # last usable bar
        self.first_start = max(begin + config.lookback - 1, WARMUP_BARS, min_start)
        horizon = self._horizon = (config.episode_length or 1) * self.k
        self.last_start = self.split_end - horizon
        if self.last_start < self.first_start:
            raise ValueError(
                f"the split [{begin}, {end}) of {m.n_bars} bars is too short: an episode needs {horizon} bars after "
                f"a start at bar >= {self.first_start} (lookback {config.lookback}, indicator warm-up {WARMUP_BARS}); "
                f"at most {max((self.split_end - self.first_start) // self.k, 0)} decisions of {self.k} bar(s) fit: "
                f"shorten the episodes (e.g. --set episode_length=...)")
        self.fixed_start = None if config.start == "random" else self.start_bar(config.start)
        built_in = list(rewards.REWARDS.values())
        reward_kind = built_in.index(self.reward_fn) if self.reward_fn in built_in else REWARD_PYTHON
        self.env_par = np.zeros(N_ENV_PARAMS)
        self.env_par[E_LEVERAGE_CAP] = config.leverage_cap
        self.env_par[E_DEADBAND] = config.deadband
        self.env_par.setflags(write=False)
        self.env_int = np.zeros(N_ENV_INTS, np.int64)
        self.env_int[E_EPISODE_LENGTH] = config.episode_length or 0
        self.env_int[E_SPLIT_END] = self.split_end
        self.env_int[E_LOOKBACK] = config.lookback
        self.env_int[E_REWARD] = reward_kind
        self._python_reward = reward_kind == REWARD_PYTHON
        self.env_int[E_BARS_PER_DECISION] = self.k
        self.env_int[E_ACTION_MODE] = NUMERIC_MODES.get(config.action_mode, MODE_TARGET)
        self.env_int[E_WINDOW_WIDTH] = self.window_rows.shape[1]
        self.env_int[E_CURRENT_WIDTH] = self.current_rows.shape[1]
        self.env_int.setflags(write=False)
        # per-account episode state and the step buffers the compiled step writes in place (three
        # blocks, laid out in .buffers; the names below are views into them)
        self._acct_f = np.zeros((N_ACCOUNT_FLOATS, n_accounts))
        self._acct_i = np.zeros((N_ACCOUNT_INTS, n_accounts), np.int64)
        self._acct_b = np.zeros((N_ACCOUNT_FLAGS, n_accounts), bool)
        self._bind_accounts()
        self.prev_equity[:] = float(config.initial_capital)
        self.obs = np.zeros((n_accounts, self.obs_dim), np.float32)
        # one row of numbers per account: the weights (or levels), then in target_leverage mode the leverages
        self._action_shape = (m.n_assets,) if config.action_mode != "target_leverage" else (2, m.n_assets)
        self._actions = np.zeros((n_accounts, int(np.prod(self._action_shape))))
        self._decoder_flags = np.zeros((n_accounts, m.n_assets), np.int64)
        self._all_rows = np.arange(n_accounts)
        self._grown = False
        self._bars_known = m.n_bars
        self.num_threads = int(num_threads)
        if self.num_threads > 1 and self.exchange.ledger.level != "off":
            raise ValueError(f"num_threads={num_threads} needs the ledger off (ledger='off'): the ledger's rows are "
                             f"appended in one sequence")
        if self.num_threads > 1:
            self.exchange.scratch_per_account()
        self._bind_compiled()

    def _bind_accounts(self) -> None:
        """The names of the parts of the per-account blocks (views, see :func:`.buffers.account_views`)."""
        (self.prev_equity, self.reward, self.info_f, self.steps, self.actions_clipped, self.decisions, self.info_i,
         self._restarted, self.terminated, self.truncated) = account_views(self._acct_f, self._acct_i, self._acct_b)

    def _bind_compiled(self) -> None:
        """The compiled entry points (each locked to one signature on first use) and the buffers
        they take (:meth:`_bind_buffers`)."""
        compiled = load_compiled(compiled_entry_points(self.config, self.num_threads))
        self._refresh = CompiledEntry(compiled.refresh_accounts)
        self._step = CompiledEntry(compiled.step_env_threaded if self.num_threads > 1 else compiled.step_env)
        self._step_decided = CompiledEntry(compiled.step_decided)
        self._bind_buffers()

    def _bind_buffers(self) -> None:
        """The environment's three bundles the compiled entry points take before the exchange's
        (see :mod:`.compiled`): parameters, per-account buffers, observation buffer and feature
        tables (bound again when the market grows or the observation buffer is handed out)."""
        self._bundles = ((self.env_par, self.env_int), (self._acct_f, self._acct_i, self._acct_b, self._decoder_flags),
                         (self.obs, *self._features))

    def _bind_features(self) -> None:
        """The market's feature tables (shared through the market's cache), flattened bar-major
        for the compiled step."""
        self.current_rows, self.window_rows = feature_rows(self.market)
        self._features = (self.window_rows.reshape(-1), self.current_rows.reshape(-1), holding_feature(self.market))

    def __getstate__(self) -> dict:
        """Pickle without the market's feature tables: the market pickles as its recipe when it
        has one, and the tables are rebuilt from it (see :mod:`arena_gym.market.registry`)."""
        state = dict(self.__dict__)
        for key in ("current_rows", "window_rows", "_features", "_refresh", "_step", "_step_decided", "_bundles",
                    "prev_equity", "reward", "info_f", "steps", "actions_clipped", "decisions", "info_i", "_restarted",
                    "terminated", "truncated"):
            del state[key]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.env_par.setflags(write=False)   # unpickled arrays are writable: keep the compiled signature
        self.env_int.setflags(write=False)
        self._bind_accounts()
        self._bind_features()
        self._bind_compiled()

    def market_extended(self) -> None:
        """Follow the market after it grew in place (:meth:`~arena_gym.market.MarketData.append`):
        the feature tables and the exchange take its new bars and, without a ``split``, the new
        bars become usable; every account and episode carries on where it was."""
        if self.market.n_bars == self._bars_known:
            return
        self._bars_known = self.market.n_bars
        self.exchange.market_extended()
        self._bind_features()
        self._grown = True
        if self.config.split is None:
            self.split_end = self.market.n_bars - 1
            self.last_start = self.split_end - self._horizon
            env_int = self.env_int.copy()
            env_int[E_SPLIT_END] = self.split_end
            env_int.setflags(write=False)
            self.env_int = env_int
        self._bind_buffers()

    def _check_room(self, action) -> None:
        """A grown market's tables have room past its last bar: refuse a step that would read it."""
        if self._grown and int(self.exchange.state.bar.max()) + self.k >= self.market.n_bars:
            raise self._step_error(PAST_THE_DATA, action)

    def start_bar(self, spec) -> int:
        """The start bar for a bar index, or for a timestamp: the bar containing it."""
        bar = self.market.index_of(spec) if isinstance(spec, str) else resolve_bar(self.market, spec, "start")
        if not self.first_start <= bar <= self.last_start:
            raise ValueError(f"start {spec!r} is bar {bar}; valid starts are bars {self.first_start}..{self.last_start} "
                             f"({self.market.timestamps[self.first_start]} .. {self.market.timestamps[self.last_start]})")
        return bar

    # ------------------------------------------------------------------ episodes
    def sample_starts(self, rng: np.random.Generator, count: int) -> np.ndarray:
        if self.fixed_start is not None:
            return np.full(count, self.fixed_start, np.int64)
        return rng.integers(self.first_start, self.last_start + 1, size=count)

    def reset_rows(self, rows: np.ndarray, starts: np.ndarray) -> None:
        """Start new episodes for ``rows`` (bool mask or indices) at bars ``starts``."""
        self.exchange.reset(starts, rows)
        self.steps[rows] = 0
        self.prev_equity[rows] = self.exchange.state.equity[rows]

    # ------------------------------------------------------------------ observation and info
    def observe(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Write the numeric observation (see :mod:`.features`) of the accounts ``rows`` (indices;
        all by default) into their rows of the observation buffer; returns the buffer ((N,
        obs_dim) float32, rewritten by every step: copy what you keep)."""
        exchange = self.exchange.kernel_arguments(0)
        self._refresh.run(self._all_rows if rows is None else rows, False, *self._bundles, exchange.params,
                          exchange.book)
        return self.obs

    def hand_out_obs(self) -> np.ndarray:
        """The observation buffer itself, for the caller to keep: the next step writes into a new
        one (what Gymnasium's ``copy`` convention asks of the vector env, without copying)."""
        obs = self.obs
        self.obs = np.empty_like(obs)
        self._bind_buffers()
        return obs

    def reset_info(self, rows: np.ndarray | None = None) -> None:
        """Write the ``info`` values of freshly reset accounts ``rows`` (indices; all by default),
        the account as it is and the per-step counts 0, and their observations (as :meth:`observe`)."""
        exchange = self.exchange.kernel_arguments(0)
        self._refresh.run(self._all_rows if rows is None else rows, True, *self._bundles, exchange.params,
                          exchange.book)

    def info_arrays(self) -> dict[str, np.ndarray]:
        """Every account's ``info`` as (N,) arrays (keys: ``INFO_KEYS``), copied from the buffers."""
        rows = [*self.info_f.copy(), *self.info_i.copy()]
        info = dict(zip(INFO_KEYS, _INFO_ORDER(rows)))
        for key in BOOL_INFO:
            info[key] = info[key].astype(bool)
        return info

    def info_of(self, account: int) -> dict:
        """One account's ``info`` as flat Python scalars (keys: ``INFO_KEYS``)."""
        info = dict(zip(INFO_KEYS, _INFO_ORDER(self.info_f[:, account].tolist() + self.info_i[:, account].tolist())))
        for key in BOOL_INFO:
            info[key] = bool(info[key])
        return info

    # ------------------------------------------------------------------ step
    def step(self, actions, restarted: np.ndarray | None = None) -> np.ndarray:
        """One decision for every account from numeric actions (N, A) (``target`` or ``discrete``
        mode; (N, 2, A) in ``target_leverage`` mode: weights, then leverages); returns the observation buffer (rewritten by every step: copy what you keep) and
        leaves rewards, episode ends and ``info`` values in the step buffers.

        ``restarted`` (bool (N,)) marks accounts reset to hold through this decision before their
        episode starts (the vector env's ``next_step`` autoreset): their action is ignored, they
        get reward 0, are not done, and begin their episode at step 0 after it.
        """
        mode, a = self.config.action_mode, np.asarray(actions)
        if mode not in NUMERIC_MODES:
            raise ValueError(f"action_mode {mode!r} is decoded by the environment, not from arrays")
        shape = (self.n, *self._action_shape)
        if a.shape != shape:
            raise ValueError(f"{mode} actions must have shape {shape}, got {a.shape}")
        try:
            self._actions.reshape(shape)[...] = a
        except (TypeError, ValueError) as err:
            raise ValueError(f"{mode} actions must be numbers, got {a!r}") from err
        self._restarted[...] = False if restarted is None else restarted
        self._check_room(a)
        prev_equity = self.prev_equity.copy() if self._python_reward else None
        if self.num_threads > 1:
            status, rows = self._step_threaded(prev_equity)
        else:
            status, rows = self._step.run(self._actions, *self._bundles, *self.exchange.kernel_arguments(self.k))
        if status != OK:
            raise self._step_error(status, a)
        self.exchange.commit_rows(rows)
        if prev_equity is not None:
            self._reward_from_callable(prev_equity, self._restarted)
        return self.obs

    def _step_threaded(self, prev_equity) -> tuple[int, int]:
        """The step over ``num_threads`` of numba's threads (the caller's own thread count is restored)."""
        import numba

        before = numba.get_num_threads()
        numba.set_num_threads(min(self.num_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            return self._step.run(self._actions, *self._bundles, *self.exchange.kernel_arguments(self.k))
        finally:
            numba.set_num_threads(before)

    def step_orders(self, orders: Orders, flags: np.ndarray | None = None, decision_fallbacks=0,
                    invalid_output=False, replay_hooks: tuple | None = None) -> np.ndarray:
        """One decision for every account from decoded orders (the ``decision`` mode), in one
        compiled call; as :meth:`step`. The decoder's own outcomes go into the step's ``info``:
        ``flags`` (N, A) are added to the order flags, ``decision_fallbacks`` (count per account)
        and ``invalid_output`` (per account) are stored as given. ``replay_hooks`` (``fill_price,
        fee_rate, maker``, see :meth:`~arena_gym.exchange.Exchange.step`) come only from a
        recorded fill tape (:mod:`arena_gym.env.recorded_fills`)."""
        self._check_room(None)
        self.exchange.set_orders(orders)
        if replay_hooks is not None:
            self.exchange.set_replay_hooks(*replay_hooks)
        self._decoder_flags[...] = 0 if flags is None else flags
        self.decisions[D_FALLBACKS] = decision_fallbacks
        self.decisions[D_INVALID_OUTPUT] = invalid_output
        self._restarted[...] = False
        prev_equity = self.prev_equity.copy() if self._python_reward else None
        status, rows = self._step_decided.run(np.bool_(replay_hooks is not None), *self._bundles,
                                              *self.exchange.kernel_arguments(self.k))
        if status != OK:
            raise self._step_error(status, None)
        self.exchange.commit_rows(rows)
        if prev_equity is not None:
            self._reward_from_callable(prev_equity, self._restarted)
        return self.obs

    def _reward_from_callable(self, prev_equity: np.ndarray, restarted: np.ndarray) -> None:
        """Rewards from a user's callable (the compiled step computes only the built-ins)."""
        s = self.exchange.state
        self.reward[:] = self.reward_fn(prev_equity, s.equity, s.initial_capital)
        self.reward[restarted] = 0.0

    def _step_error(self, status: int, actions: np.ndarray) -> ValueError:
        mode = self.config.action_mode
        if status == NON_FINITE_ACTION:
            return ValueError(f"{mode} actions must be finite, got {actions}")
        if status == PAST_THE_DATA:
            last = int(self.exchange.state.bar.max())
            return ValueError(f"stepping {self.k} bar(s) from bar {last} runs past the data "
                              f"({self.market.n_bars} bars)")
        return ValueError(f"discrete actions must be integers in {{0, 1, 2}} of shape "
                          f"{(self.n, self.market.n_assets)}, got {actions!r}")

    def trades(self, include_open: bool = True) -> pd.DataFrame:
        """Round-trip trades of every account and episode so far (see :mod:`arena_gym.exchange.trades`)."""
        ex, s = self.exchange, self.exchange.state
        open_positions = None
        if include_open:
            open_positions = {
                (int(acc), int(ex.ledger.episode[acc]), int(a)): (float(s.mark[acc, a]), int(s.bar[acc]),
                                                                  float(ex.funding_accrued[acc, a]), float(s.entry[acc, a]))
                for acc, a in zip(*np.nonzero(s.size))}
        return trades_from_ledger(ex.ledger, self.market.timestamps, self.market.symbols, open_positions)

    def positions(self, account: int = 0) -> list[Position]:
        """Open positions of one account (see :class:`Position`)."""
        s, ex, m = self.exchange.state, self.exchange, self.market
        liq = ex.liquidation_price()[account]
        margin = ex.margin_in_use()[account]
        out = []
        for a in np.nonzero(s.size[account])[0]:
            stop, take = s.stop_loss[account, a], s.take_profit[account, a]
            out.append(Position(
                symbol=m.symbols[a], size=float(s.size[account, a]), entry_price=float(s.entry[account, a]),
                mark_price=float(s.mark[account, a]), leverage=float(s.leverage[account, a]), margin=float(margin[a]),
                liquidation_price=float(liq[a]), unrealized_pnl=float(s.unrealized_pnl[account, a]),
                stop_loss=None if np.isnan(stop) else float(stop), take_profit=None if np.isnan(take) else float(take),
                opened_at=str(pd.Timestamp(m.timestamps[s.opened_bar[account, a]], tz="UTC")),
                notional=float(abs(s.size[account, a]) * s.mark[account, a]),
            ))
        return out
