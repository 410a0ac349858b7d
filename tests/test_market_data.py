"""MarketData: construction, validation with clear errors, the gap rule, indicators, real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym.market import MarketData, MarketDataError, load_rules
from arena_gym.market.indicators import atr, ema, rsi

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TS = pd.date_range("2025-01-01", periods=6, freq="h", tz="UTC")


def candles(close, ts=TS, **overrides):
    close = np.asarray(close, float)
    df = pd.DataFrame({"date": ts, "open": close, "high": close + 1, "low": close - 1, "close": close,
                       "volume": 10.0})
    for k, v in overrides.items():
        df[k] = v
    return df


def test_from_frames_aligns_assets_on_the_common_range_and_sums_funding_into_bars():
    btc = candles([100, 101, 102, 103, 104, 105])
    eth = candles([10, 11, 12, 13, 14], ts=TS[1:])
    stamps = TS[1:4] + pd.Timedelta(milliseconds=37)                 # a few ms past the hour
    funding = {"BTC": pd.DataFrame({"date": stamps, "open": [1e-5, 2e-5, 3e-5]})}
    m = MarketData.from_frames({"BTC": btc, "ETH": eth}, funding)
    assert m.n_bars == 5 and m.symbols == ("BTC", "ETH") and m.bar_seconds == 3600
    assert m.close[:, 0].tolist() == [101, 102, 103, 104, 105]
    assert m.funding_rate[:, 0].tolist() == [1e-5, 2e-5, 3e-5, 0.0, 0.0]
    assert m.assets[0] == load_rules("hyperliquid").spec("BTC")
    four_hourly = m.resample(2)
    assert four_hourly.bar_seconds == 7200


def test_gap_rule_fills_flat_bars_at_the_previous_close_and_flags_them():
    btc = candles([100, 101, 102, 103, 104, 105]).drop(index=[2, 3])
    m = MarketData.from_frames({"BTC": btc})
    assert m.n_bars == 6
    assert m.filled[:, 0].tolist() == [False, False, True, True, False, False]
    for field in ("open", "high", "low", "close"):
        assert getattr(m, field)[2:4, 0].tolist() == [101, 101]
    assert m.volume[2:4, 0].tolist() == [0, 0]


@pytest.mark.parametrize("mutate, message", [
    (lambda df: df.assign(close=[100, np.nan, 102, 103, 104, 105]), r"close of BTC is nan at 2025-01-01 01:00"),
    (lambda df: df.assign(high=[100, np.inf, 103, 104, 105, 106]), r"high of BTC is inf"),
    (lambda df: df.iloc[[0, 2, 1, 3, 4, 5]], r"time goes backwards at 2025-01-01 01:00"),
    (lambda df: df.iloc[[0, 1, 1, 2, 3, 4]], r"duplicate timestamp 2025-01-01 01:00"),
    (lambda df: df.assign(low=[99, 100, 102.5, 102, 103, 104]), r"low above open/close for BTC at 2025-01-01 02:00"),
    (lambda df: df.assign(volume=[1, 1, -1, 1, 1, 1]), r"negative volume for BTC at 2025-01-01 02:00"),
])
def test_bad_data_is_rejected_naming_asset_and_time(mutate, message):
    with pytest.raises(MarketDataError, match=message):
        MarketData.from_frames({"BTC": mutate(candles([100, 101, 102, 103, 104, 105]))})


def test_assets_that_do_not_overlap_or_sit_off_grid_are_rejected():
    early = candles([1, 2, 3, 4, 5, 6])
    late = candles([1, 2, 3, 4, 5, 6], ts=TS + pd.Timedelta(hours=10))
    with pytest.raises(MarketDataError, match="do not overlap"):
        MarketData.from_frames({"BTC": early, "ETH": late})
    shifted = candles([1, 2, 3, 4, 5, 6], ts=TS + pd.Timedelta(minutes=30))
    with pytest.raises(MarketDataError, match="not on the"):
        MarketData.from_frames({"BTC": candles([1, 2, 3, 4, 5, 6]), "ETH": shifted}, bar="1h")
    with pytest.raises(MarketDataError, match="lack columns"):
        MarketData.from_frames({"BTC": candles([1, 2, 3, 4, 5, 6]).drop(columns="volume")})


def test_indicators_match_hand_computed_values():
    x = np.array([[10.0], [11.0], [12.0], [11.0]])
    a = 2 / 4                                                       # span 3
    e = [10.0]
    for v in x[1:, 0]:
        e.append(a * v + (1 - a) * e[-1])
    assert ema(x, 3)[:, 0] == pytest.approx(e)
    # RSI(2), Wilder alpha 1/2: gains [0, 1, 1, 0], losses [0, 0, 0, 1]
    g, l = [0.0], [0.0]
    for up, down in ((1, 0), (1, 0), (0, 1)):
        g.append(0.5 * up + 0.5 * g[-1])
        l.append(0.5 * down + 0.5 * l[-1])
    expected = [50.0] + [100 * gi / (gi + li) for gi, li in zip(g[1:], l[1:])]
    assert rsi(x, 2)[:, 0] == pytest.approx(expected)
    high, low, close = np.array([[12.0], [13.0]]), np.array([[9.0], [10.0]]), np.array([[10.0], [12.5]])
    tr = [3.0, max(13 - 10, abs(13 - 10), abs(10 - 10))]
    assert atr(high, low, close, 2)[:, 0] == pytest.approx([3.0, 0.5 * tr[1] + 0.5 * 3.0])


def test_indicators_are_causal():
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    df = candles(close, ts=pd.date_range("2025-01-01", periods=300, freq="h", tz="UTC"))
    base = MarketData.from_frames({"BTC": df}).indicators
    changed = df.copy()
    changed.loc[200:, ["open", "high", "low", "close"]] *= 1.5
    other = MarketData.from_frames({"BTC": changed}).indicators
    for name in ("ema20", "ema50", "macd", "rsi7", "rsi14", "atr3", "atr14", "volume_avg"):
        assert np.array_equal(getattr(base, name)[:200], getattr(other, name)[:200]), name
        assert not np.array_equal(getattr(base, name)[200:], getattr(other, name)[200:]) or name == "volume_avg"


def test_parquet_round_trip(tmp_path):
    m = MarketData.from_frames({"BTC": candles([100, 101, 102, 103, 104, 105])},
                               {"BTC": pd.Series([1e-5] * 6, index=TS)})
    back = MarketData.from_parquet(m.to_parquet(tmp_path / "m.parquet"))
    for f in ("open", "high", "low", "close", "volume", "funding_rate"):
        assert np.array_equal(getattr(m, f), getattr(back, f))


@pytest.mark.shareddata
def test_real_hyperliquid_episode_with_hourly_funding():
    folder = SHARED / "hyperliquid"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent (it ships beside the repository, not with it)")
    from arena_gym.env import PerpTradingEnv

    m = MarketData.from_freqtrade(folder, ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE"], "1h")
    assert m.n_bars > 7_000 and (m.funding_rate != 0).mean() > 0.95
    env = PerpTradingEnv(m, episode_length=500, start="2025-03-01T00:00:00")
    obs, info = env.reset(seed=0)
    assert str(m.timestamps[info["bar"]]).startswith("2025-03-01T00")
    rng = np.random.default_rng(0)
    for _ in range(500):
        obs, _, terminated, truncated, info = env.step(rng.uniform(-1, 1, 6).astype(np.float32))
        assert np.isfinite(obs).all()
        if terminated or truncated:
            break
    assert truncated and info["funding_paid"] != 0 and info["fees_paid"] > 0
    ledger = env.ledger_frame()
    assert (ledger["kind"] == "funding").sum() > 400


def test_bar_times_are_the_text_of_each_timestamp():
    from arena_gym.market import synthetic_market

    market = synthetic_market(n_bars=300, seed=1)
    assert market.bar_times == [str(t) for t in market.timestamps]
    assert market.bar_times is market.bar_times      # computed once
