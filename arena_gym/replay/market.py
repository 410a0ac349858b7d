"""Markets to replay a trade log on: a long-format Parquet/Feather file or folder, or the local cache.

Accepted market specifications (:func:`load_replay_market`):

* ``EXCHANGE-TIMEFRAME``, e.g. ``binance-15m`` or ``hyperliquid-1h``: candles and funding from
  the local cache that ``arena-gym download`` fills (``binance`` means ``binanceusdm``);
* a file in long format: columns ``coin`` (or ``symbol``), ``date``, ``open, high, low, close,
  volume``; optionally ``funding_rate`` (the rate settled in that bar);
* a folder of such files: candle files whose name contains the bar length (``..._15m_...``,
  ``...-1h-...``) and optional funding files whose name contains ``funding`` (columns ``coin,
  date, funding_rate``, stamped at settlement time).

From a folder, each coin's bars come from the file at the requested bar length; a coin that only
has shorter bars which divide it (e.g. 5m for a 15m market) is resampled to it (first open,
highest high, lowest low, last close, summed volume). Coins with neither are left out and listed
in :attr:`ReplayMarket.missing`. Contract specs come from the ``rules`` preset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from arena_gym.market.data import MarketData, MarketDataError, utc_timestamp
from arena_gym.market.timeframes import timeframe_seconds

_ALIASES = {"binance": "binanceusdm"}
_TIMEFRAME = re.compile(r"(?<![0-9a-z])(\d+)(m|h|d)(?![0-9a-z])", re.IGNORECASE)


@dataclass
class ReplayMarket:
    """A loaded market, what was resampled to build it and which requested coins it lacks."""

    market: MarketData
    resampled: dict[str, str] = field(default_factory=dict)   # coin -> source bar length
    missing: list[str] = field(default_factory=list)


def bar_length(timeframe: str) -> pd.Timedelta:
    """``"15m"`` -> 15 minutes; units as in :func:`~arena_gym.market.timeframes.timeframe_seconds`, any case."""
    return pd.Timedelta(seconds=timeframe_seconds(timeframe.lower()))


def load_replay_market(spec: str | Path, coins: Sequence[str], *, timeframe: str | None = None,
                       since=None, until=None, rules: str = "hyperliquid",
                       cache_dir: str | Path | None = None) -> ReplayMarket:
    """Load the market ``spec`` (module docstring) for ``coins`` between ``since`` and ``until``.

    ``timeframe`` is required for a folder that holds several bar lengths; for a cache
    specification it comes from the name. Bars outside ``[since, until)`` are dropped.
    """
    path = Path(spec)
    if path.exists():
        if path.is_dir():
            if timeframe is None:
                raise ValueError(f"{path} is a folder: give the bar length to use (e.g. --timeframe 15m)")
            return _from_folder(path, coins, bar_length(timeframe), since, until, rules)
        frame = _read(path)
        candles, funding = _split_long(frame, path)
        bar = bar_length(timeframe) if timeframe else None
        return _build(candles, funding, coins, bar, since, until, rules, path.stem, {})
    text = str(spec)
    if "-" not in text:
        raise FileNotFoundError(f"market {text!r} is neither an existing file or folder nor EXCHANGE-TIMEFRAME "
                                "(e.g. binance-15m, hyperliquid-1h)")
    exchange, tf = text.rsplit("-", 1)
    from arena_gym.data.load import load_cached_market

    market = load_cached_market(_ALIASES.get(exchange, exchange), list(coins), tf, since, until, cache_dir)
    return ReplayMarket(market=market.with_assets(_specs(market, rules)))


def _specs(market: MarketData, rules: str):
    from arena_gym.venue import asset_specs

    return asset_specs(list(market.symbols), rules)


def _read(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix == ".feather":
        return pd.read_feather(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    raise ValueError(f"{path}: unknown market file type {suffix!r}; use .parquet, .feather or .csv")


def _coin_column(frame: pd.DataFrame, path: Path) -> str:
    for key in ("coin", "symbol"):
        if key in frame.columns:
            return key
    raise MarketDataError(f"{path}: expected a 'coin' (or 'symbol') column in long format; has {list(frame.columns)}")


def _split_long(frame: pd.DataFrame, path: Path) -> tuple[dict[str, pd.DataFrame], dict[str, pd.Series]]:
    key = _coin_column(frame, path)
    if "date" not in frame.columns:
        raise MarketDataError(f"{path}: expected a 'date' column; has {list(frame.columns)}")
    candles, funding = {}, {}
    for coin, part in frame.groupby(key, sort=False):
        part = part.sort_values("date")
        candles[str(coin).upper()] = part
        if "funding_rate" in part.columns:
            funding[str(coin).upper()] = part.set_index("date")["funding_rate"]
    return candles, funding


def _from_folder(folder: Path, coins: Sequence[str], bar: pd.Timedelta, since, until, rules: str) -> ReplayMarket:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".parquet", ".pq", ".feather"))
    funding_files = [p for p in files if "funding" in p.name.lower()]
    by_bar: dict[pd.Timedelta, list[Path]] = {}
    for p in files:
        if p in funding_files or "mark" in p.name.lower():
            continue
        m = _TIMEFRAME.search(p.stem)
        if m:
            by_bar.setdefault(bar_length(m.group(0)), []).append(p)
    if not by_bar:
        raise FileNotFoundError(f"no candle files with a bar length in their name (e.g. *_15m_*.parquet) in {folder}; "
                                f"found {[p.name for p in files]}")
    candles: dict[str, pd.DataFrame] = {}
    resampled: dict[str, str] = {}
    finer = sorted((b for b in by_bar if b < bar and bar % b == pd.Timedelta(0)), reverse=True)
    for source in [bar] + finer:
        for p in by_bar.get(source, []):
            frame = _read(p)
            got, _ = _split_long(frame, p)
            for coin, part in got.items():
                if coin in coins and coin not in candles:
                    candles[coin] = part if source == bar else _resample(part, bar)
                    if source != bar:
                        resampled[coin] = _label(source)
    funding: dict[str, pd.Series] = {}
    for p in funding_files:
        frame = _read(p)
        key = _coin_column(frame, p)
        for coin, part in frame.groupby(key, sort=False):
            if str(coin).upper() in coins:
                funding[str(coin).upper()] = part.set_index("date")["funding_rate"]
    if not candles:
        have = {_label(b): [p.name for p in ps] for b, ps in by_bar.items()}
        raise FileNotFoundError(f"none of {list(coins)} has {_label(bar)} bars (or shorter bars dividing them) in "
                                f"{folder}; candle files: {have}")
    return _build(candles, funding, coins, bar, since, until, rules, f"{folder.name}-{_label(bar)}", resampled)


def _label(bar: pd.Timedelta) -> str:
    minutes = int(bar / pd.Timedelta(minutes=1))
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _resample(part: pd.DataFrame, bar: pd.Timedelta) -> pd.DataFrame:
    frame = part.set_index(pd.to_datetime(part["date"], utc=True))[["open", "high", "low", "close", "volume"]]
    out = frame.resample(bar, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    return out.dropna(subset=["close"]).rename_axis("date").reset_index()


def _build(candles: dict[str, pd.DataFrame], funding: dict[str, pd.Series], coins: Sequence[str],
           bar: pd.Timedelta | None, since, until, rules: str, name: str, resampled: dict[str, str]) -> ReplayMarket:
    present = [c for c in coins if c in candles]
    missing = [c for c in coins if c not in candles]
    if not present:
        raise MarketDataError(f"the market holds none of the coins {list(coins)}; it has {sorted(candles)}")
    lo = utc_timestamp(since) if since is not None else None
    hi = utc_timestamp(until) if until is not None else None

    def cut(frame):
        stamps = frame["date"] if "date" in getattr(frame, "columns", []) else frame.index
        dates = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True))
        keep = np.ones(len(frame), bool)
        if lo is not None:
            keep &= np.asarray(dates >= lo)
        if hi is not None:
            keep &= np.asarray(dates < hi)
        return frame[keep]

    market = MarketData.from_frames({c: cut(candles[c]) for c in present},
                                    {c: cut(funding[c]) for c in present if c in funding} or None,
                                    rules=rules, bar=bar, name=name)
    return ReplayMarket(market=market, resampled=resampled, missing=missing)
