"""Import a freqtrade futures data folder into the cache.

freqtrade stores one feather file per pair, timeframe and candle type, named
``<COIN>_<QUOTE>_<QUOTE>-<timeframe>-<type>.feather`` with columns ``date`` (UTC) and
``open, high, low, close, volume``. Types imported here:

* ``futures``: trade candles -> cache kind ``ohlcv``;
* ``mark``: mark-price candles -> kind ``mark`` (at their own timeframe);
* ``funding_rate``: funding settlements, the rate in column ``open`` -> kind ``funding``.

Imported rows are validated like downloaded ones and merged into what is cached (rows already
cached win on equal timestamps); each file's span becomes covered, so a later download only
fetches what lies outside it. This is the way to get Hyperliquid history older than the
5,000 candles its API serves.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from .cache import Cache, SeriesKey, add_interval, read_or_empty
from .fetch import SeriesResult
from .symbols import HOUR_MS, DataError, parse_coins, timeframe_millis, venue
from .validate import BAR_KINDS, COLUMNS, merge_series

FILE_PATTERN = re.compile(r"^(?P<coin>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)_(?P<settle>[A-Za-z0-9]+)"
                          r"-(?P<timeframe>\d+[smhdwM])-(?P<type>futures|mark|funding_rate)\.feather$")
KIND_OF_TYPE = {"futures": "ohlcv", "mark": "mark", "funding_rate": "funding"}


def freqtrade_files(directory: str | Path, quote: str) -> list[tuple[Path, str, str, str]]:
    """``(path, coin, kind, timeframe)`` of every importable file in ``directory`` (or its
    ``futures/`` subfolder) quoted in ``quote``."""
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DataError(f"freqtrade data folder {root} does not exist")
    found = []
    for folder in (root, root / "futures"):
        for path in sorted(folder.glob("*.feather")):
            m = FILE_PATTERN.match(path.name)
            if m and m["quote"] == quote and m["settle"] == quote:
                found.append((path, m["coin"].upper(), KIND_OF_TYPE[m["type"]], m["timeframe"]))
        if found:
            break
    if not found:
        names = sorted(p.name for p in root.rglob("*.feather"))[:12]
        raise DataError(f"no freqtrade futures files quoted in {quote} in {root} "
                        f"(expected e.g. BTC_{quote}_{quote}-1h-futures.feather); feather files there: {names}")
    return found


def import_freqtrade(
    directory: str | Path,
    exchange: str,
    coins: str | Sequence[str] | None = None,
    timeframes: str | Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
) -> list[SeriesResult]:
    """Import the freqtrade files of ``exchange`` (ccxt id) from ``directory`` into the cache.

    ``coins`` and ``timeframes`` (of candles and mark prices) restrict the import; by default
    everything found is imported. Funding files are imported whatever their timeframe.
    """
    v = venue(exchange)
    files = freqtrade_files(directory, v.quote)
    wanted_coins = parse_coins(coins) if coins is not None else None
    wanted_tfs = None
    if timeframes is not None:
        wanted_tfs = [t.strip() for t in (timeframes.split(",") if isinstance(timeframes, str) else timeframes)]
        for tf in wanted_tfs:
            timeframe_millis(tf)
    if wanted_coins:
        have = sorted({coin for _, coin, _, _ in files})
        missing = [c for c in wanted_coins if c not in have]
        if missing:
            raise DataError(f"{directory} has no {v.quote} files for {missing}; coins there: {have}")
    cache = Cache(cache_dir)
    results = []
    for path, coin, kind, tf in files:
        if wanted_coins and coin not in wanted_coins:
            continue
        if kind != "funding" and wanted_tfs and tf not in wanted_tfs:
            continue
        key = SeriesKey(v.id, coin, kind, None if kind == "funding" else tf)
        results.append(_import_file(cache, key, path))
    if not results:
        raise DataError(f"nothing in {directory} matches coins={wanted_coins} timeframes={wanted_tfs}")
    return results


def _import_file(cache: Cache, key: SeriesKey, path: Path) -> SeriesResult:
    raw = pd.read_feather(path)
    source = {"funding_rate": "open"} if key.kind == "funding" else {c: c for c in COLUMNS[key.kind]}
    missing = [c for c in ["date", *source.values()] if c not in raw.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; has {list(raw.columns)}")
    dates = pd.to_datetime(raw["date"], utc=True)
    frame = pd.DataFrame({"date": dates.astype("datetime64[ms, UTC]")})
    for column, src in source.items():
        frame[column] = raw[src].astype("float64").to_numpy()
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    bar_ms = timeframe_millis(key.timeframe) if key.kind in BAR_KINDS else None
    cached = read_or_empty(cache, key, bar_ms)
    merged = merge_series(frame, cached.frame)
    coverage = list(cached.coverage)
    if not frame.empty:
        ms = frame["date"].astype("int64")
        # funding files start at a settlement stamped a few ms into its hour: that hour is covered
        first = int(ms.iloc[0]) if bar_ms else int(ms.iloc[0]) // HOUR_MS * HOUR_MS
        coverage = add_interval(coverage, first, int(ms.iloc[-1]) + (bar_ms or 1))
    stats = cache.write(key, merged, coverage, bar_ms)
    return SeriesResult(key, cache.path(key), stats, added=stats.rows - cached.stats.rows, requests=0)
