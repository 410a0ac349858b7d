"""Probabilistic and deflated Sharpe ratios (Bailey and López de Prado, 2012 and 2014).

Everything here is per step: the Sharpe ratio ``SR = mean(r) / std(r, ddof=1)`` of simple
per-step returns ``r`` (not annualized), their skewness ``g3`` and kurtosis ``g4`` (population
moments; a normal distribution has ``g3 = 0``, ``g4 = 3``) and their number ``n``.

* **PSR** (probabilistic Sharpe ratio) against a benchmark ``SR*``: the probability that the
  true Sharpe ratio exceeds ``SR*`` given the sample,
  ``PSR = Phi((SR - SR*) * sqrt(n - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR**2))``; against 0
  it reads "how sure can we be that this made money per unit of risk at all".
* **DSR** (deflated Sharpe ratio): the PSR against the Sharpe ratio the best of ``N`` unskilled
  trials would show by luck, ``SR0 = sqrt(V) * ((1 - gamma) * Phi^-1(1 - 1/N) + gamma *
  Phi^-1(1 - 1/(N e)))``, ``V`` the variance of the ``N`` trials' Sharpe ratios and ``gamma``
  the Euler-Mascheroni constant. A table comparing ``N`` contestants deflates each by that
  ``N``: picking the best of twelve is a search. With one trial there is nothing to deflate
  (``DSR = PSR``).

Undefined cases give NaN with a reason (:func:`sharpe_inference`): fewer than 3 returns, or
constant returns (no spread: no ratio), or a variance term ``1 - g3 SR + (g4 - 1)/4 SR^2`` that
is not positive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

#: The Euler-Mascheroni constant of the expected maximum of ``N`` normal draws.
EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


@dataclass(frozen=True)
class SharpeMoments:
    """Per-step Sharpe ratio of a return series and the moments its inference needs."""

    sharpe: float
    n: int
    skew: float
    kurtosis: float


def sharpe_moments(returns: np.ndarray) -> SharpeMoments:
    """``SR = mean / std (ddof=1)``, skewness and (non-excess) kurtosis of ``returns``; NaN
    where undefined (fewer than 3 returns, or no spread)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or not np.isfinite(r).all():
        raise ValueError(f"returns must be a finite 1-D series, got shape {r.shape}")
    n = int(r.size)
    nan = float("nan")
    if n < 3:
        return SharpeMoments(nan, n, nan, nan)
    centred = r - r.mean()
    m2 = float(np.mean(centred**2))
    if m2 <= 0.0 or r.std(ddof=1) <= 1e-15 * max(1.0, float(np.abs(r).max())):
        return SharpeMoments(nan, n, nan, nan)
    skew = float(np.mean(centred**3) / m2**1.5)
    kurtosis = float(np.mean(centred**4) / m2**2)
    return SharpeMoments(float(r.mean() / r.std(ddof=1)), n, skew, kurtosis)


def probabilistic_sharpe_ratio(sharpe: float, n: int, skew: float, kurtosis: float, benchmark: float = 0.0) -> float:
    """PSR of a per-step Sharpe ratio against ``benchmark`` (module docstring); NaN if undefined."""
    if not (np.isfinite(sharpe) and np.isfinite(skew) and np.isfinite(kurtosis)) or n < 2:
        return float("nan")
    spread = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if spread <= 0:
        return float("nan")
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(n - 1) / math.sqrt(spread))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """``SR0``: the expected largest per-step Sharpe ratio of ``n_trials`` unskilled trials whose
    Sharpe ratios vary with ``sharpe_variance``; 0 for a single trial."""
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if n_trials == 1:
        return 0.0
    if not sharpe_variance >= 0:
        return float("nan")
    z = (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / n_trials) \
        + EULER_GAMMA * _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * z


def deflated_sharpe_ratio(sharpe: float, n: int, skew: float, kurtosis: float, n_trials: int,
                          sharpe_variance: float) -> float:
    """DSR: the PSR against :func:`expected_max_sharpe` of ``n_trials`` trials."""
    return probabilistic_sharpe_ratio(sharpe, n, skew, kurtosis, expected_max_sharpe(n_trials, sharpe_variance))


def sharpe_inference(returns: Mapping[str, np.ndarray], n_trials: int | None = None) -> pd.DataFrame:
    """PSR (against 0) and DSR of every series in ``returns`` (name -> per-step returns).

    ``n_trials`` is the number of strategies and configurations the comparison chose among
    (default: the number of series with a defined Sharpe ratio); ``V`` is the variance (ddof=1)
    of those series' Sharpe ratios. Columns: ``sharpe_per_step``, ``n_returns``, ``skew``,
    ``kurtosis``, ``psr``, ``dsr``, ``sr0_per_step`` (the deflation benchmark), ``n_trials`` and
    ``note`` (why a value is n/a).
    """
    moments = {name: sharpe_moments(r) for name, r in returns.items()}
    defined = [m.sharpe for m in moments.values() if np.isfinite(m.sharpe)]
    trials = len(defined) if n_trials is None else int(n_trials)
    variance = float(np.var(defined, ddof=1)) if len(defined) > 1 else 0.0
    sr0 = expected_max_sharpe(trials, variance) if trials >= 1 else float("nan")
    rows = []
    for name, m in moments.items():
        note = ""
        if m.n < 3:
            note = f"fewer than 3 returns ({m.n})"
        elif not np.isfinite(m.sharpe):
            note = "constant returns: no Sharpe ratio"
        psr = probabilistic_sharpe_ratio(m.sharpe, m.n, m.skew, m.kurtosis)
        dsr = probabilistic_sharpe_ratio(m.sharpe, m.n, m.skew, m.kurtosis, sr0) if trials >= 1 else float("nan")
        if not note and np.isnan(psr):
            note = "non-positive variance term 1 - g3 SR + (g4 - 1)/4 SR^2"
        rows.append({"policy": name, "sharpe_per_step": m.sharpe, "n_returns": m.n, "skew": m.skew,
                     "kurtosis": m.kurtosis, "psr": psr, "dsr": dsr, "sr0_per_step": sr0, "n_trials": trials,
                     "note": note})
    return pd.DataFrame(rows).set_index("policy")
