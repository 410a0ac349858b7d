"""Per-episode performance metrics and their aggregation with bootstrap confidence intervals.

Everything here is a pure function of arrays and frames; no environment is needed.

Conventions
-----------
* **Returns** are simple per-step returns of account equity, ``r_t = e_t / e_{t-1} - 1``. After
  the account is ruined (equity 0) further returns are 0: there is nothing left to gain or lose.
* **Annualization** uses the bar length and a 365-day year (crypto trades every day):
  ``steps_per_year = 365 * 86400 / bar_seconds_per_step`` (8760 for 1h bars, 2190 for 4h bars).
* **Short windows.** Two statistics are only reported where they mean something:

  - *annualized* return (and Calmar, which divides by it) needs an episode spanning at least
    :data:`MIN_ANNUALIZE_DAYS` (365) days; a shorter return compounded to a year is a
    projection, not a measurement (a +0.64 % week would read as +39 % a year, and a lucky hour
    as thousands of percent), so it is ``NaN`` (the GIPS rule: returns for periods under a year
    are not annualized);
  - Sharpe and Sortino need at least :data:`MIN_RATIO_RETURNS` (30) returns; with fewer, a
    ratio of a mean to a spread estimated from a handful of points is noise (four steps gave a
    Sharpe of -224), so they are ``NaN``.

  :func:`undefined_reasons` says, for a given episode, which statistics are ``NaN`` and why;
  the printed tables and the report repeat it.
* **Drawdowns** are losses, reported as positive fractions of the running peak (0.1 = a fall
  of 10 % from the peak), everywhere: per step and as ``max_drawdown``.
* **Win rates.** ``trade_win_rate`` is the share of closed *trades* that made money; the
  leaderboard's ``battle_win_rate`` (see :mod:`.ranking`) is the share of paired *episodes* a
  policy beat its opponent in. They are different quantities with different names.
* **Risk-free rate** is 0.
* **Money** is in the quote currency of the account (USD for USDC/USDT perpetuals).
* **Undefined values** follow two rules, everywhere:

  1. A statistic of an empty sample is ``NaN`` (win rate with no trades, volatility with fewer
     than two returns, invalid-output rate with no decisions).
  2. A ratio with a zero denominator is ``0`` when the numerator is 0 and ``+-inf`` otherwise
     (profit factor with winning but no losing trades is ``inf``; Sharpe of a flat equity
     curve is 0; Calmar without a drawdown and with a positive return is ``inf``).

Metric definitions (keys of :func:`episode_metrics`)
----------------------------------------------------
From the equity curve (always present):

=========================  =====================================================================
``n_steps``                number of steps (len(equity) - 1)
``total_return``           ``e_T / e_0 - 1`` (fraction)
``annualized_return``      ``(e_T / e_0) ** (steps_per_year / n_steps) - 1`` (fraction per year);
                           NaN for episodes under :data:`MIN_ANNUALIZE_DAYS` days
``annualized_volatility``  ``std(r, ddof=1) * sqrt(steps_per_year)``; NaN with < 2 returns
``sharpe``                 ``mean(r) / std(r, ddof=1) * sqrt(steps_per_year)`` (annualized);
                           NaN with fewer than :data:`MIN_RATIO_RETURNS` returns
``sortino``                ``mean(r) / downside_deviation * sqrt(steps_per_year)``, where
                           ``downside_deviation = sqrt(mean(min(r, 0) ** 2))`` over all returns;
                           NaN with fewer than :data:`MIN_RATIO_RETURNS` returns
``max_drawdown``           ``max_t (1 - e_t / max_{s<=t} e_s)``, a positive fraction (0.1 = 10 %)
``calmar``                 ``annualized_return / max_drawdown``; NaN where the annualized
                           return is
=========================  =====================================================================

From the closed trades (when ``trades`` is given; see :data:`TRADE_COLUMNS`):

===========================  ===================================================================
``n_trades``                 closed trades
``trade_win_rate``           fraction of trades with ``net_pnl > 0`` (a zero-PnL trade is no win)
``profit_factor``            ``sum(net_pnl > 0) / -sum(net_pnl < 0)``; inf with no losing trade
``net_pnl``, ``gross_pnl``   sums over trades (quote currency)
``avg_trade_pnl``            mean ``net_pnl`` per trade
``largest_win``              largest positive ``net_pnl``, 0 when no trade won
``largest_loss``             most negative ``net_pnl`` (a negative number), 0 when no trade lost
``avg_holding_hours``        mean ``exit_time - entry_time`` in hours
``avg_holding_bars``         mean ``holding_bars``
``long_trade_share``         fraction of trades that were long
``avg_trade_leverage``       mean leverage the trader chose for its trades
``max_trade_leverage``       largest such leverage
``n_exits_<reason>``         trades closed by each reason of :data:`EXIT_REASONS`
``stop_distance``            mean ``|stop_loss - entry_price| / entry_price`` over trades with a
                             stop (only when the ``stop_loss`` column is present): exit-plan
                             tightness, a fraction of the entry price
``target_distance``          same for ``take_profit``
``stop_share``               fraction of trades entered with a stop-loss attached
``mean_confidence``          mean self-reported confidence (only with a ``confidence`` column)
``confidence_spearman``      Spearman rank correlation of confidence with the trade's net return
                             ``net_pnl / (entry_price * size)``; NaN with < 2 trades or constant
                             confidence
``confidence_brier``         ``mean((confidence - won) ** 2)``: confidence read as the stated
                             probability of winning; 0 is perfect, 0.25 is a coin flip at 0.5
===========================  ===================================================================

Costs (from ``totals`` when given, which also counts positions still open at the end; else summed
over ``trades``):

==========================  ====================================================================
``fees_paid``               trading fees (quote currency)
``funding_paid``            funding, positive when paid, negative when received
``fees_to_initial_equity``  ``fees_paid / e_0``
``n_liquidations``          positions closed by liquidation
==========================  ====================================================================

From the exposure (when ``exposure`` is given; build it with :func:`exposure_from_positions`):

=============================  =================================================================
``avg_gross_leverage``         mean over steps of ``sum |notional| / equity`` (flat steps count 0)
``max_gross_leverage``         its maximum
``avg_leverage_in_market``     mean over steps with an open position; NaN if never in the market
``time_in_market``             fraction of steps with an open position
``long_share``                 fraction of position-time that was long (one asset held for one
                               step is one unit); NaN if never in the market
``avg_concurrent_positions``   mean number of open positions per step
``max_concurrent_positions``   its maximum
=============================  =================================================================

For LLM policies (when ``llm`` is given; see :data:`LLM_KEYS`):

=========================  =====================================================================
``n_decisions``            model calls that had to return a decision
``invalid_output_rate``    ``n_invalid / n_decisions``: outputs that could not be used whole
``prompt_tokens``          total prompt tokens
``completion_tokens``      total completion tokens
``cost_usd``               total cost in USD
``mean_latency_s``         mean seconds per call
``max_latency_s``          slowest call in seconds
=========================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

SECONDS_PER_YEAR = 365 * 86400
#: Shortest episode, in days, whose return is annualized (and its Calmar ratio computed).
MIN_ANNUALIZE_DAYS = 365.0
#: Fewest returns from which Sharpe and Sortino ratios are computed.
MIN_RATIO_RETURNS = 30

#: Columns every trades frame must have (the exchange ledger's closed-trade shape):
#: ``account`` (int), ``asset`` (name or column index), ``side`` (+1 long, -1 short), ``entry_time`` and
#: ``exit_time`` (datetime64, UTC), ``entry_price`` and ``exit_price``, ``size`` (absolute coins),
#: ``gross_pnl`` = side * size * (exit_price - entry_price), ``fees`` (entry and exit fees),
#: ``funding`` (paid while open, positive = paid), ``net_pnl`` = gross_pnl - fees - funding,
#: ``holding_bars`` (int), ``leverage`` (the position's leverage), ``exit_reason`` (one of
#: :data:`EXIT_REASONS`). Optional columns: ``stop_loss`` and ``take_profit`` (trigger prices
#: attached at entry, NaN when none) and ``confidence`` (self-reported, 0..1).
TRADE_COLUMNS = (
    "account", "asset", "side", "entry_time", "exit_time", "entry_price", "exit_price", "size",
    "gross_pnl", "fees", "funding", "net_pnl", "holding_bars", "leverage", "exit_reason",
)

#: Why a trade was closed: the trader's order, a triggered stop-loss or take-profit, a
#: liquidation, or the end of the episode.
EXIT_REASONS = ("order", "stop_loss", "take_profit", "liquidation", "end")

#: Keys accepted in ``totals``: account-level cumulative figures at the end of the episode.
TOTALS_KEYS = ("fees_paid", "funding_paid", "n_liquidations")

#: Keys accepted in ``llm``: ``n_decisions`` and ``n_invalid`` (required counts), and the
#: optional totals ``prompt_tokens``, ``completion_tokens``, ``cost_usd`` and the per-call
#: latencies ``latency_s`` (sequence of seconds). A missing optional key gives NaN.
LLM_KEYS = ("n_decisions", "n_invalid", "prompt_tokens", "completion_tokens", "cost_usd", "latency_s")

#: Keys of the ``exposure`` mapping, one value per step: ``gross_leverage`` (sum of absolute
#: notional over equity), ``long_steps`` and ``short_steps`` (number of long and short positions
#: held at that step).
EXPOSURE_KEYS = ("gross_leverage", "long_steps", "short_steps")


def steps_per_year(bar_seconds_per_step: float) -> float:
    """Number of steps in a 365-day year for steps of ``bar_seconds_per_step`` seconds."""
    if not np.isfinite(bar_seconds_per_step) or bar_seconds_per_step <= 0:
        raise ValueError(f"bar_seconds_per_step must be positive and finite, got {bar_seconds_per_step}")
    return SECONDS_PER_YEAR / float(bar_seconds_per_step)


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; 0 for 0/0 and +-inf for x/0 (see the module conventions)."""
    if np.isnan(numerator) or np.isnan(denominator):
        return float("nan")
    if denominator == 0:
        return 0.0 if numerator == 0 else float(np.copysign(np.inf, numerator))
    return float(numerator / denominator)


def _check_equity(equity: np.ndarray) -> np.ndarray:
    equity = np.asarray(equity, dtype=np.float64)
    if equity.ndim != 1 or equity.size < 2:
        raise ValueError(f"equity must be a 1-D curve with at least 2 points (steps + 1), got shape {equity.shape}")
    if not np.isfinite(equity).all():
        raise ValueError(f"equity must be finite; first bad index {int(np.flatnonzero(~np.isfinite(equity))[0])}")
    if equity[0] <= 0:
        raise ValueError(f"initial equity must be positive, got {equity[0]}")
    if (equity < 0).any():
        raise ValueError(
            f"equity must not be negative (a ruined account has equity 0); "
            f"first negative index {int(np.flatnonzero(equity < 0)[0])}, value {equity[equity < 0][0]}"
        )
    return equity


def simple_returns(equity: np.ndarray) -> np.ndarray:
    """(steps,) simple returns ``e_t / e_{t-1} - 1`` of a (steps + 1,) equity curve; 0 after ruin."""
    equity = _check_equity(equity)
    prev, cur = equity[:-1], equity[1:]
    out = np.zeros_like(cur)
    alive = prev > 0
    out[alive] = cur[alive] / prev[alive] - 1.0
    return out


def drawdown(equity: np.ndarray) -> np.ndarray:
    """(steps + 1,) drawdown from the running peak, ``1 - e_t / max_{s<=t} e_s``, in [0, 1]."""
    equity = _check_equity(equity)
    return 1.0 - equity / np.maximum.accumulate(equity)


def max_drawdown(equity: np.ndarray) -> float:
    """Largest peak-to-trough loss as a positive fraction (0.1 for a fall from 110 to 99)."""
    return float(drawdown(equity).max())


def undefined_reasons(n_steps: int, bar_seconds_per_step: float) -> dict[str, str]:
    """Which statistics of an episode of ``n_steps`` steps are ``NaN`` by the short-window
    rules (see the module docstring), each with its reason in words."""
    from arena_gym.text_format import count_of

    days = n_steps * float(bar_seconds_per_step) / 86400.0
    reasons = {}
    if days < MIN_ANNUALIZE_DAYS:
        why = f"not annualized: episodes of {count_of(days, 'day')} are shorter than {MIN_ANNUALIZE_DAYS:g} days"
        reasons.update(annualized_return=why, calmar=why)
    if n_steps < MIN_RATIO_RETURNS:
        why = f"fewer than {MIN_RATIO_RETURNS} returns per episode ({n_steps})"
        reasons.update(sharpe=why, sortino=why)
    return reasons


def return_metrics(equity: np.ndarray, bar_seconds_per_step: float) -> dict[str, float]:
    """Return and risk metrics of one equity curve (see the module docstring for definitions)."""
    equity = _check_equity(equity)
    per_year = steps_per_year(bar_seconds_per_step)
    r = simple_returns(equity)
    n = r.size
    nan = float("nan")
    undefined = undefined_reasons(n, bar_seconds_per_step)
    growth = equity[-1] / equity[0]
    with np.errstate(over="ignore"):
        annualized = nan if "annualized_return" in undefined else float(growth ** (per_year / n) - 1.0)
    mean = float(r.mean())
    std = float(r.std(ddof=1)) if n >= 2 else nan
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    mdd = max_drawdown(equity)
    scale = np.sqrt(per_year)
    ratios_defined = "sharpe" not in undefined
    return {
        "n_steps": float(n),
        "total_return": float(growth - 1.0),
        "annualized_return": annualized,
        "annualized_volatility": float(std * scale),
        "sharpe": float(_ratio(mean, std) * scale) if ratios_defined else nan,
        "sortino": float(_ratio(mean, downside) * scale) if ratios_defined else nan,
        "max_drawdown": mdd,
        "calmar": _ratio(annualized, mdd),
    }


def check_trades(trades: pd.DataFrame) -> pd.DataFrame:
    """Validate a closed-trades frame (see :data:`TRADE_COLUMNS`) and return it unchanged."""
    missing = [c for c in TRADE_COLUMNS if c not in trades.columns]
    if missing:
        raise ValueError(f"trades frame is missing columns {missing}; it has {list(trades.columns)}")
    bad_side = ~trades["side"].isin((1, -1))
    if bad_side.any():
        raise ValueError(f"trades 'side' must be +1 (long) or -1 (short); found {sorted(set(trades['side'][bad_side]))}")
    bad_reason = ~trades["exit_reason"].isin(EXIT_REASONS)
    if bad_reason.any():
        raise ValueError(
            f"unknown trades 'exit_reason' {sorted(set(trades['exit_reason'][bad_reason]))}; known: {list(EXIT_REASONS)}"
        )
    for column in ("entry_time", "exit_time"):
        if not pd.api.types.is_datetime64_any_dtype(trades[column]):
            raise ValueError(f"trades {column!r} must be datetime64 (UTC), got dtype {trades[column].dtype}")
    if (trades["exit_time"] < trades["entry_time"]).any():
        raise ValueError("trades with exit_time before entry_time")
    return trades


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (ties get average ranks); NaN with < 2 points or a constant input."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"spearman needs two 1-D arrays of one length, got {x.shape} and {y.shape}")
    if x.size < 2:
        return float("nan")
    rx = pd.Series(x).rank().to_numpy() - (x.size + 1) / 2
    ry = pd.Series(y).rank().to_numpy() - (x.size + 1) / 2
    denom = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")


def calibration_table(confidence: np.ndarray, won: np.ndarray, bins: int = 5) -> pd.DataFrame:
    """Stated confidence against outcome, in ``bins`` equal-width confidence bins over [0, 1].

    Returns one row per non-empty bin with ``bin_low``, ``bin_high``, ``n``,
    ``mean_confidence`` and ``trade_win_rate``; a calibrated trader has ``trade_win_rate`` close to
    ``mean_confidence`` in every row. A confidence of exactly 1 falls in the top bin.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    won = np.asarray(won, dtype=bool)
    if confidence.shape != won.shape:
        raise ValueError(f"confidence and won differ in shape: {confidence.shape} vs {won.shape}")
    if ((confidence < 0) | (confidence > 1) | ~np.isfinite(confidence)).any():
        raise ValueError("confidence must lie in [0, 1]")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    rows = []
    for b in np.unique(idx):
        sel = idx == b
        rows.append({
            "bin_low": edges[b], "bin_high": edges[b + 1], "n": int(sel.sum()),
            "mean_confidence": float(confidence[sel].mean()), "trade_win_rate": float(won[sel].mean()),
        })
    return pd.DataFrame(rows, columns=["bin_low", "bin_high", "n", "mean_confidence", "trade_win_rate"])


def trade_metrics(trades: pd.DataFrame) -> dict[str, float]:
    """Metrics of a closed-trades frame (see the module docstring); NaN where no trade exists."""
    check_trades(trades)
    pnl = trades["net_pnl"].to_numpy(dtype=np.float64)
    n = pnl.size
    nan = float("nan")
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    hours = (trades["exit_time"] - trades["entry_time"]).dt.total_seconds().to_numpy(dtype=np.float64) / 3600.0
    leverage = trades["leverage"].to_numpy(dtype=np.float64)
    out = {
        "n_trades": float(n),
        "trade_win_rate": wins.size / n if n else nan,
        "profit_factor": _ratio(float(wins.sum()), float(-losses.sum())) if n else nan,
        "net_pnl": float(pnl.sum()),
        "gross_pnl": float(trades["gross_pnl"].sum()),
        "avg_trade_pnl": float(pnl.mean()) if n else nan,
        "largest_win": float(wins.max()) if wins.size else (0.0 if n else nan),
        "largest_loss": float(losses.min()) if losses.size else (0.0 if n else nan),
        "avg_holding_hours": float(hours.mean()) if n else nan,
        "avg_holding_bars": float(trades["holding_bars"].mean()) if n else nan,
        "long_trade_share": float((trades["side"] == 1).mean()) if n else nan,
        "avg_trade_leverage": float(leverage.mean()) if n else nan,
        "max_trade_leverage": float(leverage.max()) if n else nan,
    }
    for reason in EXIT_REASONS:
        out[f"n_exits_{reason}"] = float((trades["exit_reason"] == reason).sum())
    if "stop_loss" in trades.columns or "take_profit" in trades.columns:
        out.update(_exit_plan_metrics(trades))
    if "confidence" in trades.columns:
        out.update(_confidence_metrics(trades))
    return out


def _exit_plan_metrics(trades: pd.DataFrame) -> dict[str, float]:
    entry = trades["entry_price"].to_numpy(dtype=np.float64)
    out = {}
    for column, key in (("stop_loss", "stop_distance"), ("take_profit", "target_distance")):
        if column not in trades.columns:
            continue
        level = trades[column].to_numpy(dtype=np.float64)
        has = np.isfinite(level) & (level > 0)
        out[key] = float(np.mean(np.abs(level[has] - entry[has]) / entry[has])) if has.any() else float("nan")
        if column == "stop_loss":
            out["stop_share"] = float(has.mean()) if has.size else float("nan")
    return out


def _confidence_metrics(trades: pd.DataFrame) -> dict[str, float]:
    confidence = trades["confidence"].to_numpy(dtype=np.float64)
    if ((confidence < 0) | (confidence > 1)).any():
        raise ValueError("trades 'confidence' must lie in [0, 1]")
    known = np.isfinite(confidence)
    confidence = confidence[known]
    t = trades[known]
    if confidence.size == 0:
        return {"mean_confidence": float("nan"), "confidence_spearman": float("nan"), "confidence_brier": float("nan")}
    notional = (t["entry_price"] * t["size"]).to_numpy(dtype=np.float64)
    trade_return = t["net_pnl"].to_numpy(dtype=np.float64) / notional
    won = (t["net_pnl"] > 0).to_numpy(dtype=np.float64)
    return {
        "mean_confidence": float(confidence.mean()),
        "confidence_spearman": spearman(confidence, trade_return),
        "confidence_brier": float(np.mean((confidence - won) ** 2)),
    }


def exposure_from_positions(signed_notional: np.ndarray, equity: np.ndarray) -> dict[str, np.ndarray]:
    """Build the ``exposure`` input of :func:`episode_metrics` from per-step positions.

    ``signed_notional`` is (steps, A): signed position value per asset at each step (negative
    short, 0 flat); ``equity`` is (steps,) equity at the same instants. Steps with zero equity
    (a ruined account) count as gross leverage 0.
    """
    notional = np.asarray(signed_notional, dtype=np.float64)
    equity = np.asarray(equity, dtype=np.float64)
    if notional.ndim != 2 or equity.shape != notional.shape[:1]:
        raise ValueError(f"signed_notional must be (steps, A) and equity (steps,), got {notional.shape} and {equity.shape}")
    gross = np.abs(notional).sum(axis=1)
    leverage = np.divide(gross, equity, out=np.zeros_like(gross), where=equity > 0)
    return {
        "gross_leverage": leverage,
        "long_steps": (notional > 0).sum(axis=1),
        "short_steps": (notional < 0).sum(axis=1),
    }


def exposure_metrics(exposure: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Leverage, long share and concurrency metrics from per-step exposure (see :data:`EXPOSURE_KEYS`)."""
    unknown = set(exposure) - set(EXPOSURE_KEYS)
    missing = set(EXPOSURE_KEYS) - set(exposure)
    if unknown or missing:
        raise ValueError(f"exposure keys must be {list(EXPOSURE_KEYS)}; missing {sorted(missing)}, unknown {sorted(unknown)}")
    leverage = np.asarray(exposure["gross_leverage"], dtype=np.float64)
    longs = np.asarray(exposure["long_steps"], dtype=np.float64)
    shorts = np.asarray(exposure["short_steps"], dtype=np.float64)
    if not (leverage.ndim == 1 and leverage.shape == longs.shape == shorts.shape and leverage.size > 0):
        raise ValueError(
            f"exposure series must be non-empty 1-D arrays of one length, got {leverage.shape}, {longs.shape}, {shorts.shape}"
        )
    concurrent = longs + shorts
    in_market = concurrent > 0
    position_time = float(concurrent.sum())
    nan = float("nan")
    return {
        "avg_gross_leverage": float(leverage.mean()),
        "max_gross_leverage": float(leverage.max()),
        "avg_leverage_in_market": float(leverage[in_market].mean()) if in_market.any() else nan,
        "time_in_market": float(in_market.mean()),
        "long_share": float(longs.sum()) / position_time if position_time > 0 else nan,
        "avg_concurrent_positions": float(concurrent.mean()),
        "max_concurrent_positions": float(concurrent.max()),
    }


def llm_metrics(llm: Mapping[str, float | Sequence[float]]) -> dict[str, float]:
    """Invalid-output rate, token, cost and latency metrics of an LLM policy (see :data:`LLM_KEYS`)."""
    unknown = set(llm) - set(LLM_KEYS)
    if unknown:
        raise ValueError(f"unknown llm keys {sorted(unknown)}; known: {list(LLM_KEYS)}")
    for key in ("n_decisions", "n_invalid"):
        if key not in llm:
            raise ValueError(f"llm input needs '{key}'; it has {sorted(llm)}")
    n, invalid = int(llm["n_decisions"]), int(llm["n_invalid"])
    if n < 0 or not 0 <= invalid <= max(n, 0):
        raise ValueError(f"need 0 <= n_invalid <= n_decisions, got n_invalid={invalid}, n_decisions={n}")
    nan = float("nan")
    latency = np.asarray(llm.get("latency_s", []), dtype=np.float64)
    return {
        "n_decisions": float(n),
        "invalid_output_rate": invalid / n if n else nan,
        "prompt_tokens": float(llm.get("prompt_tokens", nan)),
        "completion_tokens": float(llm.get("completion_tokens", nan)),
        "cost_usd": float(llm.get("cost_usd", nan)),
        "mean_latency_s": float(latency.mean()) if latency.size else nan,
        "max_latency_s": float(latency.max()) if latency.size else nan,
    }


def episode_metrics(
    equity: np.ndarray,
    bar_seconds_per_step: float,
    trades: pd.DataFrame | None = None,
    exposure: Mapping[str, np.ndarray] | None = None,
    totals: Mapping[str, float] | None = None,
    llm: Mapping[str, float | Sequence[float]] | None = None,
) -> dict[str, float]:
    """All metrics of one episode of one account, as a flat ``{name: float}`` dict.

    ``equity`` is the (steps + 1,) equity curve from the reset to the last step.
    ``bar_seconds_per_step`` is the time one step spans (3600 for 1h bars).
    ``trades`` is the closed-trades frame of this account (:data:`TRADE_COLUMNS`).
    ``exposure`` holds per-step series (:data:`EXPOSURE_KEYS`, see :func:`exposure_from_positions`).
    ``totals`` holds account-level cumulative costs (:data:`TOTALS_KEYS`); they take precedence
    over sums over ``trades`` because they include positions still open at the end.
    ``llm`` holds the LLM call statistics (:data:`LLM_KEYS`).

    Each group of metrics appears when its input is given; the definitions are in the module
    docstring.
    """
    equity = _check_equity(equity)
    out = return_metrics(equity, bar_seconds_per_step)
    costs: dict[str, float] = {}
    if trades is not None:
        out.update(trade_metrics(trades))
        costs = {
            "fees_paid": float(trades["fees"].sum()),
            "funding_paid": float(trades["funding"].sum()),
            "n_liquidations": float((trades["exit_reason"] == "liquidation").sum()),
        }
    if totals is not None:
        unknown = set(totals) - set(TOTALS_KEYS)
        if unknown:
            raise ValueError(f"unknown totals keys {sorted(unknown)}; known: {list(TOTALS_KEYS)}")
        costs.update({k: float(v) for k, v in totals.items()})
    if "fees_paid" in costs:
        costs["fees_to_initial_equity"] = costs["fees_paid"] / float(equity[0])
    out.update(costs)
    if exposure is not None:
        out.update(exposure_metrics(exposure))
    if llm is not None:
        out.update(llm_metrics(llm))
    return out


def aggregate(
    metrics_rows: pd.DataFrame,
    by: str = "policy",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    cluster: str | None = "window",
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean of each metric per ``by`` group with percentile bootstrap confidence intervals.

    ``metrics_rows`` has one row per episode: the ``by`` column, optionally a ``cluster`` column
    (the market window), and one column per metric. ``metrics`` defaults to every numeric column
    except ``by``, ``cluster`` and ``seed``.

    The bootstrap resamples clusters (windows) with replacement, ``n_boot`` times, and takes the
    mean over all episodes of the drawn windows; without a ``cluster`` column every episode is
    its own cluster. Non-finite values (NaN: undefined; inf: e.g. profit factor without a losing
    trade) are left out of the mean; ``n_used`` counts the finite values, ``n_episodes`` all rows.
    The interval is the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` percentiles of the bootstrap means.
    Deterministic for a given ``seed``.

    Returns a long frame with columns ``by, metric, mean, ci_low, ci_high, n_episodes, n_used``;
    ``.pivot(index=by, columns="metric", values="mean")`` gives the wide metric table.
    """
    if by not in metrics_rows.columns:
        raise ValueError(f"no column {by!r} to group by; columns are {list(metrics_rows.columns)}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    use_cluster = cluster is not None and cluster in metrics_rows.columns
    if metrics is None:
        skip = {by, "seed"} | ({cluster} if use_cluster else set())
        metrics = [c for c in metrics_rows.columns if c not in skip and pd.api.types.is_numeric_dtype(metrics_rows[c])]
    else:
        missing = [m for m in metrics if m not in metrics_rows.columns]
        if missing:
            raise ValueError(f"metrics {missing} not in the frame; columns are {list(metrics_rows.columns)}")
    metrics = list(metrics)
    rng = np.random.default_rng(seed)
    q = [(1 - ci) / 2, (1 + ci) / 2]
    rows = []
    for group, frame in metrics_rows.groupby(by, sort=True):
        values = frame[metrics].to_numpy(dtype=np.float64)                # (E, M)
        finite = np.isfinite(values)
        clusters = frame[cluster].to_numpy() if use_cluster else np.arange(len(frame))
        _, member = np.unique(clusters, return_inverse=True)
        n_clusters = int(member.max()) + 1
        sums = np.zeros((n_clusters, len(metrics)))
        counts = np.zeros((n_clusters, len(metrics)))
        np.add.at(sums, member, np.where(finite, values, 0.0))
        np.add.at(counts, member, finite)
        draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
        weights = np.stack([np.bincount(d, minlength=n_clusters) for d in draws])  # (B, C)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (weights @ sums) / (weights @ counts)                   # (B, M), NaN when no finite value drawn
            mean = sums.sum(axis=0) / counts.sum(axis=0)
        for k, name in enumerate(metrics):
            b = boot[:, k][np.isfinite(boot[:, k])]
            low, high = np.quantile(b, q) if b.size else (np.nan, np.nan)
            rows.append({
                by: group, "metric": name, "mean": float(mean[k]), "ci_low": float(low), "ci_high": float(high),
                "n_episodes": len(frame), "n_used": int(finite[:, k].sum()),
            })
    return pd.DataFrame(rows, columns=[by, "metric", "mean", "ci_low", "ci_high", "n_episodes", "n_used"])
