"""Exposure-aware comparison: how much of a contestant's return its exposure to the market explains.

Raw return compares leverage as much as skill: a contestant holding 5x the market earns five
times the market's move. Against the **equal-weight index** of the market's assets (rebalanced
to equal weights every step, no costs; its step return is the mean of the assets' close-to-close
returns over the step), each contestant gets, from its per-step equity returns over one episode:

==============================  =====================================================================
``avg_exposure``                mean gross exposure, ``sum |notional| / equity`` after each step (x)
``peak_exposure``               its maximum (x)
``beta``                        ``cov(r, r_index) / var(r_index)`` of the per-step returns (ddof 1)
``index_return``                the index's return over the episode, ``prod(1 + r_index) - 1``
``alpha``                       the return not explained by that beta:
                                ``total_return - beta x index_return`` (fraction)
``index_at_avg_exposure``       the return of holding the index long at the contestant's own
                                average exposure, rebalanced every step, before costs:
                                ``prod(1 + avg_exposure x r_index) - 1`` (fraction; a step
                                that would lose more than everything ends it at -100 %)
``excess_over_index_exposure``  ``total_return - index_at_avg_exposure``: did it beat the market
                                at its own leverage?
==============================  =====================================================================

Pure functions of arrays; :func:`index_step_returns` reads closes from a market's array.
"""

from __future__ import annotations

import numpy as np

from .metrics import simple_returns


def index_step_returns(close: np.ndarray, bars: np.ndarray) -> np.ndarray:
    """(steps,) returns of the equal-weight index between the closes of consecutive ``bars``.

    ``close`` is (n_bars, A); ``bars`` (steps + 1,) the bar closed before the first step and after
    each step (the runner's ``bar`` per step, preceded by the episode's start bar).
    """
    close = np.asarray(close, dtype=np.float64)
    bars = np.asarray(bars, dtype=np.int64)
    if close.ndim != 2 or bars.ndim != 1 or bars.size < 2:
        raise ValueError(f"close must be (n_bars, A) and bars (steps + 1,), got {close.shape} and {bars.shape}")
    return (close[bars[1:]] / close[bars[:-1]] - 1.0).mean(axis=1)


def exposure_comparison(equity: np.ndarray, gross_exposure: np.ndarray, index_returns: np.ndarray) -> dict[str, float]:
    """The module's figures for one episode: ``equity`` (steps + 1,) from the start, the gross
    exposure after each step (steps,) and the index's step returns (steps,)."""
    r = simple_returns(equity)
    index_returns = np.asarray(index_returns, dtype=np.float64)
    gross = np.asarray(gross_exposure, dtype=np.float64)
    if not (r.shape == index_returns.shape == gross.shape):
        raise ValueError(f"equity (steps + 1,), exposure and index returns (steps,) disagree: {np.shape(equity)}, "
                         f"{gross.shape}, {index_returns.shape}")
    var = float(np.var(index_returns, ddof=1)) if r.size > 1 else float("nan")
    beta = float(np.cov(r, index_returns, ddof=1)[0, 1] / var) if var > 0 else float("nan")
    total = float(equity[-1] / equity[0] - 1.0)
    index_total = float(np.prod(1.0 + index_returns) - 1.0)
    avg = float(gross.mean())
    at_own = float(np.prod(np.maximum(1.0 + avg * index_returns, 0.0)) - 1.0)
    return {"avg_exposure": avg, "peak_exposure": float(gross.max()), "beta": beta, "index_return": index_total,
            "alpha": total - beta * index_total, "index_at_avg_exposure": at_own,
            "excess_over_index_exposure": total - at_own}
