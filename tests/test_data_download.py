"""Downloads through ccxt's own hyperliquid and binanceusdm classes, raw responses injected at
the HTTP layer (tests/fixtures/ccxt_venues.py), so ccxt's request building and parsing run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ccxt = pytest.importorskip("ccxt", reason="downloads need the data extra (ccxt)")

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))  # the fake exchange APIs

from arena_gym.data import Backoff, Cache, DataError, SeriesKey, download, load_cached_market
from arena_gym.data.symbols import to_millis
from ccxt_venues import (HOUR, FakeBinanceUsdm, FakeHyperliquid, binance_client, candle, funding_rate,
                         hyperliquid_client, mark_candle, open_interest)

# 2025-10-09T08:20:01.234Z: mid-bar, so the forming 08:00 bar must not be cached.
NOW = to_millis("2025-10-09T08:20:01.234Z")
CURRENT_BAR = NOW // HOUR * HOUR


def no_sleep(seconds: float) -> None:
    pass


def run(fake, exchange, coins, since, until=None, cache_dir=None, **kw):
    client = hyperliquid_client(fake) if exchange == "hyperliquid" else binance_client(fake)
    kw.setdefault("progress", False)
    kw.setdefault("backoff", Backoff(sleep=no_sleep))
    return download(exchange, coins, "1h", since, until, client=client, cache_dir=cache_dir, **kw)


def cached(tmp_path, exchange, coin, kind, timeframe="1h"):
    return Cache(tmp_path).read(SeriesKey(exchange, coin, kind, None if kind == "funding" else timeframe))


def data_requests(fake, endpoint):
    return [q for name, q in fake.calls if name == endpoint]


# ---------------------------------------------------------------------- Hyperliquid
def test_hyperliquid_candles_are_the_latest_5000_and_the_older_range_is_reported(tmp_path):
    fake = FakeHyperliquid(NOW, coins=("BTC", "ETH"))
    notices = []
    since = CURRENT_BAR - 6000 * HOUR
    report = run(fake, "hyperliquid", "BTC", since, cache_dir=tmp_path, kinds="ohlcv", notify=notices.append)
    series = cached(tmp_path, "hyperliquid", "BTC", "ohlcv")
    # the exchange serves 5,000 candles including the forming one: 4,999 closed bars are kept
    assert series.stats.rows == 4999
    assert series.stats.first == CURRENT_BAR - 4999 * HOUR and series.stats.last == CURRENT_BAR - HOUR
    assert series.coverage == ((since, CURRENT_BAR),)
    row = series.frame.iloc[1234]
    t = int(row["date"].value // 1_000_000)
    assert tuple(row[["open", "high", "low", "close", "volume"]]) == candle("BTC", t, HOUR)
    assert any("latest 5000 1h candles" in n for n in notices)
    assert any("before 2025-03-15T01:00:00Z" in n for n in notices)
    # two requests: a 5,000-bar window from `since`, then the rest; ccxt sent candleSnapshot bodies
    reqs = data_requests(fake, "candleSnapshot")
    assert [r["req"]["startTime"] for r in reqs] == [since, since + 5000 * HOUR]
    assert reqs[0]["req"]["coin"] == "BTC" and reqs[0]["req"]["interval"] == "1h"
    assert report.results[0].requests == 2


def test_hyperliquid_funding_is_paged_500_rows_at_a_time(tmp_path):
    fake = FakeHyperliquid(NOW)
    since = CURRENT_BAR - 1800 * HOUR
    run(fake, "hyperliquid", "SOL", since, cache_dir=tmp_path, kinds="funding")
    reqs = data_requests(fake, "fundingHistory")
    # 1,800 hourly settlements + the one of the current hour: 500 + 500 + 500 + 301 rows, then an
    # empty answer confirms nothing else has settled
    assert len(reqs) == 5 and reqs[-1]["startTime"] > CURRENT_BAR
    assert all(r["endTime"] - r["startTime"] < 500 * HOUR for r in reqs)
    series = cached(tmp_path, "hyperliquid", "SOL", "funding")
    ms = series.frame["date"].astype("int64").to_numpy()
    hours = ms // HOUR * HOUR
    assert len(ms) == 1801 and np.array_equal(np.diff(hours), np.full(1800, HOUR))
    assert hours[0] == since and hours[-1] == CURRENT_BAR
    assert (ms - hours > 0).all()  # raw settlement stamps are kept; loading floors them to bars
    expected = [funding_rate("SOL", h) for h in hours]
    np.testing.assert_allclose(series.frame["funding_rate"].to_numpy(), expected, rtol=0, atol=1e-15)


def test_rerun_extends_the_cache_without_refetching(tmp_path):
    first_end = CURRENT_BAR - 200 * HOUR
    since = CURRENT_BAR - 1000 * HOUR
    run(FakeHyperliquid(NOW), "hyperliquid", "BTC", since, first_end, cache_dir=tmp_path)
    fake = FakeHyperliquid(NOW)
    report = run(fake, "hyperliquid", "BTC", since, cache_dir=tmp_path)
    candle_reqs = data_requests(fake, "candleSnapshot")
    assert [r["req"]["startTime"] for r in candle_reqs] == [first_end]
    assert all(r["startTime"] >= first_end for r in data_requests(fake, "fundingHistory"))
    ohlcv = cached(tmp_path, "hyperliquid", "BTC", "ohlcv")
    assert ohlcv.stats.rows == 1000 and ohlcv.stats.gaps == ()
    assert {r.key.kind: r.added for r in report.results} == {"ohlcv": 200, "funding": 201}
    again = FakeHyperliquid(NOW)
    run(again, "hyperliquid", "BTC", since, cache_dir=tmp_path)
    assert data_requests(again, "candleSnapshot") == [] and data_requests(again, "fundingHistory") == []


def test_rate_limit_and_network_errors_are_retried_with_backoff(tmp_path):
    since = CURRENT_BAR - 1200 * HOUR
    fake = FakeHyperliquid(NOW)
    fake.script = {0: ccxt.RateLimitExceeded("hyperliquid 429"), 1: ccxt.RequestTimeout("hyperliquid timed out"),
                   3: ccxt.ExchangeNotAvailable("hyperliquid 503"), 4: ccxt.NetworkError("connection reset")}
    waits = []
    backoff = Backoff(base_delay=0.5, sleep=waits.append)
    run(fake, "hyperliquid", "BTC,ETH", since, cache_dir=tmp_path / "retried", backoff=backoff)
    assert waits == [0.5, 1.0, 0.5, 1.0] and backoff.waits == waits
    run(FakeHyperliquid(NOW), "hyperliquid", "BTC,ETH", since, cache_dir=tmp_path / "clean")
    for coin in ("BTC", "ETH"):
        for kind in ("ohlcv", "funding"):
            a = Cache(tmp_path / "retried").read(SeriesKey("hyperliquid", coin, kind, None if kind == "funding" else "1h"))
            b = Cache(tmp_path / "clean").read(SeriesKey("hyperliquid", coin, kind, None if kind == "funding" else "1h"))
            pd.testing.assert_frame_equal(a.frame, b.frame)
            assert a.coverage == b.coverage


def test_backoff_gives_up_and_keeps_what_was_fetched(tmp_path):
    fake = FakeBinanceUsdm(NOW)
    # first klines page succeeds, then the exchange stays unavailable
    fake.script = {i: ccxt.ExchangeNotAvailable("binanceusdm 503 Service Unavailable") for i in range(1, 10)}
    waits, lines = [], []
    with pytest.raises(DataError, match=r"gave up after 4 attempts; last error ExchangeNotAvailable"):
        run(fake, "binanceusdm", "BTC", CURRENT_BAR - 2500 * HOUR, cache_dir=tmp_path, kinds="ohlcv",
            backoff=Backoff(attempts=4, base_delay=1.0, max_delay=3.0, sleep=waits.append, on_retry=lines.append))
    assert waits == [1.0, 2.0, 3.0]
    assert [line.split(": ExchangeNotAvailable (binanceusdm 503 Service Unavailable); ")[1] for line in lines] == [
        "retry 1 of 3 in 1 s", "retry 2 of 3 in 2 s", "retry 3 of 3 in 3 s"]   # said before each wait
    series = cached(tmp_path, "binanceusdm", "BTC", "ohlcv")
    assert series.stats.rows == 1000
    assert series.coverage == ((CURRENT_BAR - 2500 * HOUR, CURRENT_BAR - 1500 * HOUR),)


def test_other_exchange_errors_fail_at_once(tmp_path):
    fake = FakeHyperliquid(NOW)
    fake.script = {0: ccxt.BadRequest('hyperliquid {"error":"bad request"}')}
    waits = []
    with pytest.raises(DataError, match="refused the request: BadRequest"):
        run(fake, "hyperliquid", "BTC", CURRENT_BAR - 10 * HOUR, cache_dir=tmp_path, backoff=Backoff(sleep=waits.append))
    assert waits == []


@pytest.mark.parametrize("flush_rows", [1, 20_000])
def test_interrupted_download_resumes_to_the_uninterrupted_result(tmp_path, flush_rows):
    since, until = CURRENT_BAR - 3500 * HOUR, CURRENT_BAR - 100 * HOUR
    whole = FakeBinanceUsdm(NOW, coins=("BTC", "ETH"))
    run(whole, "binanceusdm", "BTC,ETH", since, until, cache_dir=tmp_path / "whole", kinds="ohlcv,funding,mark")
    total_calls = whole.data_calls
    broken = FakeBinanceUsdm(NOW, coins=("BTC", "ETH"))
    # data calls 0-3: BTC candles (3,400 bars, 1,000 a page); 4-8: BTC funding (1,000-hour windows,
    # each next one starting after the last settlement received); 9-12: BTC marks. The user
    # interrupts the second mark request.
    broken.script = {10: KeyboardInterrupt()}
    with pytest.raises(KeyboardInterrupt):
        run(broken, "binanceusdm", "BTC,ETH", since, until, cache_dir=tmp_path / "resumed", kinds="ohlcv,funding,mark",
            flush_rows=flush_rows)
    partial = cached(tmp_path / "resumed", "binanceusdm", "BTC", "mark")
    assert partial.stats.rows == 1000 and partial.coverage == ((since, since + 1000 * HOUR),)
    assert cached(tmp_path / "resumed", "binanceusdm", "ETH", "ohlcv") is None
    resumed = FakeBinanceUsdm(NOW, coins=("BTC", "ETH"))
    run(resumed, "binanceusdm", "BTC,ETH", since, until, cache_dir=tmp_path / "resumed", kinds="ohlcv,funding,mark")
    assert resumed.data_calls == total_calls - 10  # nothing fetched twice
    for coin in ("BTC", "ETH"):
        for kind in ("ohlcv", "funding", "mark"):
            a = cached(tmp_path / "resumed", "binanceusdm", coin, kind)
            b = cached(tmp_path / "whole", "binanceusdm", coin, kind)
            pd.testing.assert_frame_equal(a.frame, b.frame)
            assert a.coverage == b.coverage == ((since if kind == "funding" else since, until),)
            assert a.stats.gaps == ()


# ---------------------------------------------------------------------- Binance USD-M
def test_binance_candles_funding_mark_and_open_interest(tmp_path):
    fake = FakeBinanceUsdm(NOW)
    notices = []
    since = CURRENT_BAR - 2400 * HOUR
    report = run(fake, "binanceusdm", "ETH", since, cache_dir=tmp_path, notify=notices.append)
    by_kind = {r.key.kind: r for r in report.results}
    assert by_kind["ohlcv"].requests == 3 and by_kind["ohlcv"].stats.rows == 2400
    klines = data_requests(fake, "klines")
    assert [int(q["startTime"]) for q in klines] == [since, since + 1000 * HOUR, since + 2000 * HOUR]
    assert all(q["symbol"] == "ETHUSDT" and q["limit"] == "1000" for q in klines)
    ohlcv = cached(tmp_path, "binanceusdm", "ETH", "ohlcv").frame
    t = int(ohlcv["date"].iloc[-1].value // 1_000_000)
    assert t == CURRENT_BAR - HOUR
    assert tuple(ohlcv.iloc[-1][["open", "high", "low", "close", "volume"]]) == candle("ETH", t, HOUR)
    mark = cached(tmp_path, "binanceusdm", "ETH", "mark").frame
    assert tuple(mark.iloc[0][["open", "high", "low", "close"]]) == mark_candle("ETH", since, HOUR)
    funding = cached(tmp_path, "binanceusdm", "ETH", "funding").frame
    stamps = funding["date"].astype("int64").to_numpy()
    assert len(stamps) == 301 and (np.diff(stamps // HOUR) == 8).all()
    assert funding["funding_rate"].iloc[0] == pytest.approx(8 * funding_rate("ETH", stamps[0] // HOUR * HOUR), abs=1e-15)
    # open interest: only the last 30 days exist, and the user is told
    oi = cached(tmp_path, "binanceusdm", "ETH", "open_interest")
    assert oi.stats.first == -(-(NOW - 30 * 24 * HOUR) // HOUR) * HOUR and oi.stats.last == CURRENT_BAR - HOUR
    assert oi.frame["open_interest"].iloc[5] == open_interest("ETH", oi.stats.first + 5 * HOUR)
    assert any("last 30 days of open interest" in n for n in notices)


def test_empty_pages_before_listing_are_covered_and_not_refetched(tmp_path):
    listed = CURRENT_BAR - 1500 * HOUR
    notices = []
    fake = FakeBinanceUsdm(NOW, listed={"SOL": listed})
    since = CURRENT_BAR - 4000 * HOUR
    run(fake, "binanceusdm", "SOL", since, cache_dir=tmp_path, kinds="ohlcv", notify=notices.append)
    series = cached(tmp_path, "binanceusdm", "SOL", "ohlcv")
    assert series.stats.first == listed and series.stats.rows == 1500
    assert series.coverage == ((since, CURRENT_BAR),)
    assert len(data_requests(fake, "klines")) == 4  # two empty windows, then 1,000 + 500 bars
    assert any("before 2025-08-07T20:00:00Z" in n for n in notices)
    # nothing at all in range: reported, covered, and a rerun asks nothing
    early = FakeBinanceUsdm(NOW, listed={"SOL": listed})
    notices.clear()
    run(early, "binanceusdm", "SOL", since - 500 * HOUR, since, cache_dir=tmp_path / "early", kinds="ohlcv",
        notify=notices.append)
    assert any("returned no ohlcv" in n for n in notices)
    again = FakeBinanceUsdm(NOW, listed={"SOL": listed})
    run(again, "binanceusdm", "SOL", since - 500 * HOUR, since, cache_dir=tmp_path / "early", kinds="ohlcv")
    assert data_requests(again, "klines") == []


class OverlappingBinance(FakeBinanceUsdm):
    """Answers every klines request with the 5 bars before the window as well, and repeats the
    window's third bar."""

    def klines(self, coin, q, mark):
        q = dict(q, startTime=str(int(q["startTime"]) - 5 * HOUR))
        rows = super().klines(coin, q, mark)
        return rows[:8] + rows[7:]


def test_overlapping_pages_leave_no_duplicates(tmp_path):
    fake = OverlappingBinance(NOW)
    since = CURRENT_BAR - 2100 * HOUR
    report = run(fake, "binanceusdm", "BTC", since, cache_dir=tmp_path, kinds="ohlcv")
    series = cached(tmp_path, "binanceusdm", "BTC", "ohlcv")
    assert series.stats.rows == 2100 and series.stats.first == since and series.stats.gaps == ()
    assert report.results[0].requests == 3 and report.results[0].duplicates == 3


class BrokenCandleBinance(FakeBinanceUsdm):
    def klines(self, coin, q, mark):
        rows = super().klines(coin, q, mark)
        rows[7][2] = "1.0"  # high below low
        return rows


def test_an_insane_page_is_refused_and_nothing_half_written(tmp_path):
    with pytest.raises(DataError, match="binanceusdm BTC 1h ohlcv from 2025-08-30T08:00:00Z: page from the exchange: high below open/close/low at 2025-08-30T15:00:00Z"):
        run(BrokenCandleBinance(NOW), "binanceusdm", "BTC", CURRENT_BAR - 960 * HOUR, cache_dir=tmp_path, kinds="ohlcv")
    assert cached(tmp_path, "binanceusdm", "BTC", "ohlcv") is None
    assert list((tmp_path / "binanceusdm").glob("*tmp*")) == []


# ---------------------------------------------------------------------- bad input
def test_unknown_exchange_coin_timeframe_and_kind_list_what_exists(tmp_path):
    with pytest.raises(DataError, match=r"unknown exchange 'ftx'; supported: \['binanceusdm', 'bybit', 'hyperliquid', 'okx'\]"):
        download("ftx", "BTC", "1h", "2025-01-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match=r"hyperliquid has no timeframe '7m'; it offers \['1m', '3m', '5m', '15m', '30m', '1h'"):
        download("hyperliquid", "BTC", "7m", "2025-01-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match=r"hyperliquid offers no history of \['mark'\]; it offers \['ohlcv', 'funding'\]"):
        download("hyperliquid", "BTC", "1h", "2025-01-01", kinds="ohlcv,mark", cache_dir=tmp_path)
    with pytest.raises(DataError, match="unknown kinds"):
        download("binanceusdm", "BTC", "1h", "2025-01-01", kinds="trades", cache_dir=tmp_path)
    with pytest.raises(DataError, match=r"hyperliquid has no USDC-settled perpetual for \['PEPE'\]; it lists 3: BTC, ETH, SOL"):
        run(FakeHyperliquid(NOW), "hyperliquid", "BTC,PEPE", NOW - 10 * HOUR, cache_dir=tmp_path)
    with pytest.raises(DataError, match="not a base code"):
        run(FakeHyperliquid(NOW), "hyperliquid", "BTC/USDC:USDC", NOW - 10 * HOUR, cache_dir=tmp_path)
    assert not (tmp_path / "hyperliquid").exists()


def test_reversed_empty_and_future_ranges_are_refused(tmp_path):
    with pytest.raises(DataError, match="empty or reversed range: since 2025-06-01T00:00:00Z is not before until 2025-05-01"):
        run(FakeHyperliquid(NOW), "hyperliquid", "BTC", "2025-06-01", "2025-05-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match="empty or reversed range"):
        run(FakeHyperliquid(NOW), "hyperliquid", "BTC", "2025-06-01", "2025-06-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match="is in the future"):
        run(FakeHyperliquid(NOW), "hyperliquid", "BTC", "2026-01-01", "2026-02-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match="cannot read 'yesterday-ish'"):
        run(FakeHyperliquid(NOW), "hyperliquid", "BTC", "yesterday-ish", cache_dir=tmp_path)


def test_naive_times_are_utc(tmp_path):
    assert to_millis("2025-01-01") == to_millis("2025-01-01T00:00:00Z") == 1735689600000
    assert to_millis(pd.Timestamp("2025-01-01 02:00")) == to_millis("2025-01-01T03:00:00+01:00")
    a = FakeHyperliquid(NOW)
    run(a, "hyperliquid", "BTC", "2025-10-01 00:00", "2025-10-02 00:00", cache_dir=tmp_path / "naive", kinds="ohlcv")
    b = FakeHyperliquid(NOW)
    run(b, "hyperliquid", "BTC", "2025-10-01T02:00+02:00", "2025-10-02T00:00Z", cache_dir=tmp_path / "aware", kinds="ohlcv")
    assert a.calls == b.calls
    series = cached(tmp_path / "naive", "hyperliquid", "BTC", "ohlcv")
    assert series.stats.first == to_millis("2025-10-01") and series.stats.rows == 24


def test_downloaded_market_loads_with_funding_on_its_bars(tmp_path):
    since = CURRENT_BAR - 300 * HOUR
    run(FakeHyperliquid(NOW), "hyperliquid", "BTC,ETH", since, cache_dir=tmp_path)
    market = load_cached_market("hyperliquid", ["ETH", "BTC"], "1h", cache_dir=tmp_path)
    assert market.symbols == ("ETH", "BTC") and market.n_bars == 300 and market.funding_interval_hours == 1
    bars = (market.timestamps.astype("int64") // 1_000_000).tolist()
    assert bars[0] == since and bars[-1] == CURRENT_BAR - HOUR
    np.testing.assert_allclose(market.funding_rate[:, 1], [funding_rate("BTC", t) for t in bars], atol=1e-15)
    assert market.close[10, 0] == candle("ETH", bars[10], HOUR)[3]
    assert market.assets[1].max_leverage == 40 and market.assets[0].size_step == pytest.approx(1e-4)

    run(FakeBinanceUsdm(NOW), "binanceusdm", "BTC", since, cache_dir=tmp_path)
    binance = load_cached_market("binance-usdm", "BTC", "1h", cache_dir=tmp_path)
    assert binance.open_interest[5, 0] == open_interest("BTC", since + 5 * HOUR)  # within the 30 days served
    assert binance.funding_interval_hours == 8 and binance.assets[0].maintenance_tiers[0][1] == 0.004
    nonzero = np.flatnonzero(binance.funding_rate[:, 0])
    hours = binance.timestamps[nonzero].astype("datetime64[h]").astype("int64") % 24
    assert set(hours.tolist()) <= {0, 8, 16} and len(nonzero) == 37
    assert binance.mark is not None and binance.mark[3, 0] == mark_candle("BTC", since + 3 * HOUR, HOUR)[0]


# ---------------------------------------------------------------------- Bybit and OKX requests
def recorded_client(exchange: str, market_id: str, empty_response: dict):
    """A ccxt client of ``exchange`` with one BTC/USDT:USDT perpetual whose requests are recorded
    and answered with an empty page."""
    from arena_gym.data import make_client

    client = make_client(exchange)
    client.enableRateLimit = False
    client.milliseconds = lambda: NOW
    client.set_markets([client.safe_market_structure({
        "id": market_id, "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT", "baseId": "BTC",
        "quoteId": "USDT", "settleId": "USDT", "type": "swap", "spot": False, "margin": False, "swap": True,
        "future": False, "option": False, "active": True, "contract": True, "linear": True, "inverse": False,
        "contractSize": 1.0, "info": {"instType": "SWAP"}})])
    urls = []

    def fetch(url, method="GET", headers=None, body=None):
        urls.append(url)
        return empty_response

    client.fetch = fetch
    return client, urls


@pytest.mark.parametrize("exchange, market_id, empty, expected", [
    ("bybit", "BTCUSDT", {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": []}, "time": NOW}, {
        "kline": {"start": "S", "end": "E-1", "limit": "1000", "interval": "60"},
        "history": {"startTime": "S", "endTime": "N-1", "limit": "200"},
        "mark-price-kline": {"start": "S", "end": "E-1", "limit": "1000"},
        "open-interest": {"startTime": "S", "endTime": "E-1", "limit": "200", "intervalTime": "1h"}}),
    ("okx", "BTC-USDT-SWAP", {"code": "0", "msg": "", "data": []}, {
        "candles": {"before": "S-1", "after": "E-1", "limit": "100", "bar": "1H"},
        "funding-rate-history": {"before": "S-1", "after": "N", "limit": "100"},
        "mark-price-candles": {"before": "S-1", "after": "E-1", "limit": "100"}}),
])
def test_bybit_and_okx_requests_ask_for_one_page_window(tmp_path, exchange, market_id, empty, expected):
    from urllib.parse import parse_qs, urlparse

    client, urls = recorded_client(exchange, market_id, empty)
    since = CURRENT_BAR - 50 * HOUR
    report = download(exchange, "BTC", "1h", since, client=client, cache_dir=tmp_path, progress=False)
    assert [r.stats.rows for r in report.results] == [0] * len(expected)
    # candles end at the last closed bar (E), funding at the present (N)
    values = {"S": since, "S-1": since - 1, "E-1": CURRENT_BAR - 1, "N": NOW, "N-1": NOW - 1}
    seen = {}
    for url in urls:
        parsed = urlparse(url)
        seen[parsed.path.rsplit("/", 1)[-1]] = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    for endpoint, params in expected.items():
        want = {k: str(values.get(v, v)) for k, v in params.items()}
        assert {k: seen[endpoint].get(k) for k in want} == want, endpoint
