"""A seeded synthetic perpetual-futures market that needs no network.

:func:`synthetic_market` returns a :class:`~arena_gym.market.data.MarketData` of the contest's
six coins (or any coins given an :class:`AssetProfile`) whose bars show the stylised facts of
hourly crypto data: correlated returns, volatility clustering, fat tails, jumps, trending and
ranging episodes, intraday seasonality, volume that rises with activity, open interest, and
funding that leans with the trend around the venue's baseline.

Reproducibility: the same seed gives bit-identical arrays, and the first ``n`` bars do not
depend on how many bars are generated (``synthetic_market(2000, seed=s)`` starts with
``synthetic_market(1000, seed=s)``). Every random component draws from its own stream spawned
from the seed, so switching one component off (e.g. ``common_jump_rate=0``) leaves the others'
draws unchanged.

Model
-----
Prices are simulated on a step grid of one hour (of one bar, for bars shorter than an hour)
and aggregated into bars. Rates are quoted per hour and converted to the step length ``dt``
(hours), so hourly statistics do not depend on the bar size. For asset ``a`` with hourly
volatility ``s_a`` and market share ``rho_a``, the log-return of step ``t`` is ::

    r[t, a] = mu[t, a] - kappa[t] * d[t-1, a] + e[t, a]
    e[t, a] = s_a * sqrt(dt) * m[t] * (sqrt(rho_a * v_m[t]) * u_m[t] + sqrt((1 - rho_a) * v_i[t, a]) * u_i[t, a])

* **Correlation**: a market factor ``u_m`` shared by every asset plus idiosyncratic terms
  ``u_i``; ``rho_a`` is the share of the asset's variance explained by the market, so two
  assets correlate about ``sqrt(rho_a * rho_b)`` (0.56-0.76 for the defaults; the shared
  regimes add a little, giving hourly correlations of about 0.55-0.8, against 0.61-0.78 on
  Hyperliquid 1h candles). Correlations rise when the market factor is volatile, as in real
  sell-offs.
* **Volatility clustering**, two time scales. Fast: the market factor and every idiosyncratic
  term have their own GARCH(1,1) variance with unconditional mean 1,
  ``v[t] = (1 - p) + alpha * u[t-1]**2 * v[t-1] + (p - alpha) * v[t-1]``, per-step
  persistence ``p = garch_persistence ** dt`` and ``alpha`` scaled with ``1 - p`` so that the
  half-life of volatility shocks is the same at every step length. Slow: a market-wide
  activity level multiplies every variance by ``exp(2 w - 2 slow_vol_std**2)`` (mean 1), ``w``
  an AR(1) of standard deviation ``slow_vol_std`` and half-life ``slow_vol_halflife_hours``;
  it gives the long memory of real absolute returns.
* **Fat tails and jumps**: ``u = sqrt(1 - c) * z + J``, ``z`` Student-t with ``tail_df``
  degrees of freedom scaled to unit variance, ``J`` compound-Poisson jumps (``*_jump_rate``
  per hour, normal sizes of standard deviation ``jump_size`` hourly volatilities);
  ``c = rate * jump_size**2`` is the jumps' share of the variance, so the unconditional hourly
  volatility stays ``s_a``. Jumps feed the GARCH recursion, so a volatile spell follows them.
  Market jumps hit every asset at once.
* **Intraday seasonality**: ``m[t] = sqrt(1 + intraday_amplitude * cos(2 pi (hour - intraday_peak_hour) / 24))``
  at the UTC hour of the step's midpoint (``m**2`` averages 1 over a day).
* **Regimes**: a market-wide chain alternates *ranging* and *trending* episodes of
  exponentially distributed lengths (means ``mean_range_hours``, ``mean_trend_hours``); each
  trend goes up or down with equal probability. In a trend every asset drifts by
  ``mu = +/- q * trend_drift * s_a`` per hour, ``q`` uniform in [0.5, 1.5] per episode, so
  trend-following pays. While ranging, prices are pulled towards an exponential moving
  average of themselves (half-life ``anchor_halflife_hours``): ``d`` is the log distance from
  that average and ``kappa`` the hourly ``range_reversion`` (0 in trends), which makes
  short-horizon returns negatively autocorrelated, so mean-reversion pays.
* **Planted signal** (off by default, for tests of learnability and of statistical power): with
  ``signal_strength`` ``c > 0`` every asset drifts by ``c * s_a * x[t, a]`` per hour, ``x`` a
  unit-variance AR(1) per asset of half-life ``signal_halflife_hours`` drawn from its own
  stream. The drift persists, so past returns predict future ones: a known, tradable edge that
  trend followers can learn. At 0 nothing is drawn and the market is bit-identical to one
  without the option.
* **Bars**: the close is ``price_a * exp(cumsum(r))``; a bar opens at the previous close times
  ``exp(g)``, ``g ~ N(0, (open_gap * s_a)**2)`` (part of the close-to-close return); high and
  low are the extremes of a Brownian bridge from open to close with the step's diffusive
  volatility ``sigma[t]``, sampled exactly, so ``high >= max(open, close)`` and
  ``low <= min(open, close)``. Bars longer than an hour take the first open, the highest high,
  the lowest low, the last close and the summed volume of their hours.
* **Volume** (coins): the notional ``volume_usd * dt`` times
  ``(sigma[t] / (s_a sqrt(dt))) ** volume_vol_elasticity`` (volatility trades),
  ``exp(volume_surprise * (|e| / sigma - E|N(0,1)|))`` (large moves trade more), a slow
  log-normal AR(1) factor (``volume_noise``, ``volume_halflife_hours``) and i.i.d. log-normal
  jitter (``volume_jitter``), divided by the step's typical price ``(high + low + close) / 3``.
* **Open interest** (coins): ``open_interest_usd / price_a`` times ``exp(o[t])``, ``o`` an
  AR(1) of half-life ``oi_halflife_hours`` driven by the log volume anomaly (``oi_activity``)
  and noise (``oi_noise``); its notional moves with the price.
* **Funding** follows the exchanges' formula on a synthetic premium index ``P`` per 8 hours:
  ``F8 = P + clamp(r8 - P, -funding_clamp, funding_clamp)``, ``r8`` the venue's baseline per
  8 hours (Hyperliquid: 0.0000125 per hour = 0.0001 per 8 hours). The rate per settlement is
  ``F8 * H / 8`` for the venue's funding interval ``H`` hours, clipped to
  ``+/- funding_cap_per_hour * H``. As on the real venue, most hours settle exactly at the
  baseline and the rest lean with the premium. ``P = premium_bias + premium_trend * lean + n``
  where ``lean = tanh(z)`` for ``z`` the trailing ``trend_window_hours`` log-return in units of
  its volatility (times ``premium_downside`` when negative: shorts crowd less than longs) and
  ``n`` an AR(1) noise (``premium_noise``, ``premium_halflife_hours``). The settlement at the
  open of a step uses the premium averaged over the preceding ``H`` hours only (no
  look-ahead). Settlements fall on UTC hours divisible by ``H``; a bar holding several sums
  them (the :class:`MarketData` convention).

Calibration of the defaults: hourly volatility, correlations (market shares), kurtosis and
the autocorrelation of absolute returns, intraday seasonality, volume elasticities, the
funding distribution and the Sharpe ratios of a 12/48-hour EMA-crossover and a 24-hour
z-score reversion rule on Hyperliquid 1h candles and funding of Sep 2024 - Jul 2025; price
levels, hourly volume and open interest in USD from the Alpha Arena Season 1 prompts
(Hyperliquid, Oct 2025).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..venue import ExchangeRules, load_rules
from .data import MarketData

CONTEST_SYMBOLS = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")

_HOUR_NS = 3_600_000_000_000
_DAY_NS = 24 * _HOUR_NS


@dataclass(frozen=True)
class AssetProfile:
    """Per-asset scales of the synthetic market.

    Attributes:
        price: price at the first bar's open, quote currency.
        hourly_vol: long-run standard deviation of hourly log-returns (volatility clusters,
            so a one-year sample is typically within about 20 % of it).
        market_share: fraction of the return variance explained by the market factor, in [0, 1).
        volume_usd: typical traded notional per hour, quote currency.
        open_interest_usd: open interest at the start, quote currency.
    """

    price: float
    hourly_vol: float
    market_share: float
    volume_usd: float
    open_interest_usd: float

    def __post_init__(self) -> None:
        for name in ("price", "hourly_vol", "volume_usd", "open_interest_usd"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"AssetProfile.{name} must be positive and finite, got {value}")
        if not 0.0 <= self.market_share < 1.0:
            raise ValueError(f"AssetProfile.market_share must be in [0, 1), got {self.market_share}")


#: Profiles of the contest's coins. Prices, volume and open interest are the medians seen in the
#: Alpha Arena Season 1 prompts (Hyperliquid, Oct 2025); hourly volatility and market share are
#: fitted to Hyperliquid 1h candles of Sep 2024 - Jul 2025.
DEFAULT_PROFILES: Mapping[str, AssetProfile] = MappingProxyType({
    "BTC": AssetProfile(price=114_000.0, hourly_vol=0.0052, market_share=0.73, volume_usd=1.3e8, open_interest_usd=3.4e9),
    "ETH": AssetProfile(price=4_100.0, hourly_vol=0.0078, market_share=0.79, volume_usd=1.0e8, open_interest_usd=2.1e9),
    "SOL": AssetProfile(price=200.0, hourly_vol=0.0095, market_share=0.71, volume_usd=3.9e7, open_interest_usd=7.7e8),
    "BNB": AssetProfile(price=1_130.0, hourly_vol=0.0058, market_share=0.60, volume_usd=2.5e6, open_interest_usd=8.4e7),
    "XRP": AssetProfile(price=2.64, hourly_vol=0.0111, market_share=0.52, volume_usd=5.4e6, open_interest_usd=1.4e8),
    "DOGE": AssetProfile(price=0.20, hourly_vol=0.0115, market_share=0.73, volume_usd=4.0e6, open_interest_usd=1.2e8),
})


@dataclass(frozen=True)
class SyntheticParams:
    """Parameters of the synthetic market (see the module docstring for the equations).

    Rates and half-lives are per hour; jump sizes are in units of the asset's hourly volatility;
    premium and funding-clamp values are fractions per 8 hours, as exchanges quote them.

    Attributes:
        profiles: per-asset scales by symbol; a symbol without a profile is an error.
        tail_df: degrees of freedom of the Student-t innovations (> 2; lower is fatter).
        garch_alpha: GARCH(1,1) reaction of variance to the last squared innovation.
        garch_persistence: GARCH ``alpha + beta`` per hour (< 1); 0.96 is a half-life of ~17 h.
        slow_vol_std: standard deviation of the slow market-wide log volatility.
        slow_vol_halflife_hours: half-life of the slow market-wide log volatility.
        common_jump_rate: market-wide jumps per hour.
        idio_jump_rate: per-asset jumps per hour.
        jump_size: standard deviation of a jump in hourly-volatility units.
        mean_range_hours: mean length of a ranging episode.
        mean_trend_hours: mean length of a trending episode.
        trend_drift: drift per hour during a trend, in units of the asset's hourly volatility.
        range_reversion: fraction of the distance to the moving anchor closed per hour while ranging.
        anchor_halflife_hours: half-life of the exponential moving average that prices revert to.
        intraday_amplitude: relative swing of variance over the UTC day, in [0, 1).
        intraday_peak_hour: UTC hour of the highest intraday variance.
        open_gap: standard deviation of the open-to-previous-close gap, in hourly-volatility units.
        volume_vol_elasticity: exponent of volume on the ratio of current to average volatility.
        volume_surprise: log-volume increase per unit of absolute standardized return.
        volume_noise: standard deviation of the slow log-volume factor.
        volume_halflife_hours: half-life of the slow log-volume factor.
        volume_jitter: standard deviation of the per-step log-volume noise.
        premium_bias: mean premium per 8 hours (longs usually crowd, so it is positive).
        premium_trend: premium per 8 hours added by a strong trailing rally (times tanh of its z-score).
        premium_downside: response to a falling market relative to a rally, in [0, 1].
        premium_noise: standard deviation of the premium noise per 8 hours.
        premium_halflife_hours: half-life of the premium noise.
        trend_window_hours: window of the trailing return the premium leans on.
        funding_clamp: half-width of the interest-rate clamp per 8 hours (0.05 % on both venues).
        funding_cap_per_hour: cap on the absolute funding rate per hour (Hyperliquid: 4 %).
        oi_activity: response of log open interest to the log volume anomaly.
        oi_noise: standard deviation of log open interest noise.
        oi_halflife_hours: half-life of open-interest deviations.
        open_interest: whether to include an open-interest series.
        signal_strength: drift per hour of the planted signal, in hourly-volatility units per unit
            of signal (0: no planted signal; see the module docstring).
        signal_halflife_hours: half-life of the planted signal.
    """

    profiles: Mapping[str, AssetProfile] = field(default_factory=lambda: DEFAULT_PROFILES)
    tail_df: float = 5.0
    garch_alpha: float = 0.1
    garch_persistence: float = 0.96
    slow_vol_std: float = 0.4
    slow_vol_halflife_hours: float = 240.0
    common_jump_rate: float = 1.0 / 400.0
    idio_jump_rate: float = 1.0 / 400.0
    jump_size: float = 5.0
    mean_range_hours: float = 72.0
    mean_trend_hours: float = 36.0
    trend_drift: float = 0.08
    range_reversion: float = 0.02
    anchor_halflife_hours: float = 4.0
    intraday_amplitude: float = 0.3
    intraday_peak_hour: float = 17.5
    open_gap: float = 0.02
    volume_vol_elasticity: float = 1.2
    volume_surprise: float = 0.3
    volume_noise: float = 0.7
    volume_halflife_hours: float = 720.0
    volume_jitter: float = 0.45
    premium_bias: float = 0.00015
    premium_trend: float = 0.0006
    premium_downside: float = 0.5
    premium_noise: float = 0.0004
    premium_halflife_hours: float = 6.0
    trend_window_hours: float = 24.0
    funding_clamp: float = 0.0005
    funding_cap_per_hour: float = 0.04
    oi_activity: float = 0.3
    oi_noise: float = 0.05
    oi_halflife_hours: float = 168.0
    open_interest: bool = True
    signal_strength: float = 0.0
    signal_halflife_hours: float = 24.0

    def __post_init__(self) -> None:
        if self.tail_df <= 2:
            raise ValueError(f"tail_df must be > 2 (finite variance), got {self.tail_df}")
        if not 0 <= self.garch_alpha <= self.garch_persistence < 1:
            raise ValueError("need 0 <= garch_alpha <= garch_persistence < 1, "
                             f"got {self.garch_alpha} and {self.garch_persistence}")
        for name in ("slow_vol_std", "common_jump_rate", "idio_jump_rate", "jump_size", "trend_drift", "open_gap",
                     "volume_vol_elasticity", "volume_surprise", "volume_noise", "volume_jitter", "premium_trend",
                     "premium_noise", "funding_clamp", "funding_cap_per_hour", "oi_noise", "signal_strength"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("slow_vol_halflife_hours", "mean_range_hours", "mean_trend_hours", "anchor_halflife_hours",
                     "volume_halflife_hours", "premium_halflife_hours", "trend_window_hours", "oi_halflife_hours",
                     "signal_halflife_hours"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.range_reversion < 1:
            raise ValueError(f"range_reversion must be in [0, 1), got {self.range_reversion}")
        if not 0 <= self.premium_downside <= 1:
            raise ValueError(f"premium_downside must be in [0, 1], got {self.premium_downside}")
        if not 0 <= self.intraday_amplitude < 1:
            raise ValueError(f"intraday_amplitude must be in [0, 1), got {self.intraday_amplitude}")
        for name in ("common_jump_rate", "idio_jump_rate"):
            if getattr(self, name) * self.jump_size**2 >= 1:
                raise ValueError(f"{name} * jump_size**2 must be < 1 (jumps' share of the variance), "
                                 f"got {getattr(self, name) * self.jump_size**2:.3f}")


def synthetic_market(
    n_bars: int = 8760,
    seed: int = 0,
    symbols: Sequence[str] = CONTEST_SYMBOLS,
    bar: str | pd.Timedelta = "1h",
    start: str | pd.Timestamp = "2025-01-01",
    rules: str | Path | ExchangeRules = "hyperliquid",
    model: SyntheticParams | None = None,
    **params,
) -> MarketData:
    """Generate a synthetic market of ``n_bars`` bars (see the module docstring for the model).

    Args:
        n_bars: number of bars (>= 2).
        seed: non-negative integer seeding numpy Generators; the same seed gives bit-identical
            arrays, and the first bars do not depend on ``n_bars``.
        symbols: coins, each with a profile in ``model.profiles``.
        bar: bar length, a divisor of one hour (``"15m"``) or a whole number of hours (``"4h"``, ``"1d"``).
        start: open time of the first bar, UTC (naive times are taken as UTC); on a whole
            hour, and on a multiple of the bar for bars shorter than an hour.
        rules: exchange preset name, TOML path or loaded rules: contract specs, funding
            interval and baseline rate.
        model: parameters to start from (default :class:`SyntheticParams`).
        **params: overrides of :class:`SyntheticParams` fields.

    Returns:
        A validated :class:`MarketData` named ``synthetic-seed<seed>`` with volume and open
        interest in coins and funding per the venue's schedule. It is generated once per process
        for the same arguments and then shared (read-only; see :mod:`arena_gym.market.registry`).
    """
    from .registry import MarketRecipe, shared_market

    if model is not None:   # the recipe holds the model as its differences from the defaults (plain data)
        default = SyntheticParams()
        differences = {f.name: getattr(model, f.name) for f in fields(SyntheticParams)
                       if getattr(model, f.name) != getattr(default, f.name)}
        if "profiles" in differences:
            differences["profiles"] = dict(differences["profiles"])
        params = {**differences, **params}
    arguments = dict(n_bars=n_bars, seed=seed, symbols=tuple(symbols), bar=bar, start=start, rules=rules, **params)
    return shared_market(MarketRecipe.of(_generate, arguments), lambda: _generate(**arguments))


def _generate(n_bars, seed, symbols, bar, start, rules, **params) -> MarketData:
    """Generate the market :func:`synthetic_market` describes (it shares the result per process)."""
    model = _with_overrides(SyntheticParams(), params)
    if int(n_bars) != n_bars or n_bars < 2:
        raise ValueError(f"n_bars must be an integer >= 2, got {n_bars}")
    symbols = tuple(symbols)
    missing = [s for s in symbols if s not in model.profiles]
    if not symbols or missing:
        raise ValueError(f"no synthetic profile for {missing or 'an empty symbol list'}; profiles exist for "
                         f"{sorted(model.profiles)} (pass profiles={{..., 'COIN': AssetProfile(...)}} for others)")
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"duplicate symbols in {list(symbols)}")
    rules = rules if isinstance(rules, ExchangeRules) else load_rules(rules)
    bar_ns, step_ns, start_ns = _grid(bar, start)
    steps_per_bar = bar_ns // step_ns
    n_steps = int(n_bars) * steps_per_bar
    step_times = start_ns + step_ns * np.arange(n_steps, dtype=np.int64)
    profiles = [model.profiles[s] for s in symbols]
    paths = _simulate(seed, step_times, step_ns / _HOUR_NS, profiles, model, rules)
    bars = _aggregate(paths, steps_per_bar)
    return MarketData(
        timestamps=step_times[::steps_per_bar].astype("datetime64[ns]"),
        assets=rules.specs(symbols),
        name=f"synthetic-seed{seed}",
        funding_interval_hours=rules.funding_interval_hours,
        **bars,
    )


# ---------------------------------------------------------------------- configuration
def _with_overrides(model: SyntheticParams, params: dict) -> SyntheticParams:
    names = {f.name for f in fields(SyntheticParams)}
    unknown = sorted(set(params) - names)
    if unknown:
        raise TypeError(f"unknown synthetic market parameters {unknown}; valid: {sorted(names)}")
    return replace(model, **params) if params else model


def _grid(bar: str | pd.Timedelta, start: str | pd.Timestamp) -> tuple[int, int, int]:
    """(bar, step, start) in nanoseconds; the step is one hour or the bar if shorter."""
    try:
        bar_ns = pd.Timedelta(bar).value
    except ValueError as exc:
        raise ValueError(f"unknown bar {bar!r}; use e.g. '5m', '15m', '1h', '4h', '1d'") from exc
    if bar_ns <= 0 or (bar_ns < _HOUR_NS and _HOUR_NS % bar_ns) or (bar_ns >= _HOUR_NS and bar_ns % _HOUR_NS):
        raise ValueError(f"bar {bar!r} must divide one hour or be a whole number of hours")
    ts = pd.Timestamp(start)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    start_ns = ts.value
    step_ns = min(bar_ns, _HOUR_NS)
    if start_ns % step_ns:
        raise ValueError(f"start {ts} is not on a multiple of {pd.Timedelta(step_ns)}")
    return bar_ns, step_ns, start_ns


# ---------------------------------------------------------------------- simulation
#: Independent random streams, one per array that grows with the number of steps. Each stream
#: makes at most one draw whose size depends on the step count, and that draw comes last, so
#: the first ``n`` bars do not depend on how many bars are generated.
_STREAMS = ("regime", "shock", "jump_count", "jump_size", "slow_vol", "gap", "wick", "volume_slow",
            "volume_jitter", "premium", "open_interest", "signal")

#: Regime episodes drawn per block (a fixed amount of randomness per block keeps prefixes stable).
_REGIME_BLOCK = 64


def _simulate(seed: int, step_times: np.ndarray, dt: float, profiles: list[AssetProfile],
              p: SyntheticParams, rules: ExchangeRules) -> dict[str, np.ndarray]:
    """Per-step open/high/low/close/volume/funding_rate (and open_interest), each (N, A)."""
    rng = dict(zip(_STREAMS, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(_STREAMS)))))
    n, n_assets = len(step_times), len(profiles)
    vol = np.array([a.hourly_vol for a in profiles])
    share = np.array([a.market_share for a in profiles])
    log_price0 = np.log([a.price for a in profiles])

    # Innovations: column 0 is the market factor, columns 1.. the idiosyncratic terms.
    k = n_assets + 1
    rates = np.array([p.common_jump_rate] + [p.idio_jump_rate] * n_assets)
    z = rng["shock"].standard_t(p.tail_df, size=(n, k)) * math.sqrt((p.tail_df - 2.0) / p.tail_df)
    counts = rng["jump_count"].poisson(rates * dt, size=(n, k))
    jumps = np.sqrt(counts) * rng["jump_size"].standard_normal((n, k)) * (p.jump_size / math.sqrt(dt))
    diffusive_share = 1.0 - rates * p.jump_size**2
    u = np.sqrt(diffusive_share) * z + jumps

    # GARCH variances and the AR(1) noises are exogenous to prices: one recursion for all.
    persistence = p.garch_persistence**dt
    alpha = p.garch_alpha * (1.0 - persistence) / (1.0 - p.garch_persistence)
    garch_coef = np.vstack([np.ones((1, k)), alpha * u[:-1] ** 2 + (persistence - alpha)])
    garch_inno = np.vstack([np.zeros((1, k)), np.full((n - 1, k), 1.0 - persistence)])
    noises = [
        _ar1_parts(rng["slow_vol"], p.slow_vol_halflife_hours, p.slow_vol_std, dt, (n, 1)),
        _ar1_parts(rng["premium"], p.premium_halflife_hours, p.premium_noise, dt, (n, n_assets)),
        _ar1_parts(rng["volume_slow"], p.volume_halflife_hours, p.volume_noise, dt, (n, n_assets)),
    ]
    states = _linear_recursion(
        np.hstack([garch_coef] + [np.full(inno.shape, phi) for phi, inno, _ in noises]),
        np.hstack([garch_inno] + [inno for _, inno, _ in noises]),
        np.concatenate([np.ones(k)] + [before for _, _, before in noises]),
    )
    slow_log_vol = states[:, k:k + 1]
    premium_noise = states[:, k + 1:k + 1 + n_assets]
    premium_before = noises[1][2]
    volume_slow = states[:, k + 1 + n_assets:]
    # The slow activity level is log-normal with mean 1 in variance.
    variance = states[:, :k] * np.exp(2.0 * slow_log_vol - 2.0 * p.slow_vol_std**2)

    hours = (step_times % _DAY_NS) / _HOUR_NS + dt / 2.0
    season = np.sqrt(1.0 + p.intraday_amplitude * np.cos(2.0 * np.pi * (hours - p.intraday_peak_hour) / 24.0))
    step_vol = vol * math.sqrt(dt) * season[:, None]
    market_var, idio_var = share * variance[:, :1], (1.0 - share) * variance[:, 1:]
    shock = step_vol * (np.sqrt(market_var) * u[:, :1] + np.sqrt(idio_var) * u[:, 1:])
    sigma = step_vol * np.sqrt(market_var * diffusive_share[0] + idio_var * diffusive_share[1:])

    # Regimes: drift in trends, reversion towards a moving anchor while ranging.
    direction, strength = _regimes(rng["regime"], n, dt, p)
    drift = (direction * strength)[:, None] * (p.trend_drift * dt) * vol
    if p.signal_strength > 0:
        phi, inno, before = _ar1_parts(rng["signal"], p.signal_halflife_hours, 1.0, dt, (n, n_assets))
        signal = _linear_recursion(np.full(inno.shape, phi), inno, before)
        drift = drift + p.signal_strength * dt * vol * signal
    kappa = np.where(direction == 0, 1.0 - (1.0 - p.range_reversion) ** dt, 0.0)[:, None]
    keep = 0.5 ** (dt / p.anchor_halflife_hours)
    volume_anomaly = (p.volume_vol_elasticity * np.log(sigma / (vol * math.sqrt(dt)))
                      + p.volume_surprise * (np.abs(shock) / sigma - math.sqrt(2.0 / math.pi))
                      + volume_slow + rng["volume_jitter"].standard_normal((n, n_assets)) * p.volume_jitter)
    phi_oi, oi_inno, oi_before = _ar1_parts(rng["open_interest"], p.oi_halflife_hours, p.oi_noise, dt, (n, n_assets))
    states = _linear_recursion(
        np.hstack([keep * (1.0 - kappa) * np.ones(n_assets), np.full((n, n_assets), phi_oi)]),
        np.hstack([keep * (drift + shock), oi_inno + (1.0 - phi_oi) * p.oi_activity * volume_anomaly]),
        np.concatenate([np.zeros(n_assets), oi_before]),
    )
    deviation, oi_log = states[:, :n_assets], states[:, n_assets:]
    log_return = drift - kappa * np.vstack([np.zeros((1, n_assets)), deviation[:-1]]) + shock

    log_close = log_price0 + np.cumsum(log_return, axis=0)
    gap = rng["gap"].standard_normal((n, n_assets)) * (p.open_gap * vol)
    log_open = np.vstack([log_price0, log_close[:-1]]) + gap
    move = log_close - log_open
    spread = -2.0 * sigma[..., None] ** 2 * np.log(rng["wick"].random((n, n_assets, 2)))
    up = 0.5 * (move + np.sqrt(move**2 + spread[..., 0]))
    down = 0.5 * (move - np.sqrt(move**2 + spread[..., 1]))
    open_, close = np.exp(log_open), np.exp(log_close)
    # exp() of the bridge extremes can land one ulp inside the body; keep the OHLC invariant exact.
    high = np.maximum(np.exp(log_open + up), np.maximum(open_, close))
    low = np.minimum(np.exp(log_open + down), np.minimum(open_, close))
    notional = np.array([a.volume_usd for a in profiles]) * dt * np.exp(volume_anomaly)
    out = {
        "open": open_, "high": high, "low": low, "close": close,
        "volume": notional / ((high + low + close) / 3.0),
        "funding_rate": _funding(step_times, dt, log_price0, log_close, vol, premium_noise, premium_before, p, rules),
    }
    if p.open_interest:
        out["open_interest"] = np.array([a.open_interest_usd for a in profiles]) * np.exp(oi_log - log_price0)
    return out


def _ar1_parts(rng: np.random.Generator, halflife_hours: float, std: float, dt: float,
               shape: tuple[int, int]) -> tuple[float, np.ndarray, np.ndarray]:
    """Coefficient, innovations and the stationary value before the first step of a zero-mean AR(1)."""
    phi = 0.5 ** (dt / halflife_hours)
    before = rng.standard_normal(shape[1]) * std
    return phi, rng.standard_normal(shape) * (std * math.sqrt(1.0 - phi**2)), before


def _linear_recursion(coef: np.ndarray, inno: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``y[t] = coef[t] * y[t-1] + inno[t]`` along axis 0, with ``y[-1] = before``."""
    out = np.empty_like(inno)
    y = before
    for t in range(len(inno)):
        y = coef[t] * y + inno[t]
        out[t] = y
    return out


def _regimes(rng: np.random.Generator, n: int, dt: float, p: SyntheticParams) -> tuple[np.ndarray, np.ndarray]:
    """Per-step market regime: direction (-1 down trend, 0 ranging, +1 up trend) and trend strength.

    Episodes alternate ranging and trending with exponential lengths; the first is a trend
    with the stationary probability ``mean_trend / (mean_trend + mean_range)``.
    """
    starts_in_trend = rng.random() < p.mean_trend_hours / (p.mean_trend_hours + p.mean_range_hours)
    draws = np.empty((0, 3))
    while True:
        draws = np.vstack([draws, rng.random((_REGIME_BLOCK, 3))])
        in_trend = (np.arange(len(draws)) % 2 == 0) == starts_in_trend
        hours = -np.log1p(-draws[:, 0]) * np.where(in_trend, p.mean_trend_hours, p.mean_range_hours)
        steps = np.maximum(1, np.round(hours / dt)).astype(np.int64)
        if steps.sum() >= n:
            break
    direction = np.where(draws[:, 1] < 0.5, -1.0, 1.0) * in_trend
    strength = 0.5 + draws[:, 2]
    return np.repeat(direction, steps)[:n], np.repeat(strength, steps)[:n]


def _funding(step_times: np.ndarray, dt: float, log_price0: np.ndarray, log_close: np.ndarray, vol: np.ndarray,
             premium_noise: np.ndarray, premium_before: np.ndarray, p: SyntheticParams,
             rules: ExchangeRules) -> np.ndarray:
    """Funding rate per step: the settlement rate at steps opening on a settlement hour, else 0."""
    n, n_assets = log_close.shape
    interval = rules.funding_interval_hours
    window = max(1, round(p.trend_window_hours / dt))
    lagged = np.vstack([np.repeat(log_price0[None, :], window, axis=0), log_close[:-window]])[:n]
    lean = np.tanh((log_close - lagged) / (vol * math.sqrt(window * dt)))
    premium = p.premium_bias + p.premium_trend * np.where(lean > 0, lean, p.premium_downside * lean) + premium_noise
    # Before the first bar the trend is neutral and the noise at its stationary value.
    per_interval = max(1, round(interval / dt))
    history = np.vstack([np.repeat((p.premium_bias + premium_before)[None, :], per_interval, axis=0), premium])
    cumulative = np.vstack([np.zeros((1, n_assets)), np.cumsum(history, axis=0)])
    averaged = (cumulative[per_interval:per_interval + n] - cumulative[:n]) / per_interval
    r8 = rules.baseline_funding_rate * 8.0 / interval
    # P + clamp(r8 - P, -c, c), written so that the dead zone settles at exactly the baseline.
    c = p.funding_clamp
    f8 = np.where(averaged < r8 - c, averaged + c, np.where(averaged > r8 + c, averaged - c, r8))
    cap = p.funding_cap_per_hour * interval
    rate = np.clip(f8 * interval / 8.0, -cap, cap)
    settles = step_times % (interval * _HOUR_NS) == 0
    return np.where(settles[:, None], rate, 0.0)


def _aggregate(steps: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """Group ``k`` consecutive steps into bars (first open, max high, min low, last close, sums)."""
    if k == 1:
        return steps
    group = lambda arr: arr.reshape(-1, k, arr.shape[1])
    out = {
        "open": group(steps["open"])[:, 0], "high": group(steps["high"]).max(axis=1),
        "low": group(steps["low"]).min(axis=1), "close": group(steps["close"])[:, -1],
        "volume": group(steps["volume"]).sum(axis=1), "funding_rate": group(steps["funding_rate"]).sum(axis=1),
    }
    if "open_interest" in steps:
        out["open_interest"] = group(steps["open_interest"])[:, -1]
    return out
