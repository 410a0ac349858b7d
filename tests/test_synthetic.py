"""Statistical behaviour of the synthetic market on fixed seeds.

Each stylised fact is checked on the default model and, where a bound could be met by
accident, against the same seed with that mechanism switched off, so the test can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena_gym.market import MarketData
from arena_gym.market.synthetic import DEFAULT_PROFILES, AssetProfile, SyntheticParams, synthetic_market

SYMBOLS = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")
BASELINE = 0.0000125  # Hyperliquid funding per hour
ARRAYS = ("open", "high", "low", "close", "volume", "funding_rate", "open_interest")
#: Every source of non-Gaussian, clustered returns switched off.
CALM = dict(tail_df=200.0, common_jump_rate=0.0, idio_jump_rate=0.0, garch_alpha=0.0, slow_vol_std=0.0,
            intraday_amplitude=0.0)


@pytest.fixture(scope="module")
def market() -> MarketData:
    return synthetic_market(seed=0)


@pytest.fixture(scope="module")
def returns(market) -> np.ndarray:
    return np.diff(np.log(market.close), axis=0)


def autocorr(x: np.ndarray, lag: int) -> np.ndarray:
    x = x - x.mean(axis=0)
    return (x[lag:] * x[:-lag]).sum(axis=0) / (x * x).sum(axis=0)


def excess_kurtosis(r: np.ndarray) -> np.ndarray:
    z = (r - r.mean(axis=0)) / r.std(axis=0)
    return (z**4).mean(axis=0) - 3.0


def trailing_corr(market: MarketData, hours: int = 24) -> np.ndarray:
    """Correlation of each settlement with the log-return of the ``hours`` bars before it."""
    close = market.close
    trailing = np.log(close[hours:-1] / close[:-hours - 1])  # return up to the close of bar t - 1
    funding = market.funding_rate[hours + 1:]                 # settled at the open of bar t
    return np.array([np.corrcoef(trailing[:, a], funding[:, a])[0, 1] for a in range(market.n_assets)])


def strategy_returns(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar returns, averaged over assets, of an EMA(12)/EMA(48) crossover and of a 24-bar
    z-score reversion rule; positions are taken at a close and earn the next bar's return."""
    r = np.diff(np.log(close), axis=0)
    fast = pd.DataFrame(close).ewm(span=12, adjust=False).mean().to_numpy()
    slow = pd.DataFrame(close).ewm(span=48, adjust=False).mean().to_numpy()
    momentum = np.sign(fast - slow)
    log_close = np.log(close)
    mean = pd.DataFrame(log_close).rolling(24, min_periods=1).mean().to_numpy()
    spread = pd.DataFrame(log_close).diff().rolling(24, min_periods=2).std().fillna(0.0).to_numpy()
    reversion = -np.clip((log_close - mean) / (spread * np.sqrt(24) + 1e-12), -1.0, 1.0)
    return (momentum[:-1] * r).mean(axis=1), (reversion[:-1] * r).mean(axis=1)


def sharpe(x: np.ndarray) -> float:
    return float(x.mean() / x.std() * np.sqrt(8760))


# ---------------------------------------------------------------------- reproducibility and layout
def test_same_seed_is_bit_identical_and_seeds_differ():
    a, b, c = synthetic_market(500, seed=7), synthetic_market(500, seed=7), synthetic_market(500, seed=8)
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert not np.array_equal(getattr(a, name), getattr(c, name)), name
    assert np.array_equal(a.timestamps, c.timestamps)


def test_first_bars_do_not_depend_on_the_length():
    short, long = synthetic_market(700, seed=3), synthetic_market(1500, seed=3).slice(0, 700)
    for name in ARRAYS:
        assert np.array_equal(getattr(short, name), getattr(long, name)), name


def test_layout_specs_and_invariants(market):
    market.validate()
    assert market.symbols == SYMBOLS and market.n_bars == 8760
    assert market.name == "synthetic-seed0" and market.funding_interval_hours == 1
    assert market.timestamps[0] == np.datetime64("2025-01-01T00:00:00")
    assert market.bar_seconds == 3600
    assert market.assets[0].max_leverage == 40 and market.assets[5].max_leverage == 10  # Hyperliquid BTC, DOGE
    assert (market.high >= np.maximum(market.open, market.close)).all()
    assert (market.low <= np.minimum(market.open, market.close)).all()
    assert (market.low > 0).all() and (market.volume > 0).all() and (market.open_interest > 0).all()
    assert not market.filled.any()
    # Prices start at the profiles; each open is the previous close plus a gap of a few basis points.
    start = np.array([DEFAULT_PROFILES[s].price for s in SYMBOLS])
    np.testing.assert_allclose(market.open[0], start, rtol=1e-3)
    gap = np.abs(market.open[1:] / market.close[:-1] - 1.0)
    assert 0 < gap.max() < 0.002 and np.median(gap) < 2e-4


def test_hourly_volatility_matches_profiles(returns):
    profile = np.array([DEFAULT_PROFILES[s].hourly_vol for s in SYMBOLS])
    ratio = returns.std(axis=0) / profile
    assert ((ratio > 0.85) & (ratio < 1.15)).all(), ratio


def test_high_low_range_is_that_of_a_brownian_bridge(market, returns):
    # E[high - low] of a Brownian bridge is about 1.3-1.6 sigma; real 1h crypto bars show 1.24-1.37.
    ratio = ((market.high - market.low) / market.close).mean(axis=0) / returns.std(axis=0)
    assert ((ratio > 1.15) & (ratio < 1.6)).all(), ratio


# ---------------------------------------------------------------------- return dynamics
def test_cross_asset_correlation_is_that_of_crypto_majors(returns):
    corr = np.corrcoef(returns.T)
    pairs = corr[np.triu_indices(len(SYMBOLS), 1)]
    assert pairs.min() > 0.5 and pairs.max() < 0.9, pairs
    assert 0.6 < pairs.mean() < 0.8
    assert 0.7 < corr[0, 1] < 0.85  # BTC-ETH
    calm = np.diff(np.log(synthetic_market(seed=0, profiles={s: AssetProfile(
        p.price, p.hourly_vol, 0.0, p.volume_usd, p.open_interest_usd) for s, p in DEFAULT_PROFILES.items()},
        trend_drift=0.0, range_reversion=0.0).close), axis=0)
    independent = np.corrcoef(calm.T)[np.triu_indices(len(SYMBOLS), 1)]
    assert np.abs(independent).max() < 0.1  # without the market factor the assets are unrelated


def test_fat_tails(returns):
    assert (excess_kurtosis(returns) > 5.0).all(), excess_kurtosis(returns)
    calm = np.diff(np.log(synthetic_market(seed=0, **CALM).close), axis=0)
    assert (np.abs(excess_kurtosis(calm)) < 0.5).all(), excess_kurtosis(calm)


def test_volatility_clusters_while_returns_stay_nearly_unpredictable(returns):
    for lag in range(1, 6):
        assert (autocorr(np.abs(returns), lag) > 0.15).all(), lag
        assert (np.abs(autocorr(returns, lag)) < 0.06).all(), lag
    calm = np.diff(np.log(synthetic_market(seed=0, **CALM).close), axis=0)
    assert max(np.abs(autocorr(np.abs(calm), lag)).max() for lag in range(1, 6)) < 0.05


def test_jumps_add_sudden_moves():
    def sudden(market: MarketData) -> int:
        """Bars moving more than 8 robust sigmas of the previous 48 bars."""
        r = np.diff(np.log(market.close), axis=0)
        local = 1.4826 * pd.DataFrame(np.abs(r)).rolling(48).median().shift(1).to_numpy()
        return int(np.nansum(np.abs(r) > 8.0 * local))

    with_jumps = sudden(synthetic_market(seed=0))
    without = sudden(synthetic_market(seed=0, common_jump_rate=0.0, idio_jump_rate=0.0))
    assert with_jumps >= 40 and with_jumps >= 1.5 * without, (with_jumps, without)
    assert sudden(synthetic_market(seed=0, **CALM)) == 0


def test_volatility_follows_the_utc_day(market, returns):
    hours = pd.DatetimeIndex(market.timestamps[1:]).hour
    variance = (returns**2).mean(axis=1)
    busy = variance[(hours >= 15) & (hours < 20)].mean()
    quiet = variance[(hours >= 3) & (hours < 8)].mean()
    assert 1.3 < busy / quiet < 2.5, busy / quiet


def test_momentum_and_mean_reversion_earn_in_different_regimes(market):
    momentum, reversion = strategy_returns(market.close)
    assert np.corrcoef(momentum, reversion)[0, 1] < -0.4
    trending = strategy_returns(synthetic_market(seed=0, range_reversion=0.0).close)
    ranging = strategy_returns(synthetic_market(seed=0, trend_drift=0.0).close)
    assert sharpe(trending[0]) > 0.8 and sharpe(trending[0]) > sharpe(trending[1]) + 1.0
    assert sharpe(ranging[1]) > 1.0 and sharpe(ranging[1]) > sharpe(ranging[0]) + 1.0


# ---------------------------------------------------------------------- volume and open interest
def test_volume_rises_with_absolute_returns(market, returns):
    corr = [np.corrcoef(np.abs(returns[:, a]), market.volume[1:, a])[0, 1] for a in range(market.n_assets)]
    assert min(corr) > 0.3, corr
    usd = np.median(market.volume * market.close, axis=0)
    profile = np.array([DEFAULT_PROFILES[s].volume_usd for s in SYMBOLS])
    assert ((usd / profile > 0.3) & (usd / profile < 3.0)).all(), usd / profile


def test_open_interest_drifts_with_activity_and_can_be_fixed_or_left_out(market):
    usd = market.open_interest * market.close
    profile = np.array([DEFAULT_PROFILES[s].open_interest_usd for s in SYMBOLS])
    np.testing.assert_allclose(usd[0], profile, rtol=0.2)
    assert (np.log(market.open_interest).std(axis=0) > 0.05).all()
    fixed = synthetic_market(200, seed=0, oi_activity=0.0, oi_noise=0.0)
    coins = np.array([DEFAULT_PROFILES[s].open_interest_usd / DEFAULT_PROFILES[s].price for s in SYMBOLS])
    np.testing.assert_allclose(fixed.open_interest, np.broadcast_to(coins, (200, 6)), rtol=1e-12)
    assert synthetic_market(100, seed=0, open_interest=False).open_interest is None


# ---------------------------------------------------------------------- funding
def test_funding_leans_with_the_trend_around_the_baseline(market):
    f = market.funding_rate
    assert (f != 0).all()  # Hyperliquid settles every hour
    assert np.abs(f).max() <= 0.04
    assert 1.0e-5 < f.mean() < 2.5e-5
    assert 1.0e-5 < f.std() < 4.0e-5
    at_baseline = (f == BASELINE).mean()
    assert 0.5 < at_baseline < 0.85, at_baseline  # real Hyperliquid hours: 45-61 %
    assert (trailing_corr(market) > 0.25).all(), trailing_corr(market)
    flat = synthetic_market(seed=0, premium_trend=0.0)
    assert (np.abs(trailing_corr(flat)) < 0.1).all(), trailing_corr(flat)


@pytest.mark.parametrize(("bias", "hourly"), [
    (0.0003, BASELINE),                # inside the clamp: exactly the baseline
    (0.002, (0.002 - 0.0005) / 8),     # premium above the clamp
    (-0.001, (-0.001 + 0.0005) / 8),   # shorts pay
    (1.0, 0.04),                       # capped at 4 % per hour
])
def test_funding_formula_on_a_constant_premium(bias, hourly):
    still = dict(premium_bias=bias, premium_trend=0.0, premium_noise=0.0)
    hour = synthetic_market(48, seed=1, **still)
    np.testing.assert_allclose(hour.funding_rate, hourly, rtol=1e-12)
    four = synthetic_market(12, seed=1, bar="4h", **still)
    np.testing.assert_allclose(four.funding_rate, 4 * hourly, rtol=1e-12)


def test_funding_at_an_open_uses_only_closes_before_it():
    market = synthetic_market(300, seed=6, premium_bias=0.0, premium_trend=0.002, premium_downside=1.0,
                              premium_noise=0.0)
    log_close = np.log(market.close)
    vol = np.array([DEFAULT_PROFILES[s].hourly_vol for s in SYMBOLS])
    z = (log_close[25:-1] - log_close[1:-25]) / (vol * np.sqrt(24))  # 24 h to the close of bar t - 1
    premium = 0.002 * np.tanh(z)
    f8 = np.where(premium < 0.0001 - 0.0005, premium + 0.0005,
                  np.where(premium > 0.0001 + 0.0005, premium - 0.0005, 0.0001))
    np.testing.assert_allclose(market.funding_rate[26:], f8 / 8, rtol=1e-9, atol=1e-15)


def test_binance_rules_settle_every_eight_hours():
    market = synthetic_market(96, seed=2, rules="binance-usdm")
    hours = pd.DatetimeIndex(market.timestamps).hour
    settles = (market.funding_rate != 0).all(axis=1)
    assert np.array_equal(settles, hours % 8 == 0)
    assert market.funding_interval_hours == 8
    still = synthetic_market(48, seed=2, rules="binance-usdm", premium_bias=0.002, premium_trend=0.0,
                             premium_noise=0.0)
    np.testing.assert_allclose(still.funding_rate[::8], 0.002 - 0.0005, rtol=1e-12)
    values, counts = np.unique(market.funding_rate[settles], return_counts=True)
    assert values[np.argmax(counts)] == 0.0001  # Binance baseline per 8 hours


# ---------------------------------------------------------------------- other bar sizes
def test_four_hour_bars_are_the_hourly_bars_aggregated():
    hourly = synthetic_market(400, seed=5).resample(4)
    four = synthetic_market(100, seed=5, bar="4h")
    assert np.array_equal(hourly.timestamps, four.timestamps)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(hourly, name), getattr(four, name), err_msg=name)


def test_fifteen_minute_bars_settle_on_the_hour_and_keep_hourly_volatility():
    market = synthetic_market(4 * 24 * 30, seed=4, bar="15m")
    minutes = pd.DatetimeIndex(market.timestamps).minute
    assert np.array_equal((market.funding_rate != 0).all(axis=1), minutes == 0)
    # Without clustering the hourly volatility of 15-minute bars is the profile's, to sampling error.
    calm = synthetic_market(4 * 24 * 365, seed=4, bar="15m", trend_drift=0.0, range_reversion=0.0, **CALM)
    hourly = np.diff(np.log(calm.close[::4]), axis=0).std(axis=0)
    profile = np.array([DEFAULT_PROFILES[s].hourly_vol for s in SYMBOLS])
    np.testing.assert_allclose(hourly, profile, rtol=0.04)


# ---------------------------------------------------------------------- configuration and errors
def test_other_coins_with_their_own_profile():
    profiles = {**DEFAULT_PROFILES, "HYPE": AssetProfile(price=40.0, hourly_vol=0.012, market_share=0.5,
                                                         volume_usd=3e7, open_interest_usd=1.5e9)}
    market = synthetic_market(300, seed=0, symbols=("BTC", "HYPE"), profiles=profiles)
    assert market.symbols == ("BTC", "HYPE")
    assert market.open[0, 1] == pytest.approx(40.0, rel=1e-3)
    assert market.assets[1].max_leverage == 10  # the preset's default asset


def test_model_and_overrides_combine():
    model = SyntheticParams(trend_drift=0.0)
    a = synthetic_market(200, seed=0, model=model, tail_df=8.0)
    b = synthetic_market(200, seed=0, trend_drift=0.0, tail_df=8.0)
    assert np.array_equal(a.close, b.close)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(symbols=("BTC", "PEPE")), ValueError, "no synthetic profile for \\['PEPE'\\].*'BTC'"),
    (dict(symbols=("BTC", "BTC")), ValueError, "duplicate symbols"),
    (dict(bar="7m"), ValueError, "must divide one hour"),
    (dict(bar="90m"), ValueError, "whole number of hours"),
    (dict(bar="soon"), ValueError, "unknown bar"),
    (dict(start="2025-01-01 00:30"), ValueError, "not on a multiple of"),
    (dict(n_bars=1), ValueError, "n_bars must be an integer >= 2"),
    (dict(volatility=2.0), TypeError, "unknown synthetic market parameters \\['volatility'\\]"),
    (dict(tail_df=2.0), ValueError, "tail_df must be > 2"),
    (dict(garch_alpha=0.5, garch_persistence=0.4), ValueError, "garch_alpha <= garch_persistence"),
    (dict(idio_jump_rate=0.05), ValueError, "jumps' share of the variance"),
    (dict(rules="kraken"), ValueError, "unknown exchange rules"),
])
def test_bad_input_is_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        synthetic_market(**{"n_bars": 10, **kwargs})


def test_a_planted_signal_is_off_by_default_and_makes_returns_persist():
    plain = synthetic_market(3000, seed=4, trend_drift=0.0, range_reversion=0.0)
    off = synthetic_market(3000, seed=4, trend_drift=0.0, range_reversion=0.0, signal_strength=0.0)
    planted = synthetic_market(3000, seed=4, trend_drift=0.0, range_reversion=0.0, signal_strength=0.5,
                               signal_halflife_hours=48.0)
    np.testing.assert_array_equal(plain.close, off.close)

    def persistence(market):  # correlation of each day's return with the next day's, over coins
        daily = np.diff(np.log(market.close[::24]), axis=0)
        return np.mean([np.corrcoef(daily[:-1, a], daily[1:, a])[0, 1] for a in range(daily.shape[1])])

    assert persistence(planted) > 0.3 > persistence(plain)
