"""Comparisons robust to data snooping, from ``arch``: Hansen's SPA, Romano-Wolf StepM, the Model
Confidence Set and stationary block-bootstrap intervals.

Inputs are per-step simple returns of every contestant over the same steps (a ``(steps,
contestants)`` frame; several episodes are stacked in the same order for every contestant).
``arch`` works with *losses*: here a loss is the negative return, so lower is better.

* :func:`benchmark_tests`: against one benchmark's returns (e.g. ``buy_and_hold`` or
  ``hold_cash``, whose returns are 0), Hansen's SPA p-values (``lower``, ``consistent``,
  ``upper``) for "no contestant beats the benchmark", and Romano-Wolf's StepM: the contestants
  better than the benchmark with the family-wise error rate held at ``size`` (the correction for
  comparing many).
* :func:`confidence_set`: the Model Confidence Set, the contestants that cannot be told apart
  from the best at ``size`` (Hansen, Lunde and Nason); contestants with identical returns are
  tested as one.
* :func:`bootstrap_intervals`: percentile intervals for the mean return per episode and the
  annualized Sharpe ratio of one series, from a stationary bootstrap.

All bootstraps are stationary (Politis-Romano), resample ``reps`` times and are seeded; the mean
block length is ``arch.bootstrap.optimal_block_length``'s stationary estimate (Politis-White),
rounded up, at least 1, and at most a quarter of the series; every result states it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd


#: Fewest returns the block bootstraps run on (Politis-White's block length needs about 8;
#: blocks of a handful of returns resample next to nothing).
MIN_BOOTSTRAP_RETURNS = 20


def block_length(x: np.ndarray | pd.DataFrame) -> int:
    """Mean block length for a stationary bootstrap of ``x`` (one series or the mean over the
    columns of a frame), rounded up, in ``[1, len(x) // 4]``."""
    from arch.bootstrap import optimal_block_length

    values = np.asarray(x, dtype=np.float64)
    values = values.reshape(len(values), -1)
    varied = values[:, values.std(axis=0) > 0]
    ceiling = max(1, len(values) // 4)
    if varied.size == 0 or len(values) < MIN_BOOTSTRAP_RETURNS:
        return 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        estimate = optimal_block_length(varied)["stationary"].to_numpy(dtype=np.float64)
    estimate = estimate[np.isfinite(estimate)]
    if estimate.size == 0:
        return 1
    return int(min(max(1, math.ceil(float(estimate.mean()))), ceiling))


@dataclass(frozen=True)
class BenchmarkTest:
    """SPA and StepM of every contestant against ``benchmark``.

    ``spa_pvalues``: ``lower`` / ``consistent`` / ``upper`` p-values of the null that no
    contestant beats the benchmark (``consistent`` is Hansen's recommended one).
    ``superior``: contestants StepM finds better than the benchmark at ``size`` (family-wise).
    ``excluded``: contestants left out, with the reason (e.g. the benchmark itself, or returns
    identical to it).
    """

    benchmark: str
    spa_pvalues: dict[str, float]
    superior: tuple[str, ...]
    excluded: dict[str, str]
    size: float
    block_length: int
    reps: int


def benchmark_tests(returns: pd.DataFrame, benchmark: str, *, size: float = 0.05, reps: int = 1000,
                    seed: int = 0) -> BenchmarkTest:
    """SPA and StepM of the columns of ``returns`` against its column ``benchmark``."""
    from arch.bootstrap import SPA, StepM

    if benchmark not in returns.columns:
        raise ValueError(f"benchmark {benchmark!r} is not among the series {list(returns.columns)}")
    bench_loss = -returns[benchmark].to_numpy(dtype=np.float64)
    excluded = {benchmark: "the benchmark itself"}
    models = {}
    for name in returns.columns:
        if name == benchmark:
            continue
        loss = -returns[name].to_numpy(dtype=np.float64)
        if np.ptp(loss - bench_loss) == 0:
            excluded[name] = "returns differ from the benchmark's by a constant: nothing to test"
            continue
        models[name] = loss
    if not models:
        nan = float("nan")
        return BenchmarkTest(benchmark, {"lower": nan, "consistent": nan, "upper": nan}, (), excluded, size, 1, reps)
    losses = pd.DataFrame(models, index=returns.index)
    block = block_length(losses.to_numpy() - bench_loss[:, None])
    spa = SPA(bench_loss, losses, block_size=block, reps=reps, bootstrap="stationary", seed=seed)
    spa.compute()
    stepm = StepM(bench_loss, losses, size=size, block_size=block, reps=reps, bootstrap="stationary", seed=seed)
    stepm.compute()
    superior = tuple(str(name) for name in stepm.superior_models)
    return BenchmarkTest(benchmark, {k: float(v) for k, v in spa.pvalues.items()}, superior, excluded, size, block,
                         reps)


@dataclass(frozen=True)
class ConfidenceSet:
    """The Model Confidence Set at ``size``: ``included`` contestants, and each one's MCS
    p-value (included where it exceeds ``size``)."""

    included: tuple[str, ...]
    pvalues: dict[str, float]
    size: float
    block_length: int
    reps: int


def confidence_set(returns: pd.DataFrame, *, size: float = 0.05, reps: int = 1000, seed: int = 0) -> ConfidenceSet:
    """The Model Confidence Set of the columns of ``returns`` (losses = negative returns), with
    the range statistic (``method="R"``)."""
    from arch.bootstrap import MCS

    losses = -returns.astype(np.float64)
    # contestants with identical series (e.g. two that never traded) are one model to the test
    first: dict[bytes, str] = {}
    twin = {str(c): first.setdefault(losses[c].to_numpy().tobytes(), str(c)) for c in losses.columns}
    distinct = losses[list(dict.fromkeys(twin.values()))]
    if distinct.shape[1] < 2:
        names = tuple(twin)
        return ConfidenceSet(names, dict.fromkeys(names, 1.0), size, 1, reps)
    block = block_length(distinct.to_numpy() - distinct.to_numpy().mean(axis=1, keepdims=True))
    mcs = MCS(distinct, size=size, reps=reps, block_size=block, method="R", bootstrap="stationary", seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mcs.compute()
    pvalues = {str(k): float(v) for k, v in mcs.pvalues["Pvalue"].items()}
    included = {str(m) for m in mcs.included}
    return ConfidenceSet(tuple(n for n in twin if twin[n] in included), {n: pvalues[twin[n]] for n in twin}, size,
                         block, reps)


@dataclass(frozen=True)
class Intervals:
    """Bootstrap percentile intervals (``level``, e.g. 0.95) of the mean return per episode
    (fraction) and the annualized Sharpe ratio; NaN with ``note`` when they cannot be formed."""

    return_low: float
    return_high: float
    sharpe_low: float
    sharpe_high: float
    level: float
    block_length: int
    reps: int
    note: str = ""


def bootstrap_intervals(returns: np.ndarray, steps_per_episode: int, steps_per_year: float, *, reps: int = 1000,
                        level: float = 0.95, seed: int = 0) -> Intervals:
    """Stationary-bootstrap intervals of one per-step return series.

    The return statistic is the compound return per ``steps_per_episode`` steps,
    ``prod(1 + r) ** (steps_per_episode / n) - 1`` (for one episode: its total return); the Sharpe
    ratio is ``mean / std (ddof=1) * sqrt(steps_per_year)``, as in :mod:`.metrics`. The resampled
    positions come from ``arch``'s :class:`~arch.bootstrap.StationaryBootstrap`; the interval is
    the percentile one (as its ``conf_int(method="percentile")``), computed on all replications
    at once.
    """
    from arch.bootstrap import StationaryBootstrap

    r = np.asarray(returns, dtype=np.float64)
    nan = float("nan")
    if r.size < MIN_BOOTSTRAP_RETURNS:
        return Intervals(nan, nan, nan, nan, level, 1, reps,
                         f"fewer than {MIN_BOOTSTRAP_RETURNS} returns ({r.size}): too few to resample in blocks")
    if np.ptp(r) == 0:
        return Intervals(nan, nan, nan, nan, level, 1, reps, "constant returns: nothing to resample")
    if (r <= -1).any():
        return Intervals(nan, nan, nan, nan, level, 1, reps, "the account was ruined: compound returns undefined")
    block = block_length(r)
    boot = StationaryBootstrap(block, r, seed=seed)
    index = np.stack([boot.update_indices() for _ in range(reps)])          # (reps, n) resampled positions
    x = r[index]
    growth = np.expm1(np.log1p(x).sum(axis=1) * steps_per_episode / r.size)
    mean, std = x.mean(axis=1), x.std(axis=1, ddof=1)
    sharpe = np.divide(mean, std, out=np.zeros_like(mean), where=std > 0) * math.sqrt(steps_per_year)
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    (r_low, r_high), (s_low, s_high) = np.percentile(growth, q), np.percentile(sharpe, q)
    return Intervals(float(r_low), float(r_high), float(s_low), float(s_high), level, block, reps)
