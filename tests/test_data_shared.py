"""Real freqtrade data beside the project (../shared/data): imported into the cache and loaded,
the market's bars and funding must equal the files'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym.data import import_freqtrade, load_cached_market

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]

pytestmark = pytest.mark.shareddata


def folder(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"real data folder {path} is absent (it sits beside the project only on data-equipped machines)")
    return path


def assert_market_matches_files(market, directory: Path, quote: str, funding_tf: str) -> None:
    index = pd.DatetimeIndex(market.timestamps, tz="UTC")
    for a, coin in enumerate(market.symbols):
        candles = pd.read_feather(directory / f"{coin}_{quote}_{quote}-1h-futures.feather").set_index("date")
        present = index.isin(candles.index)
        assert (present == ~market.filled[:, a]).all()
        rows = candles.loc[index[present]]
        for field in ("open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(market, field)[present, a], rows[field].to_numpy(), err_msg=f"{coin} {field}")
        raw = pd.read_feather(directory / f"{coin}_{quote}_{quote}-{funding_tf}-funding_rate.feather")
        per_bar = raw.groupby(raw["date"].dt.floor("h"))["open"].sum()
        expected = per_bar.reindex(index, fill_value=0.0).to_numpy()
        np.testing.assert_allclose(market.funding_rate[:, a], expected, rtol=0, atol=1e-18, err_msg=f"{coin} funding")


def test_hyperliquid_folder_loads_with_hourly_funding(tmp_path):
    source = folder("hyperliquid")
    import_freqtrade(source, "hyperliquid", timeframes="1h", cache_dir=tmp_path)
    market = load_cached_market("hyperliquid", COINS, "1h", cache_dir=tmp_path)
    # the common range: XRP's candles start last, BTC's end first (2025-07-26 03:00)
    assert market.timestamps[0] == np.datetime64("2024-09-04T21:00") and market.timestamps[-1] == np.datetime64("2025-07-26T03:00")
    assert market.n_bars == 7783 and market.funding_interval_hours == 1
    assert market.assets[0].max_leverage == 40 and market.mark is None
    assert (market.funding_rate != 0).mean() > 0.9  # hourly settlements, a few hundred hours missing in the files
    assert_market_matches_files(market, source, "USDC", "1h")


def test_binance_folder_loads_with_eight_hourly_funding_and_marks(tmp_path):
    source = folder("binance-usdm")
    import_freqtrade(source, "binanceusdm", timeframes="1h,8h", cache_dir=tmp_path)
    market = load_cached_market("binance-usdm", COINS, "1h", cache_dir=tmp_path)
    # XRP's funding starts 2025-02-01; every coin's funding file ends at the 2025-12-01 00:00 settlement
    assert market.timestamps[0] == np.datetime64("2025-02-01T00:00") and market.timestamps[-1] == np.datetime64("2025-12-01T00:00")
    assert market.funding_interval_hours == 8 and market.assets[0].maintenance_tiers[0][1] == 0.004
    hours = market.timestamps.astype("datetime64[h]").astype("int64") % 24
    assert not market.funding_rate[hours % 8 != 0].any()
    assert market.mark is None  # mark candles are 8-hourly: not used for 1h bars
    assert_market_matches_files(market, source, "USDT", "8h")


def test_usdt_quoted_binance_folder_loads_directly_like_the_usdc_hyperliquid_one():
    from arena_gym.market.data import MarketData

    for name, quote in (("binance-usdm", "USDT"), ("hyperliquid", "USDC")):
        path = folder(name)
        market = MarketData.from_freqtrade(path, COINS, "1h")
        btc = pd.read_feather(path / f"BTC_{quote}_{quote}-1h-futures.feather")
        assert market.symbols == tuple(COINS)
        assert market.open[0, 0] in set(btc["open"])
