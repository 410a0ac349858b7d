"""A matched random-entry null: could a contestant's result come from the same trades placed at random?

From the closed trades of one episode (any ledger the runner records: an LLM, a recorded
contestant, PPO, a baseline) :func:`trade_plan` keeps, for every trade, its coin, its side, its
size as a share of equity at entry (``size * entry_price / equity before the entry``), its
leverage (the highest it was opened or resized at) and its holding time in decisions. A
*surrogate* places the same trades at random entry decisions, uniformly among the placements
where each trade fits inside the episode and, since an account holds one position per coin,
where the trades of one coin do not overlap: the coin's trades go in a random order with the
free decisions split uniformly among the gaps before, between and after them (a coin with one
trade: its entry is uniform over the decisions where it fits). No market information is used.

Surrogates are played through :class:`~arena_gym.env.PerpVectorEnv`, many accounts in one batch,
under the contestant's own rules, fees, funding, slippage and margin mode (the env config of the
evaluation), in the ``target_leverage`` action mode (:mod:`arena_gym.env.actions`): each trade
opens at its share of the surrogate's equity at that moment and at its own leverage (floored to a
whole number and capped at the coin's maximum, as the exchange does), so on isolated margin it
puts up ``notional / leverage`` of margin and is liquidated where a position of that leverage is;
several trades of one contestant keep their several leverages. A trade is held at constant size
(the account asks for exactly the exposure it holds, which the env does not trade), and closes
after its holding time; a trade that ended the episode open stays open to the end. Stop-loss and
take-profit levels are not carried: the holding time they produced is. The action's exposure cap
(:data:`SURROGATE_LEVERAGE_CAP`) is set where it never binds; what limits a random placement
that stacks more positions than the contestant's equity can margin is the exchange's margin
check, which scales the new positions' sizes down to what fits. A trade that starts at the
decision where the previous trade of its coin ends resizes that position instead of closing and
reopening it: when it is on the same side and smaller, the position keeps its margin per coin
(the exchange's rule for a reduced position), so it runs at the earlier trade's leverage.

The statistic tested is the contestant's own placement replayed by the same machinery (account
0 of the batch; its return is reported beside the recorded one, so a gap between the two shows
what the replay does not carry, e.g. positions resized while open), so the p-value isolates the
timing of the entries. With ``n`` surrogates, the p-value of a statistic ``x`` is
``(1 + #{surrogates >= x}) / (1 + n)``, the share at or above it with the +1 correction that
makes it valid for a finite ``n``. Returns are simple returns of account equity over the episode
(fractions); the Sharpe ratio is the annualized per-step ratio of :mod:`.metrics`. Over several
episodes of one contestant, the statistic is the mean over its episodes and surrogate ``i`` is the
mean of the ``i``-th surrogate of every episode. Draws are seeded per contestant name, window
and seed: the same inputs give the same numbers in any order.

What the null keeps is what the contestant chose, including holding times and sides that a rule
reacting to prices chose along the path. The p-values are exact for traders whose timing ignores
prices (their placements are then as random as the surrogates'); for a trend follower the
surrogates inherit its net exposure to the window's drift and, shuffled, merge neighbouring
same-side trades it paid to close and reopen, so its p-value leans high (conservative), while a
contrarian's can lean low.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from arena_gym.env.config import EnvConfig
from arena_gym.env.features import CLIP
from arena_gym.env.vector_env import PerpVectorEnv
from arena_gym.market.data import MarketData

from .metrics import MIN_RATIO_RETURNS, steps_per_year

#: Changes of a held position smaller than this fraction of equity are not traded by the
#: surrogate accounts (the float32 rounding of the exposure they ask for is about 1e-6).
SURROGATE_DEADBAND = 1e-4
#: Exposure cap of the surrogate accounts, in multiples of equity: far above any exposure an
#: account can hold (a position is liquidated before its notional reaches its margin over the
#: maintenance rate, at most a few hundred times equity), so the cap never binds and the margin
#: check is what limits a surrogate.
SURROGATE_LEVERAGE_CAP = 1000.0
#: Accounts stepped together at most (memory of the schedule: accounts x decisions x coins).
MAX_BATCH_ACCOUNTS = 4096
#: Percentiles of the surrogate distribution reported as its range.
RANGE_PERCENTILES = (5.0, 95.0)


@dataclass(frozen=True)
class TradePlan:
    """One episode's trades on its decision grid (see the module docstring).

    Arrays have one entry per trade: ``asset`` (column in ``symbols``), ``side`` (+1 long, -1
    short), ``share`` (notional at entry / equity before the entry, a fraction), ``entry``
    (decision index, 0-based), ``hold`` (decisions held, >= 1, ``entry + hold <= n_steps``) and
    ``leverage`` (the trade's leverage, x, >= 1).
    """

    symbols: tuple[str, ...]
    n_steps: int
    asset: np.ndarray
    side: np.ndarray
    share: np.ndarray
    entry: np.ndarray
    hold: np.ndarray
    leverage: np.ndarray

    @property
    def n_trades(self) -> int:
        return int(self.asset.size)

    def free_steps(self) -> np.ndarray:
        """(A,) decisions per coin not covered by the coin's trades: the room placements have."""
        covered = np.bincount(self.asset, weights=self.hold, minlength=len(self.symbols))
        return self.n_steps - covered.astype(np.int64)

    def movable(self) -> bool:
        """Whether any other placement exists: some coin with trades has free decisions, or
        several trades whose order can change."""
        count = np.bincount(self.asset, minlength=len(self.symbols))
        return bool(((self.free_steps() > 0) & (count > 0)).any() or (count > 1).any())


def trade_plan(trades: pd.DataFrame, equity: np.ndarray, start: int, market: MarketData,
               bars_per_decision: int) -> TradePlan:
    """The :class:`TradePlan` of one episode.

    Args:
        trades: the episode's trades frame (:data:`~.metrics.TRADE_COLUMNS`, with ``symbol``
            or an ``asset`` index into ``symbols``).
        equity: (T + 1,) equity curve from the reset (``equity[t]`` is the equity before
            decision ``t``).
        start: the episode's start bar (the bar observed before the first decision).
        market: the env's market (its coins, in its order, after the config's asset selection).
        bars_per_decision: bars per decision of the episode.

    The share of equity is valued at the close the decision saw (the mark the env sizes target
    orders at), so a replay opens the same number of coins. A trade without a finite leverage of
    at least 1 counts as 1x.
    """
    equity = np.asarray(equity, dtype=np.float64)
    symbols, timestamps = tuple(market.symbols), market.timestamps
    n_steps = equity.size - 1
    k = int(bars_per_decision)
    if n_steps < 1:
        raise ValueError(f"equity must hold the initial value and at least one step, got {equity.size} points")
    empty = np.zeros(0, np.int64)
    if trades is None or len(trades) == 0:
        return TradePlan(symbols, n_steps, empty, empty, np.zeros(0), empty, empty, np.ones(0))
    if "symbol" in trades.columns:
        unknown = sorted(set(trades["symbol"]) - set(symbols))
        if unknown:
            raise ValueError(f"trades in {unknown}, which the env does not trade ({list(symbols)})")
        asset = trades["symbol"].map({s: i for i, s in enumerate(symbols)}).to_numpy(np.int64)
    else:
        asset = trades["asset"].to_numpy(np.int64)
    bar_of = lambda column: np.searchsorted(timestamps, pd.to_datetime(trades[column]).dt.tz_localize(None)
                                            .to_numpy("datetime64[ns]"))
    entry_bar, exit_bar = bar_of("entry_time"), bar_of("exit_time")
    first_fill = start + 1
    entry = (entry_bar - first_fill) // k
    # An order closes at a decision bar; a stop, target or liquidation inside a decision's bars
    # ends the trade at the next decision; a trade still open runs to the end of the episode.
    after = exit_bar - first_fill
    exit_step = np.where(after % k == 0, after // k, after // k + 1)
    exit_step = np.where(trades["exit_reason"].to_numpy() == "end", n_steps, np.minimum(exit_step, n_steps))
    if (entry < 0).any() or (entry >= n_steps).any():
        raise ValueError(f"trades entered outside the episode of {n_steps} decisions from bar {start}")
    hold = np.minimum(np.maximum(exit_step - entry, 1), n_steps - entry)
    # a trade ends no later than the next trade of its coin begins (one position per coin)
    order = np.lexsort((entry, asset))
    same_coin = asset[order][1:] == asset[order][:-1]
    room = np.where(same_coin, entry[order][1:] - entry[order][:-1], np.iinfo(np.int64).max)
    hold[order[:-1]] = np.maximum(np.minimum(hold[order[:-1]], room), 1)
    before = equity[entry]
    notional = trades["size"].to_numpy(np.float64) * market.close[entry_bar - 1, asset]
    keep = before > 0
    share = np.divide(notional, before, out=np.zeros_like(notional), where=keep)
    leverage = trades["leverage"].to_numpy(np.float64)
    leverage = np.where(np.isfinite(leverage), np.maximum(leverage, 1.0), 1.0)
    plan = TradePlan(symbols, n_steps, asset[keep], trades["side"].to_numpy(np.int64)[keep], share[keep],
                     entry[keep].astype(np.int64), hold[keep].astype(np.int64), leverage[keep])
    if (plan.free_steps() < 0).any():
        raise ValueError("the trades of one coin overlap in time; an account holds one position per coin")
    return plan


def draw_entries(plan: TradePlan, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, J) random entry decisions of the plan's trades (the module docstring's placements)."""
    entries = np.zeros((n, plan.n_trades), np.int64)
    free = plan.free_steps()
    for a in np.unique(plan.asset):
        idx = np.flatnonzero(plan.asset == a)
        m, slack = idx.size, int(free[a])
        order = np.argsort(rng.random((n, m)), axis=1)                      # the coin's trades in random order
        slots = np.sort(np.argsort(rng.random((n, slack + m)), axis=1)[:, :m], axis=1)  # m of slack + m slots
        holds = plan.hold[idx][order]
        before = np.cumsum(holds, axis=1) - holds                           # decisions of the earlier trades
        start = slots - np.arange(m) + before
        entries[np.arange(n)[:, None], idx[order]] = start
    return entries


def surrogate_config(config: EnvConfig, start: int, n_steps: int) -> EnvConfig:
    """The evaluation's config for surrogate accounts: its rules, fees, funding, slippage and
    margin, the ``target_leverage`` mode with the exposure cap :data:`SURROGATE_LEVERAGE_CAP`, a
    fixed start."""
    return replace(config, action_mode="target_leverage", observation_mode="numeric",
                   leverage_cap=SURROGATE_LEVERAGE_CAP, deadband=SURROGATE_DEADBAND, start=int(start),
                   episode_length=int(n_steps), split=None, ledger="off", house_rules=False, reward="return")


def play_placements(market: MarketData, config: EnvConfig, start: int, plans: Sequence[TradePlan],
                    entries: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Equity curves ``(len(entries[j]), T + 1)`` of each plan's placements, played in batches.

    Every plan must share one episode length (they share the batch's config); every account is
    its own, so a plan's curves do not depend on the plans it is played beside.
    """
    if not plans:
        return []
    n_steps = plans[0].n_steps
    if any(p.n_steps != n_steps for p in plans):
        raise ValueError("plans played in one batch need one episode length")
    out: list[list[np.ndarray]] = [[] for _ in plans]
    jobs = [(j, lo, min(lo + MAX_BATCH_ACCOUNTS, len(e))) for j, e in enumerate(entries)
            for lo in range(0, len(e), MAX_BATCH_ACCOUNTS)]
    batch: list[tuple[int, int, int]] = []
    size = 0
    for job in [*jobs, None]:
        if job is not None and size + job[2] - job[1] <= MAX_BATCH_ACCOUNTS:
            batch.append(job)
            size += job[2] - job[1]
            continue
        if batch:
            curves = _play_batch(market, config, start, [(plans[j], entries[j][lo:hi]) for j, lo, hi in batch])
            offset = 0
            for j, lo, hi in batch:
                out[j].append(curves[offset:offset + hi - lo])
                offset += hi - lo
        batch, size = ([job], job[2] - job[1]) if job is not None else ([], 0)
    return [np.concatenate(parts) for parts in out]


def _play_batch(market: MarketData, config: EnvConfig, start: int,
                groups: Sequence[tuple[TradePlan, np.ndarray]]) -> np.ndarray:
    plan0 = groups[0][0]
    n_steps = plan0.n_steps
    n = sum(len(e) for _, e in groups)
    env = PerpVectorEnv(n, market, surrogate_config(config, start, n_steps))
    symbols = env.market.symbols
    if tuple(symbols) != plan0.symbols:
        raise ValueError(f"the plan trades {plan0.symbols}, the env {symbols}")
    n_assets = len(symbols)
    cap = SURROGATE_LEVERAGE_CAP
    # schedule: a weight at each entry, NaN while held (ask for the exposure held), 0 when flat;
    # the trade's leverage at each entry (0 elsewhere: a coin's orders keep the leverage of its
    # last entry)
    schedule = np.zeros((n_steps + 1, n, n_assets))
    leverage = np.zeros((n_steps + 1, n, n_assets), np.float32)
    holding = np.zeros((n_steps + 2, n, n_assets), np.int32)
    offset = 0
    for plan, entries in groups:
        rows = offset + np.arange(len(entries))[:, None]
        assets = np.broadcast_to(plan.asset, entries.shape)
        at = (entries, np.broadcast_to(rows, entries.shape), assets)
        np.add.at(holding, (entries + 1, rows, assets), 1)
        np.add.at(holding, (entries + plan.hold, rows, assets), -1)
        schedule[at] = np.broadcast_to(plan.side * plan.share / cap, entries.shape)
        leverage[at] = np.broadcast_to(plan.leverage, entries.shape)
        offset += len(entries)
    held = np.cumsum(holding, axis=0, dtype=np.int32)[: n_steps + 1] > 0
    schedule[held] = np.nan
    names = env.observation_names
    exposure_at = np.array([names.index(f"{s}.exposure") for s in symbols])
    obs, info = env.reset(seed=0)
    equity = np.empty((n, n_steps + 1))
    equity[:, 0] = info["equity"]
    action = np.ones((n, 2, n_assets))
    for t in range(n_steps):
        np.copyto(action[:, 1], leverage[t], where=leverage[t] > 0)
        weights = schedule[t]
        hold = np.isnan(weights)
        if hold.any():
            exposure = _exposure(obs[:, exposure_at], info["gross_leverage"])
            weights = np.where(hold, exposure / cap, weights)
        action[:, 0] = weights
        obs, _, _, _, info = env.step(action)
        equity[:, t + 1] = info["equity"]
    return equity


def _exposure(observed: np.ndarray, gross: np.ndarray) -> np.ndarray:
    """Signed notional / equity per coin from the observation, whose features are clipped at
    +-CLIP: a clipped coin gets what the exact gross leverage leaves (shared if several are)."""
    observed = observed.astype(np.float64)
    clipped = np.abs(observed) >= CLIP * (1.0 - 1e-6)
    if not clipped.any():
        return observed
    rest = gross - np.where(clipped, 0.0, np.abs(observed)).sum(axis=1)
    n_clipped = np.maximum(clipped.sum(axis=1), 1)
    fill = np.maximum(rest / n_clipped, CLIP)[:, None] * np.sign(observed)
    return np.where(clipped, fill, observed)


# ---------------------------------------------------------------------- statistics
def curve_statistics(equity: np.ndarray, bar_seconds_per_step: float) -> tuple[np.ndarray, np.ndarray]:
    """(total return, annualized Sharpe) of each row of ``equity`` (n, T + 1): the definitions of
    :mod:`.metrics` (returns 0 after ruin; Sharpe 0 for a flat curve, +-inf for a constant
    non-zero return; NaN with fewer than :data:`~.metrics.MIN_RATIO_RETURNS` returns)."""
    equity = np.asarray(equity, dtype=np.float64)
    prev, cur = equity[:, :-1], equity[:, 1:]
    r = np.divide(cur, prev, out=np.ones_like(cur), where=prev > 0) - 1.0
    total = equity[:, -1] / equity[:, 0] - 1.0
    n = r.shape[1]
    if n < MIN_RATIO_RETURNS:
        return total, np.full(len(equity), np.nan)
    mean, std = r.mean(axis=1), r.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(std > 0, mean / std, np.where(mean == 0, 0.0, np.copysign(np.inf, mean)))
    return total, ratio * np.sqrt(steps_per_year(bar_seconds_per_step))


def upper_p_value(observed: float, surrogates: np.ndarray) -> float:
    """``(1 + #{surrogates >= observed}) / (1 + n)``; NaN when ``observed`` is NaN."""
    surrogates = np.asarray(surrogates, dtype=np.float64)
    if np.isnan(observed) or surrogates.size == 0:
        return float("nan")
    return float((1 + np.count_nonzero(surrogates >= observed)) / (1 + surrogates.size))


@dataclass
class NullResult:
    """The random-entry null of one contestant over its episodes (module docstring).

    Returns are fractions per episode (mean over episodes), Sharpe ratios annualized;
    ``leverage`` is the highest leverage of its trades (x). Every number is NaN and ``reason``
    says why when the test could not be made (e.g. no trades).
    """

    policy: str
    n_episodes: int
    n_trades: int
    n_surrogates: int
    leverage: float
    recorded_return: float
    replayed_return: float
    replayed_sharpe: float
    p_return: float
    p_sharpe: float
    return_median: float
    return_low: float
    return_high: float
    sharpe_median: float
    sharpe_low: float
    sharpe_high: float
    seconds: float
    reason: str | None = None
    surrogate_returns: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    surrogate_sharpes: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def row(self) -> dict:
        """The scalar fields, for a table."""
        return {k: v for k, v in self.__dict__.items() if not isinstance(v, np.ndarray)}


@dataclass(frozen=True)
class Episode:
    """What the runner recorded of one episode: its ``start`` bar, its (T + 1,) ``equity`` curve
    from the reset, its ``trades`` frame, and the ``window`` and ``seed`` it was played with."""

    start: int
    equity: np.ndarray
    trades: pd.DataFrame
    window: int = 0
    seed: int = 0


def _rng(seed: int, name: str, episode: Episode) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode()), int(episode.window),
                                                         int(episode.seed), int(episode.start)]))


def null_tests(contestants: Mapping[str, Sequence[Episode]], market: MarketData, config: EnvConfig, *,
               n_surrogates: int = 1000, seed: int = 0) -> dict[str, NullResult]:
    """:class:`NullResult` of every contestant (name -> its episodes), ``n_surrogates`` each.

    ``config`` is the evaluation's env config (the episodes' ``episode_length`` and
    ``bars_per_decision``). Episodes sharing a start bar and a length are played in one batch.
    """
    if n_surrogates < 1:
        raise ValueError(f"n_surrogates must be >= 1, got {n_surrogates}")
    probe = PerpVectorEnv(1, market, replace(config, action_mode="target", observation_mode="numeric", split=None,
                                             start="random", ledger="off"))
    step_seconds = market.bar_seconds * config.bars_per_decision
    plans: dict[tuple[str, int], tuple[TradePlan, np.ndarray]] = {}
    t0 = time.perf_counter()
    for name, episodes in contestants.items():
        for e, episode in enumerate(episodes):
            plan = trade_plan(episode.trades, episode.equity, episode.start, probe.market, config.bars_per_decision)
            if plan.n_trades and plan.movable():
                draws = draw_entries(plan, n_surrogates, _rng(seed, name, episode))
                plans[(name, e)] = (plan, np.vstack([plan.entry[None, :], draws]))
    groups: dict[tuple[int, int], list[tuple[str, int]]] = {}
    for (name, e), (plan, _) in plans.items():
        groups.setdefault((contestants[name][e].start, plan.n_steps), []).append((name, e))
    curves: dict[tuple[str, int], np.ndarray] = {}
    for (start, _), keys in groups.items():
        played = play_placements(market, config, start, [plans[k][0] for k in keys], [plans[k][1] for k in keys])
        curves.update(zip(keys, played))
    seconds = time.perf_counter() - t0
    n_played = max(len(curves), 1)
    out = {}
    for name, episodes in contestants.items():
        out[name] = _combine(name, episodes, plans, curves, n_surrogates, step_seconds,
                             seconds * sum((name, e) in curves for e in range(len(episodes))) / n_played)
    return out


def _combine(name: str, episodes: Sequence[Episode], plans: dict, curves: dict, n: int, step_seconds: float,
             seconds: float) -> NullResult:
    recorded = np.array([e.equity[-1] / e.equity[0] - 1.0 for e in episodes])
    n_trades = sum(0 if e.trades is None else len(e.trades) for e in episodes)
    leverage = max((plans[(name, i)][0].leverage.max() for i in range(len(episodes)) if (name, i) in plans),
                   default=np.nan)
    nan = float("nan")
    base = dict(policy=name, n_episodes=len(episodes), n_trades=n_trades, n_surrogates=n, leverage=leverage,
                recorded_return=float(recorded.mean()), seconds=seconds)
    if not any((name, i) in curves for i in range(len(episodes))):
        reason = ("no trades: there is nothing to place at random" if n_trades == 0 else
                  "one trade per coin held through the whole episode: there is no other placement to compare with")
        return NullResult(**base, replayed_return=nan, replayed_sharpe=nan, p_return=nan, p_sharpe=nan,
                          return_median=nan, return_low=nan, return_high=nan, sharpe_median=nan, sharpe_low=nan,
                          sharpe_high=nan, reason=reason)
    returns, sharpes = np.zeros(n + 1), np.zeros(n + 1)
    for i, episode in enumerate(episodes):
        if (name, i) in curves:
            total, sharpe = curve_statistics(curves[(name, i)], step_seconds)
        else:   # nothing to move: every surrogate is the episode itself
            total, sharpe = curve_statistics(np.asarray(episode.equity, dtype=np.float64)[None, :], step_seconds)
        returns += total
        sharpes += sharpe
    returns, sharpes = returns / len(episodes), sharpes / len(episodes)
    low, high = RANGE_PERCENTILES
    sharpe_ok = np.isfinite(sharpes[1:]).any()
    pct = lambda x, q: float(np.percentile(x[np.isfinite(x)], q)) if np.isfinite(x).any() else nan
    reason = None if sharpe_ok else f"Sharpe ratio n/a: fewer than {MIN_RATIO_RETURNS} returns per episode"
    return NullResult(**base, replayed_return=float(returns[0]), replayed_sharpe=float(sharpes[0]),
                      p_return=upper_p_value(returns[0], returns[1:]), p_sharpe=upper_p_value(sharpes[0], sharpes[1:]),
                      return_median=float(np.median(returns[1:])), return_low=float(np.percentile(returns[1:], low)),
                      return_high=float(np.percentile(returns[1:], high)), sharpe_median=pct(sharpes[1:], 50.0),
                      sharpe_low=pct(sharpes[1:], low), sharpe_high=pct(sharpes[1:], high), reason=reason,
                      surrogate_returns=returns[1:], surrogate_sharpes=sharpes[1:])
