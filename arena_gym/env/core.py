"""Batch episode logic shared by :class:`PerpTradingEnv` (one account) and :class:`PerpVectorEnv`.

``PerpCore`` owns one :class:`~arena_gym.exchange.Exchange` of ``N`` accounts over one shared
MarketData, plus per-account episode bookkeeping (start bar, decisions taken), observation
building, action decoding, rewards and the ``info`` arrays. Gymnasium specifics (spaces
checks, seeding API, autoreset) live in the two env classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exchange.engine import Exchange, StepReport
from ..exchange.state import row_sum
from ..exchange.trades import trades_from_ledger
from ..exchange.orders import FLAG_NAMES, Orders, count_flags
from ..market.data import MarketData
from ..market.indicators import WARMUP_BARS
from ..exchange.rules import ExchangeRules, load_rules
from .actions import discrete_weights, target_orders
from .config import EnvConfig
from .features import ACCOUNT_FEATURES, CLIP, GLOBAL_FEATURES, MARKET_FEATURES, WINDOW_FEATURES, feature_rows
from .rewards import reward_function

#: Keys of the per-step ``info`` (flat scalars in the single env, (N,) arrays in the vector env).
INFO_KEYS = ("equity", "collateral", "unrealized_pnl", "realized_pnl", "fees_paid", "funding_paid", "gross_leverage",
             "fills", "liquidated", "liquidations", "stop_fills", "take_profit_fills", "margin_scale", "actions_clipped",
             "decision_fallbacks", "invalid_output", "bar", "step") + \
            tuple(f"orders_{name}" for name in FLAG_NAMES)


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
                 default_ledger: str = "full") -> None:
        self.config = config
        self.market, self.rules = prepare_market(market, config)
        m = self.market
        self.exchange = Exchange(m, n_accounts, config.initial_capital, margin_mode=config.margin_mode,
                                 rules=self.rules, slippage=config.slippage, default_leverage=config.default_leverage,
                                 ledger=config.ledger or default_ledger)
        self.n = n_accounts
        self.k = config.bars_per_decision
        self.reward_fn = reward_function(config.reward)
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
        horizon = (config.episode_length or 1) * self.k
        self.last_start = self.split_end - horizon
        if self.last_start < self.first_start:
            raise ValueError(
                f"the split [{begin}, {end}) of {m.n_bars} bars is too short: an episode needs {horizon} bars after "
                f"a start at bar >= {self.first_start} (lookback {config.lookback}, indicator warm-up {WARMUP_BARS}); "
                f"at most {max((self.split_end - self.first_start) // self.k, 0)} decisions of {self.k} bar(s) fit: "
                f"shorten the episodes (e.g. --set episode_length=...)")
        self.fixed_start = None if config.start == "random" else self.start_bar(config.start)
        self.steps = np.zeros(n_accounts, np.int64)
        self.actions_clipped = np.zeros(n_accounts, np.int64)
        self.prev_equity = np.full(n_accounts, float(config.initial_capital))

    def _bind_features(self) -> None:
        """The market's feature tables (shared through the market's cache) and the window view."""
        self.current_rows, self.window_rows = feature_rows(self.market)
        # (T - lookback + 1, lookback, A * W) view: row ``t - lookback + 1`` is the window ending at bar t
        self._windows = np.lib.stride_tricks.sliding_window_view(self.window_rows, self.config.lookback, axis=0
                                                                  ).transpose(0, 2, 1)

    def __getstate__(self) -> dict:
        """Pickle without the market's feature tables: the market pickles as its recipe when it
        has one, and the tables are rebuilt from it (see :mod:`arena_gym.market.registry`)."""
        state = dict(self.__dict__)
        for key in ("current_rows", "window_rows", "_windows"):
            del state[key]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_features()

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
        self.exchange.reset(starts, rows)
        self.steps[rows] = 0
        self.prev_equity[rows] = self.exchange.state.equity[rows]

    # ------------------------------------------------------------------ observation
    def observe(self) -> np.ndarray:
        """(N, obs_dim) float32, a fresh array: window features (oldest first), current market
        features, account features per asset, global features (see :mod:`.features`)."""
        s, ex, n, A = self.exchange.state, self.exchange, self.n, self.market.n_assets
        out = np.empty((n, self.obs_dim), np.float32)
        out[:, : self.n_window].reshape(n, *self._windows.shape[1:])[...] = self._windows[s.bar - (self.config.lookback - 1)]
        out[:, self.n_window: self.n_market] = np.take(self.current_rows, s.bar, axis=0)
        acct = out[:, self.n_market: self.n_market + 4 * A].reshape(n, A, 4)
        equity = s.equity
        scale = (1.0 / np.maximum(equity, 1e-9 * s.initial_capital))[:, None]
        acct[:, :, 0] = s.size * s.mark * scale
        acct[:, :, 1] = s.unrealized_pnl * scale
        margin = ex.margin_in_use() * scale
        acct[:, :, 2] = margin
        acct[:, :, 3] = np.log1p(np.maximum(s.bar[:, None] - s.opened_bar, 0) * (s.opened_bar >= 0)) / 5.0
        g = self.n_market + 4 * A
        out[:, g] = np.log(np.maximum(equity, 1e-9) / s.initial_capital)
        out[:, g + 1] = row_sum(margin)
        out[:, g + 2] = self.steps / self.config.episode_length if self.config.episode_length else 0.0
        account = out[:, self.n_market:]               # market features are clipped once, when computed
        np.clip(account, -CLIP, CLIP, out=account)
        return out

    # ------------------------------------------------------------------ actions
    def orders_from_actions(self, actions: np.ndarray) -> Orders:
        mode, cfg = self.config.action_mode, self.config
        a = np.asarray(actions)
        if mode == "target":
            if a.shape != (self.n, self.market.n_assets):
                raise ValueError(f"target actions must have shape {(self.n, self.market.n_assets)}, got {a.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"target actions must be finite, got {a}")
            self.actions_clipped = (np.abs(a) > 1.0) @ np.ones(a.shape[1], np.int64)
            return target_orders(a, self.exchange, cfg.leverage_cap, cfg.deadband)
        if mode == "discrete":
            if a.shape != (self.n, self.market.n_assets) or not np.isin(a, (0, 1, 2)).all():
                raise ValueError(f"discrete actions must be integers in {{0, 1, 2}} of shape "
                                 f"{(self.n, self.market.n_assets)}, got {a!r}")
            return target_orders(discrete_weights(a, self.market.n_assets), self.exchange, cfg.leverage_cap, cfg.deadband)
        raise ValueError(f"action_mode {mode!r} is decoded by the environment, not from arrays")

    # ------------------------------------------------------------------ step
    def advance(self, orders: Orders | None, restarted: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, StepReport]:
        """Run one decision for every account; returns (reward, terminated, truncated, report).

        ``restarted`` (bool (N,)) marks accounts reset to hold through this decision before their
        episode starts (the vector env's ``next_step`` autoreset): they get reward 0, are not
        done, and begin their episode at step 0 after it.
        """
        report = self.exchange.step(orders, self.k)
        s = self.exchange.state
        equity = s.equity
        reward = self.reward_fn(self.prev_equity, equity, s.initial_capital)
        self.prev_equity = equity
        self.steps += 1
        terminated = s.closed.copy()
        truncated = ~terminated & ((s.bar + self.k > self.split_end) | (
            self.steps >= self.config.episode_length if self.config.episode_length else False))
        if restarted is not None and restarted.any():
            reward[restarted] = 0.0
            terminated[restarted] = False
            truncated[restarted] = False
            self.steps[restarted] = 0
        return reward, terminated, truncated, report

    def info_arrays(self, report: StepReport | None, decision_fallbacks: np.ndarray | None = None,
                    invalid_output: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per-account info as (N,) arrays (keys: ``INFO_KEYS``); the decision counts come from
        whoever decoded the decisions (zero for numeric actions)."""
        s, n = self.exchange.state, self.n
        equity = s.equity
        zeros = np.zeros(n, np.int64)
        info = {
            "equity": equity,
            "collateral": s.collateral.copy(),
            "unrealized_pnl": row_sum(s.unrealized_pnl),
            "realized_pnl": s.realized_pnl.copy(),
            "fees_paid": s.fees_paid.copy(),
            "funding_paid": s.funding_paid.copy(),
            "gross_leverage": row_sum(np.abs(s.size) * s.mark) / np.maximum(equity, 1e-9),
            "fills": zeros if report is None else report.fills.copy(),
            "liquidated": np.zeros(n, bool) if report is None else report.liquidated > 0,
            "liquidations": s.n_liquidations.copy(),
            "stop_fills": zeros if report is None else report.stops.copy(),
            "take_profit_fills": zeros if report is None else report.targets.copy(),
            "margin_scale": np.ones(n) if report is None else report.margin_scale.copy(),
            "actions_clipped": zeros if report is None else self.actions_clipped,
            "decision_fallbacks": zeros if decision_fallbacks is None else decision_fallbacks,
            "invalid_output": np.zeros(n, bool) if invalid_output is None else invalid_output,
            "bar": s.bar.copy(),
            "step": self.steps.copy(),
        }
        counts = count_flags(np.zeros((n, 1), np.int64) if report is None else report.flags)
        info.update({f"orders_{k}": v for k, v in counts.items()})
        return info

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
