"""Build a multi-asset :class:`~arena_gym.market.MarketData` from the local cache.

The market spans the time range every coin's candles and funding cover (the latest start
to the earliest end, cut to ``[since, until)``); bars an exchange did not report inside it
are filled by MarketData's gap rule. Funding settlements are floored to the bar that
contains them and summed per bar (so a 1h bar carries the Hyperliquid rate settled in it,
and on Binance only every eighth 1h bar carries a rate). Mark prices are used when every coin
has them at the market's timeframe; open interest when every coin's covers the whole range.
Contract specs come from the exchange's rule preset (:attr:`~arena_gym.data.symbols.Venue.preset`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from arena_gym.venue import load_rules
from arena_gym.market.data import MarketData
from arena_gym.market.registry import MarketRecipe, file_fingerprint, shared_market

from .cache import Cache, CachedSeries, SeriesKey
from .symbols import DataError, iso, parse_coins, timeframe_millis, to_millis, venue


def load_cached_market(
    exchange: str,
    coins: str | Sequence[str],
    timeframe: str,
    since=None,
    until=None,
    cache_dir: str | Path | None = None,
    *,
    require_funding: bool = True,
) -> MarketData:
    """Multi-asset MarketData of ``coins`` on ``exchange`` at ``timeframe`` from the cache.

    Args:
        exchange: ccxt id (``hyperliquid``, ``binanceusdm``, ``bybit``, ``okx``).
        coins: base codes, a list or comma-separated string; the market keeps this order.
        timeframe: bar length, e.g. ``1h``.
        since, until: optional start (inclusive) and end (exclusive) of the bars; ISO text,
            datetimes or epoch ms, naive values taken as UTC.
        cache_dir: cache folder (default: see :func:`arena_gym.data.cache.default_cache_dir`).
        require_funding: refuse coins without cached funding (default); False loads them with
            zero funding.

    Raises:
        DataError: something is not cached (the message lists what is) or the cached
            ranges do not overlap.

    The market is loaded once per process for the same arguments and cache files, then shared
    (see :mod:`arena_gym.market.registry`).
    """
    v = venue(exchange)
    coin_list = parse_coins(coins)
    cache = Cache(cache_dir)
    files = [cache.path(SeriesKey(v.id, c, kind, None if kind == "funding" else timeframe))
             for c in coin_list for kind in ("ohlcv", "funding", "mark", "open_interest")]
    arguments = dict(exchange=v.id, coins=tuple(coin_list), timeframe=timeframe, since=since, until=until,
                     cache_dir=str(cache.root.resolve()), require_funding=require_funding)
    recipe = MarketRecipe.of(_load_cached_market, arguments, file_fingerprint(p for p in files if p.exists()))
    return shared_market(recipe, lambda: _load_cached_market(**arguments))


def _load_cached_market(exchange: str, coins: tuple[str, ...], timeframe: str, since, until, cache_dir: str,
                        require_funding: bool) -> MarketData:
    """Read the cache (see :func:`load_cached_market`, which shares the result per process)."""
    v = venue(exchange)
    coin_list = list(coins)
    bar_ms = timeframe_millis(timeframe)
    lo = to_millis(since) if since is not None else None
    hi = to_millis(until) if until is not None else None
    if lo is not None and hi is not None and lo >= hi:
        raise DataError(f"empty or reversed range: since {iso(lo)} is not before until {iso(hi)}")
    cache = Cache(cache_dir)

    def read(coin: str, kind: str, required: bool) -> CachedSeries | None:
        key = SeriesKey(v.id, coin, kind, None if kind == "funding" else timeframe)
        found = cache.read(key, None if kind == "funding" else bar_ms)
        if found is None and required:
            raise DataError(f"no cached {key.describe()} in {cache.root} (expected {cache.path(key).name}); "
                            f"download it with: arena-gym download --exchange {v.id} --coins {','.join(coin_list)} "
                            f"--timeframe {timeframe} --since ...\nwhat is cached:\n{cache.describe()}")
        if found is not None and found.frame.empty and required:
            raise DataError(f"cached {key.describe()} holds no rows (the exchange had none for "
                            f"{_coverage_text(found)})")
        return found

    candles = {c: read(c, "ohlcv", True) for c in coin_list}
    funding = {c: read(c, "funding", require_funding) for c in coin_list}
    start, end = _common_span(candles, funding, bar_ms, lo, hi)
    frames, rates = {}, {}
    for c in coin_list:
        frames[c] = _cut(candles[c].frame, start, end)
        if funding[c] is not None:
            rates[c] = _cut(funding[c].frame, start, end).set_index("date")["funding_rate"]
        if len(frames[c]) < 2:
            raise DataError(f"{v.id} {c} {timeframe}: fewer than 2 cached bars between {iso(start)} and {iso(end)}")
    marks = {c: read(c, "mark", False) for c in coin_list}
    mark = {c: _cut(m.frame, start, end).set_index("date")["open"] for c, m in marks.items() if m is not None}
    interest = {c: read(c, "open_interest", False) for c in coin_list}
    oi = {c: _cut(s.frame, start, end).set_index("date")["open_interest"] for c, s in interest.items()
          if s is not None and s.stats.rows and s.stats.first <= start}
    rules = load_rules(v.preset)
    return MarketData.from_frames(
        frames, rates or None, rules=rules,
        mark=mark if len(mark) == len(coin_list) else None,
        open_interest=oi if len(oi) == len(coin_list) else None,
        bar=pd.Timedelta(milliseconds=bar_ms), name=f"{v.id}-{timeframe}",
        funding_interval_hours=rules.funding_interval_hours,
    )


def _coverage_text(series: CachedSeries) -> str:
    return ", ".join(f"{iso(a)} .. {iso(b)}" for a, b in series.coverage) or "no range"


def _common_span(candles: dict[str, CachedSeries], funding: dict[str, CachedSeries | None], bar_ms: int,
                 lo: int | None, hi: int | None) -> tuple[int, int]:
    """``[start, end)`` in ms covered by every coin's candles and funding, cut to ``[lo, hi)``."""
    start = max(s.stats.first for s in candles.values())
    end = min(s.stats.last for s in candles.values()) + bar_ms
    if lo is not None:
        start = max(start, lo)
    if hi is not None:
        end = min(end, hi)
    if start >= end:
        spans = {c: f"{iso(s.stats.first)} .. {iso(s.stats.last)}" for c, s in candles.items()}
        raise DataError(f"the cached coins share no bars in the asked range; cached candles: {spans}")
    for coin, series in candles.items():
        start, end = _inside_coverage(series, start, end, f"{coin} candles")
    for coin, series in funding.items():
        if series is not None:
            start, end = _inside_coverage(series, start, end, f"{coin} funding")
    return -(-start // bar_ms) * bar_ms, end


def _inside_coverage(series: CachedSeries, start: int, end: int, what: str) -> tuple[int, int]:
    """Shrink ``[start, end)`` to the covered part of ``series``; a hole inside it is an error."""
    pieces = [(max(a, start), min(b, end)) for a, b in series.coverage if min(b, end) > max(a, start)]
    if not pieces:
        raise DataError(f"{what} are not cached between {iso(start)} and {iso(end)}; cached: {_coverage_text(series)}")
    if len(pieces) > 1:
        raise DataError(f"{what} have a hole between {iso(pieces[0][1])} and {iso(pieces[1][0])}; "
                        f"download that range again, or load with since/until outside it")
    return pieces[0]


def _cut(frame: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    ms = frame["date"].astype("int64")
    return frame[(ms >= start) & (ms < end)]
