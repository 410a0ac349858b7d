"""The batch perpetual-futures exchange: ``N`` accounts over one market, stepped by one kernel.

:class:`Exchange` holds the frozen parameters (:class:`~arena_gym.exchange.params.ExchangeParams`),
the accounts' state (:class:`~arena_gym.exchange.state.AccountState`), the ledger and the
step report buffers, and hands them to the compiled kernel. Every rule (funding, fills, fees,
margin, liquidation, stops and targets, order validation) and the order in which they apply are
stated once, in the docstring of :mod:`arena_gym.exchange.kernel`, next to their code.

numba is imported on the first :class:`Exchange` (``import arena_gym`` stays light). Compiled
code is cached on disk (numba's cache: the package's ``__pycache__`` when writable, else numba's
user-wide cache directory, or ``NUMBA_CACHE_DIR`` when set); the first run on a machine compiles
(for how long: the ``first-step`` rows of ``scripts/bench_env.py``) and says so on stderr.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .layout import (A_MARGIN_SCALE, H_FEE_RATE, H_FILL_PRICE, I_EPISODE, N_ORDER_ROWS, N_WORK_ROWS, O_LEVERAGE,
                     O_SIZE, O_STOP_LOSS, O_TAKE_PROFIT, P_FUNDING, PI_FLAGS, PI_MAKER, R_FILLS, R_LIQUIDATED, R_STOPS,
                     R_TARGETS)
from ..venue import ExchangeRules, load_rules
from .ledger import Ledger
from .orders import Orders
from .params import ExchangeParams
from .slippage import SlippageModel, slippage_model
from .state import CROSS, ISOLATED, AccountState

if TYPE_CHECKING:
    from .params import MarketArrays

_KERNEL = None


def has_disk_cache(dispatcher) -> bool:
    """Whether the numba ``dispatcher`` has compiled code on disk that numba will load: its cache
    index exists and matches the current source file (numba drops an index whose source changed).
    ``True`` when this cannot be told (caching off, or numba's cache layout changed)."""
    cache = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    index = getattr(cache, "_index_path", None)
    if index is None:
        return True
    if not os.path.exists(index):
        return False
    try:
        return bool(cache._load_index())
    except Exception:   # an unreadable index is numba's to handle; do not guess
        return True


def announce_compiling(dispatchers, what: str) -> bool:
    """Say on stderr, in one line, that ``what`` is about to be compiled when one of the numba
    ``dispatchers`` (one or several) is neither compiled in this process nor on disk to load (a
    first run on this machine, or after its source changed); return whether it was said."""
    dispatchers = dispatchers if isinstance(dispatchers, (list, tuple)) else (dispatchers,)
    if all(getattr(d, "overloads", None) or has_disk_cache(d) for d in dispatchers):
        return False
    print(f"arena-gym: compiling {what} (first run on this machine; cached afterwards)...",
          file=sys.stderr, flush=True)
    return True


#: What the first calls of :class:`CompiledEntry` have announced in this process (each is said once).
_ANNOUNCED: set[str] = set()


def load_kernel():
    """The compiled kernel module, imported on first use (its entry points compile, or load
    from the disk cache, at their first call: see :class:`CompiledEntry`)."""
    global _KERNEL
    if _KERNEL is None:
        from . import kernel

        _KERNEL = kernel
    return _KERNEL


class CompiledEntry:
    """A compiled entry point locked to one signature: its first call compiles it (or loads it
    from numba's disk cache) for the argument types it is given; from then on an argument of
    another type, layout or writability raises numba's ``TypeError`` ("No matching definition")
    instead of compiling a second copy. Call it through :attr:`run` (after the first call, the
    dispatcher itself: no extra cost). With numba's JIT disabled it is the plain function.

    With ``what`` (e.g. ``"the exchange kernel"``), a first call that will compile says so on
    stderr (see :func:`announce_compiling`): only what runs is announced, and only when it compiles."""

    __slots__ = ("dispatcher", "run", "what")

    def __init__(self, dispatcher, what: str | None = None) -> None:
        self.dispatcher = dispatcher
        self.what = what
        self.run = self._first if hasattr(dispatcher, "disable_compile") else dispatcher

    def _first(self, *args):
        if self.what is not None and self.what not in _ANNOUNCED and announce_compiling(self.dispatcher, self.what):
            _ANNOUNCED.add(self.what)
        out = self.dispatcher(*args)
        self.dispatcher.disable_compile()
        self.run = self.dispatcher
        return out


class KernelBundles(NamedTuple):
    """The exchange's data as the compiled entry points take it: four bundles, each a plain tuple
    of the blocks laid out in :mod:`arena_gym.exchange.layout` (passed as four arguments: the
    bundles are tuples, which numba unpacks for free; this outer container stays in Python).

    Attributes:
        params: ``(bars, par_f, par_i)``, read-only: the market's bars and the parameter blocks.
        book: ``(pos, pos_i, acc, iacc, closed)``: the account book, written in place.
        step: ``(orders, work)``: the step's orders (and replay hooks) and the scratch slots.
        ledger: ``(led_f, led_i, rows)``: the ledger's blocks and its row count.
    """

    params: tuple
    book: tuple
    step: tuple
    ledger: tuple


@dataclass
class StepReport:
    """What happened during one :meth:`Exchange.step`, per account.

    The arrays are the exchange's report buffers, rewritten in place by the next step: copy what
    you keep.

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


class Exchange:
    """``n_accounts`` accounts trading the assets of one MarketData under one rule preset.

    Args:
        market: shared, read-only bars; asset specs (fees, leverage, steps) come from
            ``market.assets``.
        n_accounts: batch size.
        initial_capital: starting collateral per account (quote currency).
        margin_mode: ``"cross"`` (default) or ``"isolated"``.
        rules: exchange preset name/path or loaded rules (exchange-wide behaviour, dated fees).
        slippage: preset name or :class:`SlippageModel`.
        default_leverage: leverage of new positions whose order gives none (scalar or (A,));
            defaults to each asset's maximum capped at 10.
        ledger: ``"full"``, ``"fills"``, ``"episode"`` or ``"off"`` (see :mod:`arena_gym.exchange.ledger`).
    """

    def __init__(self, market: MarketArrays, n_accounts: int = 1, initial_capital: float = 10_000.0, *,
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
        self.max_leverage = np.array([float(a.max_leverage) for a in specs])
        if default_leverage is None:
            default_leverage = np.minimum(self.max_leverage, 10.0)
        dl = np.broadcast_to(np.asarray(default_leverage, float), (len(specs),)).copy()
        if not np.isfinite(dl).all() or (dl < 1).any() or (dl > self.max_leverage).any():
            raise ValueError(f"default_leverage {dl} outside [1, max_leverage {self.max_leverage}]")
        self.default_leverage = np.floor(dl)
        self.ledger = Ledger(n_accounts, ledger)
        self.state, self._pos, self._pos_i, self._acc, self._iacc = AccountState.packed(
            n_accounts, market.n_assets, initial_capital)
        n, a = n_accounts, market.n_assets
        self._acc[A_MARGIN_SCALE] = 1.0
        self._orders = np.full((N_ORDER_ROWS, n, a), np.nan)
        self._work = np.zeros((1, N_WORK_ROWS, a))
        self._rows_per_step = n * (4 * a + 2)
        self._bind()

    def _bind(self) -> None:
        """The frozen parameters, the views into the packed blocks (the state's fields, the step
        report's, the ledger's episode counters), and the kernel."""
        self.params = ExchangeParams.build(self.market, self.rules, self.slippage, isolated=self.isolated,
                                           default_leverage=self.default_leverage, ledger_level=self.ledger.level)
        self.state = AccountState.over(self._pos, self._pos_i, self._acc, self._iacc, self.state.closed)
        self.funding_accrued = self._pos[P_FUNDING]
        episode = self._iacc[I_EPISODE]
        episode[...] = self.ledger.episode      # the kernel reads the counters the ledger bumps
        self.ledger.episode = episode
        kernel = load_kernel()
        what = "the exchange kernel"
        self._step_accounts = CompiledEntry(kernel.step_accounts, what)
        self._liquidation_prices = CompiledEntry(kernel.liquidation_prices, what)
        self._maintenance_margins = CompiledEntry(kernel.maintenance_margins, what)
        self._margins_in_use = CompiledEntry(kernel.margins_in_use, what)
        self._bundles = None

    def __getstate__(self) -> dict:
        """Pickle the packed arrays once (the state's fields are views into them); the parameters
        and the kernel are rebuilt on load."""
        state = dict(self.__dict__)
        for key in ("params", "funding_accrued", "_step_accounts", "_liquidation_prices", "_maintenance_margins", "_margins_in_use",
                    "_bundles"):
            del state[key]
        state["state"] = None
        state["_closed"] = self.state.closed
        return state

    def __setstate__(self, state: dict) -> None:
        closed = state.pop("_closed")
        self.__dict__.update(state)
        self.state = AccountState.over(self._pos, self._pos_i, self._acc, self._iacc, closed)
        self._bind()

    def market_extended(self) -> None:
        """Follow the market after it grew in place (:meth:`~arena_gym.market.MarketData.append`):
        the parameters are rebuilt over its bars; accounts and ledger carry on as they were."""
        self._bind()

    # ------------------------------------------------------------------ lifecycle
    @property
    def n_accounts(self) -> int:
        return self.state.n_accounts

    def reset(self, start_bar: int | np.ndarray, rows: np.ndarray | None = None,
              initial_capital: float | np.ndarray | None = None) -> None:
        """Start fresh accounts observing bar ``start_bar`` (their first orders fill at the next open).

        ``rows`` (bool mask or indices) selects accounts; all by default.
        """
        rows = slice(None) if rows is None else rows
        start = np.broadcast_to(np.asarray(start_bar, np.int64), (self.n_accounts,))[rows] if np.ndim(start_bar) == 0 \
            else np.asarray(start_bar, np.int64)
        if (start < 0).any() or (start >= self.market.n_bars - 1).any():
            raise ValueError(f"start bar must be in [0, {self.market.n_bars - 2}], got {start}")
        self.state.reset_rows(rows, initial_capital)
        self.state.bar[rows] = start
        self.state.mark[rows] = self.market.close[start]
        self.funding_accrued[rows] = 0.0
        self.ledger.new_episode(rows)

    # ------------------------------------------------------------------ read paths
    def maintenance_margin(self, price: np.ndarray | None = None) -> np.ndarray:
        """(N, A) maintenance margin of every position at ``price`` (default: the last mark)."""
        s = self.state
        price = s.mark if price is None else _f64(np.broadcast_to(np.asarray(price, float), s.size.shape))
        out = np.empty(s.size.shape)
        self._maintenance_margins.run(self._pos, self.params.tiers, price, out)
        return out

    def margin_in_use(self) -> np.ndarray:
        """(N, A) initial margin held by each position: isolated margin, or notional / leverage (cross)
        (the kernel's :func:`~arena_gym.exchange.kernel.margin_in_use`)."""
        out = np.empty(self.state.size.shape)
        self._margins_in_use.run(self._pos, self.isolated, out)
        return out

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
        """(N, A) price at which each position is liquidated, 0 when flat or unreachable (the
        kernel's :func:`~arena_gym.exchange.kernel.liquidation_price`, the rule the steps use)."""
        out = np.empty(self.state.size.shape)
        self._liquidation_prices.run(self._pos, self._acc, self.params.tiers, self.isolated, out)
        return out

    # ------------------------------------------------------------------ the step
    def kernel_arguments(self, n_bars: int) -> KernelBundles:
        """The exchange's four bundles, the last arguments of
        :func:`~arena_gym.exchange.kernel.step_accounts` (see :class:`KernelBundles`), with ledger
        room reserved for ``n_bars`` bars.

        For compiled callers that run the kernel inside a larger compiled step (the environment's
        step does): they write their orders into the first block of ``step`` (``orders[field,
        account, asset]``, NaN = none; the replay hooks are its ``H_*`` rows) and pass the
        kernel's returned row count to :meth:`commit_rows`. Callers that only read the arrays
        pass ``n_bars=0``.
        """
        ledger = self.ledger
        ledger.reserve(self._rows_per_step * n_bars)
        if self._bundles is None:
            p = self.params
            self._bundles = ((p.bars, p.par_f, p.par_i), (self._pos, self._pos_i, self._acc, self._iacc, self.state.closed),
                             (self._orders, self._work))
        return KernelBundles(*self._bundles, (ledger.float_block, ledger.int_block, len(ledger)))

    def set_orders(self, orders: Orders) -> None:
        """Write ``orders`` into the order block the next compiled step fills (see
        :meth:`kernel_arguments`)."""
        orders.check_shape(*self.state.size.shape)
        block = self._orders
        block[O_SIZE], block[O_LEVERAGE] = orders.size, orders.leverage
        block[O_STOP_LOSS], block[O_TAKE_PROFIT] = orders.stop_loss, orders.take_profit

    def set_replay_hooks(self, fill_price: np.ndarray | None, fee_rate: np.ndarray | None,
                         maker: np.ndarray | None) -> None:
        """Write the replay hooks (see :meth:`step`) that the next compiled step reads when it is
        told to (``has_hooks``): ``None`` leaves that hook unused (NaN, or not maker)."""
        self._orders[H_FILL_PRICE] = np.nan if fill_price is None else fill_price
        self._orders[H_FEE_RATE] = np.nan if fee_rate is None else fee_rate
        self._pos_i[PI_MAKER] = 0 if maker is None else maker

    def scratch_per_account(self) -> None:
        """Give every account a scratch slot of its own (``work[account]``), for steps that run
        accounts on several threads at once; one slot is shared otherwise."""
        if self._work.shape[0] != self.n_accounts:
            self._work = np.zeros((self.n_accounts, *self._work.shape[1:]))
            self._bundles = None

    def commit_rows(self, rows: int) -> None:
        """Record the ledger row count a compiled step returned (see :meth:`kernel_arguments`)."""
        self.ledger.commit(rows)

    def report(self) -> StepReport:
        """The last step's report (views of the report buffers, rewritten by the next step)."""
        rep = self._iacc
        return StepReport(self._pos_i[PI_FLAGS], self._acc[A_MARGIN_SCALE], rep[R_LIQUIDATED], rep[R_STOPS],
                          rep[R_TARGETS], rep[R_FILLS])

    def step(self, orders: Orders | None, n_bars: int = 1, *, fill_price: np.ndarray | None = None,
             fee_rate: np.ndarray | None = None, maker: np.ndarray | None = None) -> StepReport:
        """Fill ``orders`` at the next open, then run ``n_bars`` bars (rules: :mod:`.kernel`).

        For replaying recorded trades, ``fill_price`` (N, A) fills the orders at those prices
        instead of the open plus slippage (NaN: the usual fill), ``fee_rate`` (N, A) replaces the
        taker fee where finite, and ``maker`` (N, A) marks the ledger rows as maker fills.
        The report's arrays are buffers rewritten by the next step.
        """
        s = self.state
        if n_bars < 1:
            raise ValueError(f"n_bars must be >= 1, got {n_bars}")
        last = int(s.bar.max())
        if last + n_bars >= self.market.n_bars:
            raise ValueError(f"stepping {n_bars} bar(s) from bar {last} runs past the data ({self.market.n_bars} bars)")
        if orders is not None:
            self.set_orders(orders)
        hooks = fill_price is not None or fee_rate is not None or maker is not None
        if hooks:
            self.set_replay_hooks(fill_price, fee_rate, maker)
        rows = self._step_accounts.run(n_bars, orders is not None, hooks, *self.kernel_arguments(n_bars))
        self.ledger.commit(rows)
        return self.report()


def _f64(x) -> np.ndarray:
    """``x`` as a writable C-contiguous float64 array (copied only when it is not one already)."""
    a = np.ascontiguousarray(x, dtype=np.float64)
    return a if a.flags.writeable else a.copy()
