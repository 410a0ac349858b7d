"""The Parquet cache: coverage bookkeeping, atomic writes, validation, loading into MarketData,
freqtrade import, the ``download`` command, and a download -> load -> env episode round trip."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ccxt", reason="these tests drive ccxt clients; install the data extra")

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))  # the fake exchange APIs

from arena_gym.cli import download as download_cli
from arena_gym.data import Backoff, Cache, DataError, SeriesKey, download, import_freqtrade, load_cached_market
from arena_gym.data import cache as cache_module
from arena_gym.data.cache import add_interval, default_cache_dir, uncovered
from arena_gym.data.symbols import timeframe_millis, to_millis
from arena_gym.data.validate import series_from_rows, validate_series
from ccxt_venues import HOUR, FakeHyperliquid, candle, funding_rate, hyperliquid_client

T0 = to_millis("2025-03-01")


def candle_rows(coin: str, start: int, n: int, bar: int = HOUR, skip=()) -> list[list]:
    return [[start + i * bar, *candle(coin, start + i * bar, bar)] for i in range(n) if i not in skip]


def put(root, exchange, coin, kind, rows, coverage, timeframe="1h"):
    key = SeriesKey(exchange, coin, kind, None if kind == "funding" else timeframe)
    bar = None if kind == "funding" else timeframe_millis(timeframe)
    Cache(root).write(key, series_from_rows(kind, rows), coverage, bar)
    return key


# ---------------------------------------------------------------------- coverage
def test_coverage_intervals_merge_and_report_holes():
    cov = add_interval([], 10, 20)
    cov = add_interval(cov, 30, 40)
    assert cov == [(10, 20), (30, 40)]
    assert add_interval(cov, 20, 30) == [(10, 40)]  # touching intervals merge
    assert add_interval(cov, 15, 35) == [(10, 40)]
    assert add_interval(cov, 5, 5) == cov
    assert uncovered(cov, 0, 50) == [(0, 10), (20, 30), (40, 50)]
    assert uncovered(cov, 12, 18) == []
    assert uncovered(cov, 15, 35) == [(20, 30)]
    assert uncovered([], 3, 7) == [(3, 7)]


# ---------------------------------------------------------------------- files
def test_write_then_read_round_trips_rows_and_coverage(tmp_path):
    rows = candle_rows("BTC", T0, 48, skip={10, 11})
    key = put(tmp_path, "hyperliquid", "BTC", "ohlcv", rows, [(T0 - HOUR, T0 + 48 * HOUR)])
    path = tmp_path / "hyperliquid" / "BTC_USDC_USDC-1h-ohlcv.parquet"
    assert Cache(tmp_path).path(key) == path and path.exists()
    back = Cache(tmp_path).read(key, HOUR)
    assert back.coverage == ((T0 - HOUR, T0 + 48 * HOUR),)
    assert str(back.frame["date"].dtype) == "datetime64[ms, UTC]"
    assert back.frame["date"].iloc[0] == pd.Timestamp("2025-03-01", tz="UTC")
    row = back.frame.iloc[12]  # rows 10 and 11 were never there: this is the bar of T0 + 14h
    assert row["date"] == pd.Timestamp("2025-03-01T14:00", tz="UTC")
    assert row[["open", "high", "low", "close", "volume"]].tolist() == list(candle("BTC", T0 + 14 * HOUR, HOUR))
    assert back.stats.rows == 46 and back.stats.gaps == ((T0 + 10 * HOUR, T0 + 12 * HOUR),)
    funding_key = put(tmp_path, "binanceusdm", "BTC", "funding", [[T0 + 5, 0.0001]], [(T0, T0 + 8 * HOUR)])
    assert Cache(tmp_path).path(funding_key).name == "BTC_USDT_USDT-funding.parquet"


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    key = put(tmp_path, "hyperliquid", "ETH", "ohlcv", candle_rows("ETH", T0, 5), [(T0, T0 + 5 * HOUR)])
    before = Cache(tmp_path).path(key).read_bytes()

    def crash(table, where, **kw):
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        put(tmp_path, "hyperliquid", "ETH", "ohlcv", candle_rows("ETH", T0, 9), [(T0, T0 + 9 * HOUR)])
    assert Cache(tmp_path).path(key).read_bytes() == before
    assert [p.name for p in (tmp_path / "hyperliquid").iterdir()] == ["ETH_USDC_USDC-1h-ohlcv.parquet"]


def test_a_corrupted_cache_file_is_reported_and_left_alone(tmp_path):
    key = put(tmp_path, "hyperliquid", "BTC", "ohlcv", candle_rows("BTC", T0, 5), [(T0, T0 + 5 * HOUR)])
    path = Cache(tmp_path).path(key)
    path.write_bytes(path.read_bytes()[:40])
    damaged = path.read_bytes()
    with pytest.raises(DataError, match=r"BTC_USDC_USDC-1h-ohlcv.parquet is unreadable .*delete .* --refresh"):
        Cache(tmp_path).read(key, HOUR)
    with pytest.raises(DataError, match="is unreadable"):
        load_cached_market("hyperliquid", "BTC", "1h", cache_dir=tmp_path)
    fake = FakeHyperliquid(to_millis("2025-10-01T00:30Z"))
    with pytest.raises(DataError, match="is unreadable"):
        download("hyperliquid", "BTC", "1h", "2025-09-30", client=hyperliquid_client(fake), cache_dir=tmp_path,
                 progress=False, kinds="ohlcv")
    assert path.read_bytes() == damaged
    # --refresh replaces it with a fresh download
    download("hyperliquid", "BTC", "1h", "2025-09-30", client=hyperliquid_client(fake), cache_dir=tmp_path,
             progress=False, kinds="ohlcv", refresh=True)
    assert Cache(tmp_path).read(key, HOUR).stats.rows == 24


def test_a_parquet_file_without_coverage_is_refused(tmp_path):
    path = tmp_path / "hyperliquid" / "BTC_USDC_USDC-1h-ohlcv.parquet"
    path.parent.mkdir()
    series_from_rows("ohlcv", candle_rows("BTC", T0, 3)).to_parquet(path)
    with pytest.raises(DataError, match="lacks arena-gym coverage metadata"):
        Cache(tmp_path).read(SeriesKey("hyperliquid", "BTC", "ohlcv", "1h"))


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("edit, message", [
    (lambda r: r.insert(3, list(r[2])), "duplicate timestamp at 2025-03-01T02:00:00Z"),
    (lambda r: r.__setitem__(3, [r[3][0] - 2 * HOUR, *r[3][1:]]), "time goes backwards at 2025-03-01T01:00:00Z"),
    (lambda r: r[4].__setitem__(4, float("nan")), "close is nan at 2025-03-01T04:00:00Z"),
    (lambda r: r[2].__setitem__(3, (r[2][1] + r[2][4]) / 2), "low above open/close at 2025-03-01T02:00:00Z"),
    (lambda r: r[2].__setitem__(3, -1.0), "non-positive price at 2025-03-01T02:00:00Z"),
    (lambda r: r[5].__setitem__(5, -3.0), "negative volume at 2025-03-01T05:00:00Z"),
    (lambda r: r.__setitem__(5, [r[5][0] + 60_000, *r[5][1:]]), "2025-03-01T05:01:00Z is not on the 3600s bar grid"),
])
def test_validation_names_the_defect_and_the_time(edit, message):
    rows = candle_rows("SOL", T0, 8)
    edit(rows)
    with pytest.raises(DataError, match=message):
        validate_series("ohlcv", series_from_rows("ohlcv", rows), "SOL 1h", HOUR)


def test_validation_refuses_naive_timestamps_and_counts_gaps():
    frame = series_from_rows("ohlcv", candle_rows("BTC", T0, 10, skip={3, 6, 7}))
    stats = validate_series("ohlcv", frame, "BTC", HOUR)
    assert stats.rows == 7 and stats.gaps == ((T0 + 3 * HOUR, T0 + 4 * HOUR), (T0 + 6 * HOUR, T0 + 8 * HOUR))
    naive = frame.assign(date=frame["date"].dt.tz_localize(None))
    with pytest.raises(DataError, match="timestamps must be UTC datetimes"):
        validate_series("ohlcv", naive, "BTC", HOUR)


def test_cache_location_argument_then_env_var_then_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("ARENA_GYM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "arena-gym"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "arena-gym"
    monkeypatch.setenv("ARENA_GYM_CACHE", str(tmp_path / "env"))
    assert Cache().root == tmp_path / "env"
    assert Cache(tmp_path / "arg").root == tmp_path / "arg"


# ---------------------------------------------------------------------- loading
def hourly_funding(coin, start, n, late_ms=31):
    return [[start + i * HOUR + late_ms, funding_rate(coin, start + i * HOUR)] for i in range(n)]


def test_load_aligns_hourly_funding_to_bars_and_takes_the_common_range(tmp_path):
    put(tmp_path, "hyperliquid", "BTC", "ohlcv", candle_rows("BTC", T0, 30), [(T0, T0 + 30 * HOUR)])
    put(tmp_path, "hyperliquid", "ETH", "ohlcv", candle_rows("ETH", T0 + 4 * HOUR, 30, skip={7}),
        [(T0, T0 + 34 * HOUR)])
    for coin in ("BTC", "ETH"):
        put(tmp_path, "hyperliquid", coin, "funding", hourly_funding(coin, T0 - 2 * HOUR, 40), [(T0 - 2 * HOUR, T0 + 38 * HOUR)])
    m = load_cached_market("hyperliquid", "BTC,ETH", "1h", cache_dir=tmp_path)
    assert m.n_bars == 26 and m.timestamps[0] == np.datetime64("2025-03-01T04:00")
    assert m.funding_interval_hours == 1 and m.name == "hyperliquid-1h"
    bars = T0 + 4 * HOUR + np.arange(26) * HOUR
    np.testing.assert_allclose(m.funding_rate[:, 1], [funding_rate("ETH", t) for t in bars], atol=1e-15)
    assert m.filled[7, 1] and not m.filled[:, 0].any()  # ETH's missing bar: flat at the previous close
    assert m.open[7, 1] == m.close[6, 1] and m.volume[7, 1] == 0
    assert m.close[0, 0] == candle("BTC", T0 + 4 * HOUR, HOUR)[3]
    cut = load_cached_market("hyperliquid", "BTC,ETH", "1h", since="2025-03-01 09:30", until="2025-03-01T20:00Z",
                             cache_dir=tmp_path)
    assert cut.n_bars == 10 and cut.timestamps[0] == np.datetime64("2025-03-01T10:00")
    assert cut.filled[:, 1].tolist() == [False, True] + [False] * 8


def test_load_puts_eight_hourly_funding_on_its_bars_and_sums_it_into_longer_bars(tmp_path):
    put(tmp_path, "binanceusdm", "BTC", "ohlcv", candle_rows("BTC", T0, 48), [(T0, T0 + 48 * HOUR)])
    put(tmp_path, "binanceusdm", "BTC", "ohlcv", candle_rows("BTC", T0, 2, bar=24 * HOUR), [(T0, T0 + 48 * HOUR)],
        timeframe="1d")
    rates = [[T0 + k * 8 * HOUR + 3, 0.0001 * (k + 1)] for k in range(6)]
    put(tmp_path, "binanceusdm", "BTC", "funding", rates, [(T0, T0 + 48 * HOUR)])
    hourly = load_cached_market("binanceusdm", "BTC", "1h", cache_dir=tmp_path)
    assert hourly.funding_interval_hours == 8
    assert np.flatnonzero(hourly.funding_rate[:, 0]).tolist() == [0, 8, 16, 24, 32, 40]
    assert hourly.funding_rate[16, 0] == pytest.approx(0.0003)
    daily = load_cached_market("binanceusdm", "BTC", "1d", cache_dir=tmp_path)
    np.testing.assert_allclose(daily.funding_rate[:, 0], [0.0006, 0.0015])


def test_load_errors_list_what_is_cached(tmp_path):
    put(tmp_path, "hyperliquid", "BTC", "ohlcv", candle_rows("BTC", T0, 10), [(T0, T0 + 10 * HOUR)])
    with pytest.raises(DataError, match=r"(?s)no cached hyperliquid ETH 1h ohlcv.*what is cached:\n  hyperliquid BTC 1h ohlcv: 10 rows"):
        load_cached_market("hyperliquid", "BTC,ETH", "1h", cache_dir=tmp_path)
    with pytest.raises(DataError, match="no cached hyperliquid BTC funding"):
        load_cached_market("hyperliquid", "BTC", "1h", cache_dir=tmp_path)
    without = load_cached_market("hyperliquid", "BTC", "1h", cache_dir=tmp_path, require_funding=False)
    assert without.n_bars == 10 and not without.funding_rate.any()
    with pytest.raises(DataError, match="no cached hyperliquid BTC 4h ohlcv"):
        load_cached_market("hyperliquid", "BTC", "4h", cache_dir=tmp_path)
    with pytest.raises(DataError, match="unknown exchange 'kraken'"):
        load_cached_market("kraken", "BTC", "1h", cache_dir=tmp_path)
    with pytest.raises(DataError, match="unknown timeframe '1x'"):
        load_cached_market("hyperliquid", "BTC", "1x", cache_dir=tmp_path)
    with pytest.raises(DataError, match="empty or reversed range"):
        load_cached_market("hyperliquid", "BTC", "1h", since="2025-03-02", until="2025-03-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match=r"\(nothing cached under"):
        load_cached_market("hyperliquid", "BTC", "1h", cache_dir=tmp_path / "empty")


def test_load_refuses_a_hole_in_coverage(tmp_path):
    rows = candle_rows("BTC", T0, 20, skip=set(range(8, 12)))
    put(tmp_path, "hyperliquid", "BTC", "ohlcv", rows, [(T0, T0 + 8 * HOUR), (T0 + 12 * HOUR, T0 + 20 * HOUR)])
    put(tmp_path, "hyperliquid", "BTC", "funding", hourly_funding("BTC", T0, 20), [(T0, T0 + 20 * HOUR)])
    with pytest.raises(DataError, match="BTC candles have a hole between 2025-03-01T08:00:00Z and 2025-03-01T12:00:00Z"):
        load_cached_market("hyperliquid", "BTC", "1h", cache_dir=tmp_path)
    after = load_cached_market("hyperliquid", "BTC", "1h", since="2025-03-01T12:00", cache_dir=tmp_path)
    assert after.n_bars == 8


# ---------------------------------------------------------------------- freqtrade import
def write_freqtrade_folder(folder: Path, coins=("BTC", "ETH"), quote="USDC", n=72):
    folder.mkdir(parents=True, exist_ok=True)
    dates = pd.date_range("2025-03-01", periods=n, freq="h", tz="UTC")
    for coin in coins:
        rows = candle_rows(coin, T0, n)
        frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"]).assign(date=dates)
        frame.to_feather(folder / f"{coin}_{quote}_{quote}-1h-futures.feather")
        fund = pd.DataFrame({"date": dates + pd.Timedelta(milliseconds=27),
                             "open": [funding_rate(coin, T0 + i * HOUR) for i in range(n)],
                             "high": 0.0, "low": 0.0, "close": 0.0, "volume": 0.0})
        fund.to_feather(folder / f"{coin}_{quote}_{quote}-1h-funding_rate.feather")


def test_freqtrade_folder_imports_into_the_cache(tmp_path):
    write_freqtrade_folder(tmp_path / "ft")
    results = import_freqtrade(tmp_path / "ft", "hyperliquid", timeframes="1h", cache_dir=tmp_path / "cache")
    assert sorted(r.key.describe() for r in results) == [
        "hyperliquid BTC 1h ohlcv", "hyperliquid BTC funding", "hyperliquid ETH 1h ohlcv", "hyperliquid ETH funding"]
    m = load_cached_market("hyperliquid", "ETH,BTC", "1h", cache_dir=tmp_path / "cache")
    assert m.n_bars == 72
    assert m.high[5, 1] == candle("BTC", T0 + 5 * HOUR, HOUR)[1]
    assert m.funding_rate[9, 0] == pytest.approx(funding_rate("ETH", T0 + 9 * HOUR), abs=1e-15)
    with pytest.raises(DataError, match=r"has no USDC files for \['DOGE'\]; coins there: \['BTC', 'ETH'\]"):
        import_freqtrade(tmp_path / "ft", "hyperliquid", coins="DOGE", cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match="no freqtrade futures files quoted in USDT"):
        import_freqtrade(tmp_path / "ft", "binanceusdm", cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match="does not exist"):
        import_freqtrade(tmp_path / "nowhere", "hyperliquid", cache_dir=tmp_path / "cache")


# ---------------------------------------------------------------------- command line
def parse(argv):
    parser = argparse.ArgumentParser(prog="arena-gym")
    download_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_download_command_imports_lists_and_downloads(tmp_path, monkeypatch, capsys):
    write_freqtrade_folder(tmp_path / "ft", coins=("SOL",))
    cache = str(tmp_path / "cache")
    args = parse(["download", "--from-freqtrade", str(tmp_path / "ft"), "--exchange", "hyperliquid", "--cache-dir", cache])
    assert args.func(args) == 0
    assert "hyperliquid SOL 1h ohlcv: 72 rows (2025-03-01T00:00:00Z .. 2025-03-03T23:00:00Z), +72 new" in capsys.readouterr().out
    args = parse(["download", "--list", "--cache-dir", cache])
    assert args.func(args) == 0
    listing = capsys.readouterr().out
    assert "hyperliquid SOL funding: 72 rows, covers 2025-03-01T00:00:00Z .. 2025-03-03T23:00:00.028000Z" in listing

    fake = FakeHyperliquid(to_millis("2025-10-01T00:30Z"))
    monkeypatch.setattr("arena_gym.data.fetch.make_client", lambda exchange: hyperliquid_client(fake))
    args = parse(["download", "--exchange", "hyperliquid", "--coins", "btc,eth", "--since", "2025-09-30",
                  "--no-progress", "--cache-dir", cache])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "hyperliquid ETH 1h ohlcv: 24 rows (2025-09-30T00:00:00Z .. 2025-09-30T23:00:00Z), +24 new, 1 requests" in out
    args = parse(["download", "--exchange", "hyperliquid", "--coins", "BTC", "--cache-dir", cache])
    with pytest.raises(DataError, match="--coins and --since are required"):
        args.func(args)


# ---------------------------------------------------------------------- round trip
def test_download_load_and_run_an_episode(tmp_path):
    env_module = pytest.importorskip("arena_gym.env", reason="the Gymnasium environment is not available")
    fake = FakeHyperliquid(to_millis("2025-10-01T00:30Z"), coins=("BTC", "ETH", "SOL"))
    download("hyperliquid", "BTC,ETH,SOL", "1h", "2025-08-25", client=hyperliquid_client(fake), cache_dir=tmp_path,
             progress=False, backoff=Backoff(sleep=lambda s: None))
    market = load_cached_market("hyperliquid", ["BTC", "ETH", "SOL"], "1h", cache_dir=tmp_path)
    assert market.n_bars == 37 * 24 and market.symbols == ("BTC", "ETH", "SOL")
    env = env_module.PerpTradingEnv(market=market)
    obs, info = env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.isfinite(reward)
        if terminated or truncated:
            break


def test_a_cached_market_is_loaded_once_and_pickles_as_its_recipe(tmp_path):
    import pickle

    from arena_gym.market.registry import clear_markets

    put(tmp_path, "hyperliquid", "BTC", "ohlcv", candle_rows("BTC", T0, 30), [(T0, T0 + 30 * HOUR)])
    put(tmp_path, "hyperliquid", "BTC", "funding", hourly_funding("BTC", T0, 30), [(T0, T0 + 30 * HOUR)])
    market = load_cached_market("hyperliquid", "BTC", "1h", cache_dir=tmp_path)
    assert load_cached_market("hyperliquid", ["BTC"], "1h", cache_dir=tmp_path) is market
    blob = pickle.dumps(market)
    assert len(blob) < 2_000
    clear_markets()
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.close, market.close)
    np.testing.assert_array_equal(again.funding_rate, market.funding_rate)
    put(tmp_path, "hyperliquid", "BTC", "ohlcv", candle_rows("BTC", T0, 31), [(T0, T0 + 31 * HOUR)])
    put(tmp_path, "hyperliquid", "BTC", "funding", hourly_funding("BTC", T0, 31), [(T0, T0 + 31 * HOUR)])
    assert load_cached_market("hyperliquid", "BTC", "1h", cache_dir=tmp_path).n_bars == 31   # new files: reloaded
    clear_markets()
    with pytest.raises(ValueError, match="changed"):
        pickle.loads(blob)
