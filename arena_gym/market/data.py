"""`MarketData`: aligned, validated multi-asset bars shared read-only by every environment.

Layout and conventions
----------------------
* ``timestamps``: (T,) ``datetime64[ns]`` bar **open** times in UTC, uniformly spaced by
  ``bar_seconds``.
* ``open, high, low, close, volume, funding_rate``: (T, A) float64, C-contiguous, so one bar of
  every asset is one contiguous row. Volume is in coins.
* ``funding_rate[t, a]``: the rate settled at bar ``t`` (a fraction of notional, positive: longs
  pay shorts), 0 where no settlement falls in the bar. A settlement stamped inside a bar
  belongs to that bar; several settlements in one bar (e.g. hourly rates on 4h bars) are summed.
  The exchange core settles bar ``t``'s funding at the open of bar ``t``.
* ``mark``: optional (T, A) mark price at the bar open, used for funding when present.
* ``open_interest``: optional (T, A) open interest in coins (shown to LLMs where known).
* ``filled``: (T, A) bool, True for bars synthesized by the gap rule below.

Gap rule (the only one): on the common uniform grid, a missing bar of an asset becomes a flat
bar at the previous close (open = high = low = close), with zero volume and no funding, and is
flagged in ``filled``. The common grid spans from the latest first bar to the earliest last
bar across assets. Anything else that is wrong (NaN or inf, time going backwards, duplicate
timestamps, inconsistent OHLC, non-positive prices, negative volume, bars off the grid) raises
:class:`MarketDataError` naming the asset and the timestamp.

Growing in place
----------------
:meth:`MarketData.append` adds bars at the end of a market, for a source that serves bars as
they close (paper trading). The arrays become views of buffers whose capacity doubles (see
:mod:`arena_gym.row_buffer`), the markets derived from it by :meth:`~MarketData.select` and
:meth:`~MarketData.with_assets` follow, and the tables derived from it (indicators here,
observation features, the exchange's bar table) are extended by the new rows on their next
read, each equal to the table computed over all the bars at once. Arrays read before an append
keep their length: read them again. Append to the market the data was built as, not to one
derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..venue import AssetSpec, ExchangeRules, asset_specs
from ..row_buffer import RowBuffer
from .errors import MarketDataError
from .indicators import Indicators
from .registry import MarketRecipe, derive_market, file_fingerprint, rebuild_market, shared_market
from .timeframes import timeframe_seconds

PRICE_FIELDS = ("open", "high", "low", "close")
FIELDS = PRICE_FIELDS + ("volume",)


def utc_timestamp(value) -> pd.Timestamp:
    """``value`` (a timestamp, datetime or ISO string) as a UTC timestamp; naive values are taken as UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _ts(value) -> str:
    return str(utc_timestamp(value))


@dataclass(frozen=True, eq=False)
class MarketData:
    """Aligned bars of ``A`` assets over ``T`` uniform UTC bars (see the module docstring)."""

    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    funding_rate: np.ndarray
    assets: tuple[AssetSpec, ...]
    mark: np.ndarray | None = None
    open_interest: np.ndarray | None = None
    filled: np.ndarray | None = None
    name: str = "market"
    funding_interval_hours: int = 1
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    #: how to rebuild this market elsewhere: a :class:`~arena_gym.market.registry.MarketRecipe`,
    #: ``(parent, method, args)`` for a market derived from one that has a recipe, or ``None``
    #: (in-memory data: pickles its arrays). See :mod:`arena_gym.market.registry`.
    recipe: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        ts = np.asarray(self.timestamps)
        if ts.dtype.kind != "M":
            raise MarketDataError(f"timestamps must be datetime64, got {ts.dtype}")
        object.__setattr__(self, "timestamps", ts.astype("datetime64[ns]"))
        T, A = len(ts), len(self.assets)
        if T < 2:
            raise MarketDataError(f"need at least 2 bars, got {T}")
        for name in FIELDS + ("funding_rate",):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (T, A):
                raise MarketDataError(f"{name} has shape {arr.shape}, expected (T, A) = {(T, A)}")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        for name in ("mark", "open_interest"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.ascontiguousarray(arr, dtype=np.float64)
                if arr.shape != (T, A):
                    raise MarketDataError(f"{name} has shape {arr.shape}, expected {(T, A)}")
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)
        filled = np.zeros((T, A), bool) if self.filled is None else np.asarray(self.filled, bool)
        filled.setflags(write=False)
        object.__setattr__(self, "filled", filled)
        self.validate()

    # ------------------------------------------------------------------ pickling
    def __reduce__(self):
        """Pickle the recipe when there is one (a few hundred bytes; the receiving process
        rebuilds the market once and shares it), else the arrays without derived caches."""
        if isinstance(self.recipe, MarketRecipe):
            return rebuild_market, (self.recipe,)
        if isinstance(self.recipe, tuple):
            return derive_market, self.recipe
        state = {k: v for k, v in self.__dict__.items() if k not in ("_cache", "recipe")}
        return _market_from_state, (state,)

    def _derived(self, method: str, args: tuple) -> tuple | None:
        """The ``recipe`` of ``self.method(*args)``: derived from self when self can be rebuilt."""
        return (self, method, args) if self.recipe is not None else None

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`MarketDataError` on the first defect found (asset and time named)."""
        ts = self.timestamps.astype(np.int64)
        steps = np.diff(ts)
        if (steps <= 0).any():
            i = int(np.argmax(steps <= 0)) + 1
            kind = "duplicate timestamp" if steps[i - 1] == 0 else "time goes backwards"
            raise MarketDataError(f"{kind} at {_ts(self.timestamps[i])} (after {_ts(self.timestamps[i - 1])})")
        if (steps != steps[0]).any():
            i = int(np.argmax(steps != steps[0])) + 1
            raise MarketDataError(
                f"bars are not uniform: {pd.Timedelta(int(steps[i - 1]))} between {_ts(self.timestamps[i - 1])} "
                f"and {_ts(self.timestamps[i])}, expected {pd.Timedelta(int(steps[0]))}"
            )
        arrays = {n: getattr(self, n) for n in FIELDS + ("funding_rate",)}
        for n in ("mark", "open_interest"):
            if getattr(self, n) is not None:
                arrays[n] = getattr(self, n)
        for n, arr in arrays.items():
            bad = ~np.isfinite(arr)
            if bad.any():
                t, a = np.argwhere(bad)[0]
                raise MarketDataError(f"{n} of {self.assets[a].symbol} is {arr[t, a]} at {_ts(self.timestamps[t])}")
        checks = (
            ("non-positive price", (self.low <= 0)),
            ("high below open/close/low", (self.high < np.maximum(np.maximum(self.open, self.close), self.low))),
            ("low above open/close", (self.low > np.minimum(self.open, self.close))),
            ("negative volume", (self.volume < 0)),
        )
        for what, bad in checks:
            if bad.any():
                t, a = np.argwhere(bad)[0]
                o, h, l, c = (getattr(self, f)[t, a] for f in PRICE_FIELDS)
                raise MarketDataError(
                    f"{what} for {self.assets[a].symbol} at {_ts(self.timestamps[t])}: "
                    f"open={o} high={h} low={l} close={c} volume={self.volume[t, a]}"
                )

    def __repr__(self) -> str:
        """One line: name, assets, bars and span, and which optional fields it holds (the arrays
        themselves are no use on screen)."""
        from arena_gym.text_format import bar_length, utc_minute

        extras = [name for name in ("mark", "open_interest") if getattr(self, name) is not None]
        if self.filled.any():
            extras.append(f"{int(self.filled.any(axis=1).sum())} filled bars")
        return (f"MarketData({self.name!r}: {', '.join(self.symbols)}; {self.n_bars} bars of "
                f"{bar_length(self.bar_seconds)}, {utc_minute(self.timestamps[0])} .. {utc_minute(self.timestamps[-1])}; "
                f"funding every {self.funding_interval_hours} h{''.join(f'; {e}' for e in extras)})")

    # ------------------------------------------------------------------ shape and lookup
    @property
    def n_bars(self) -> int:
        return len(self.timestamps)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(a.symbol for a in self.assets)

    @property
    def bar_seconds(self) -> int:
        return int((self.timestamps[1] - self.timestamps[0]) // np.timedelta64(1, "s"))

    @property
    def bars_per_year(self) -> float:
        """Bars in 365 days (crypto trades every day)."""
        return 365.0 * 86400.0 / self.bar_seconds

    @property
    def indicators(self) -> Indicators:
        """The indicator set, computed once and shared (see :mod:`arena_gym.market.indicators`);
        extended by the new bars after :meth:`append`."""
        cached = self._cache.get("indicators")
        if cached is None:
            cached = self._cache["indicators"] = Indicators.compute(self.high, self.low, self.close, self.volume)
        elif cached.n_bars < self.n_bars:
            cached = self._cache["indicators"] = cached.extended(self.high, self.low, self.close, self.volume)
        return cached

    @property
    def bar_times(self) -> list[str]:
        """Every bar's open time as ISO text (``str`` of its timestamp), computed once."""
        cached = self._cache.get("bar_times")
        if cached is None:
            cached = self._cache["bar_times"] = np.datetime_as_string(self.timestamps).tolist()
        elif len(cached) < self.n_bars:
            cached.extend(np.datetime_as_string(self.timestamps[len(cached):]).tolist())
        return cached

    # ------------------------------------------------------------------ growing in place
    def append(self, timestamps, open, high, low, close, volume, funding_rate, *, filled=None, mark=None,
               open_interest=None) -> None:
        """Add ``n`` bars at the end, in place (see "Growing in place" in the module docstring).

        ``timestamps`` (n,) must continue the grid (the first one bar after the last); the fields
        are (n, A) in this market's asset order, with ``mark`` and ``open_interest`` exactly when
        the market has them. The new bars are validated as at construction; nothing changes when
        they are not valid.
        """
        ts = np.asarray(timestamps).astype("datetime64[ns]").reshape(-1)
        n, A = len(ts), self.n_assets
        if n == 0:
            return
        expected = self.timestamps[-1] + np.timedelta64(self.bar_seconds, "s")
        if ts[0] != expected:
            raise MarketDataError(f"appended bars start at {_ts(ts[0])}; the next bar of {self.name} opens at "
                                  f"{_ts(expected)}")
        for name, given in (("mark", mark), ("open_interest", open_interest)):
            if (given is None) != (getattr(self, name) is None):
                raise MarketDataError(f"{name} must be given exactly when the market has it")
        rows = {"timestamps": ts}
        for name, value in (("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume),
                            ("funding_rate", funding_rate), ("mark", mark), ("open_interest", open_interest)):
            if value is not None:
                rows[name] = np.asarray(value, np.float64).reshape(n, A)
        rows["filled"] = np.zeros((n, A), bool) if filled is None else np.asarray(filled, bool).reshape(n, A)
        seam = {k: np.concatenate([getattr(self, k)[-1:], v]) for k, v in rows.items()}
        MarketData(**seam, assets=self.assets, name=self.name, funding_interval_hours=self.funding_interval_hours)
        self._grow(rows)

    def _grow(self, rows: dict[str, np.ndarray]) -> None:
        """Append validated ``rows`` to this market and to the markets derived from it."""
        buffers = self._cache.setdefault("rows", {})
        for name, value in rows.items():
            buffer = buffers.get(name)
            if buffer is None:
                buffer = buffers[name] = RowBuffer(getattr(self, name))
            object.__setattr__(self, name, buffer.append(value))
        object.__setattr__(self, "recipe", None)   # a recipe rebuilds the bars it knew, not these
        for key, derived in list(self._cache.items()):
            if not isinstance(key, tuple) or not isinstance(derived, MarketData):
                continue
            if key[0] == "with_assets":            # the same bars under other specs: the same arrays
                for name in rows:
                    object.__setattr__(derived, name, getattr(self, name))
                object.__setattr__(derived, "recipe", None)
            elif key[0] == "select":
                idx = [self.symbols.index(s) for s in derived.symbols]
                derived._grow({k: v if k == "timestamps" else v[:, idx] for k, v in rows.items()})

    def index_of(self, when) -> int:
        """Index of the bar that contains ``when`` (a timestamp or ISO string, UTC)."""
        t = np.datetime64(utc_timestamp(when).tz_localize(None), "ns")
        i = int(np.searchsorted(self.timestamps, t, side="right")) - 1
        if i < 0 or t >= self.timestamps[-1] + np.timedelta64(self.bar_seconds, "s"):
            raise MarketDataError(f"{when} is outside the data ({_ts(self.timestamps[0])} .. {_ts(self.timestamps[-1])})")
        return i

    def slice(self, start: int, stop: int) -> "MarketData":
        """Bars ``start:stop`` as a new MarketData (array views, indicators recomputed lazily)."""
        sl = slice(start, stop)
        pick = lambda arr: None if arr is None else arr[sl]
        return replace(
            self, timestamps=self.timestamps[sl], open=self.open[sl], high=self.high[sl], low=self.low[sl],
            close=self.close[sl], volume=self.volume[sl], funding_rate=self.funding_rate[sl], mark=pick(self.mark),
            open_interest=pick(self.open_interest), filled=self.filled[sl], _cache={},
            recipe=self._derived("slice", (start, stop)),
        )

    def select(self, symbols: Sequence[str]) -> "MarketData":
        """A MarketData restricted to ``symbols`` (in that order); itself when nothing changes,
        so derived arrays (indicators, features) stay shared. The selection is made once per
        market and symbol list and then shared too."""
        symbols = tuple(symbols)
        if symbols == self.symbols:
            return self
        key = ("select", self.assets, symbols)
        if key in self._cache:
            return self._cache[key]
        missing = [s for s in symbols if s not in self.symbols]
        if missing:
            raise MarketDataError(f"assets {missing} not in this market; it has {list(self.symbols)}")
        idx = [self.symbols.index(s) for s in symbols]
        pick = lambda arr: None if arr is None else arr[:, idx]
        selected = replace(
            self, open=self.open[:, idx], high=self.high[:, idx], low=self.low[:, idx], close=self.close[:, idx],
            volume=self.volume[:, idx], funding_rate=self.funding_rate[:, idx], mark=pick(self.mark),
            open_interest=pick(self.open_interest), filled=self.filled[:, idx],
            assets=tuple(self.assets[i] for i in idx), _cache={}, recipe=self._derived("select", (symbols,)),
        )
        self._cache[key] = selected
        return selected

    def with_assets(self, assets: Sequence[AssetSpec]) -> "MarketData":
        """The same bars under other contract specs (e.g. another exchange preset)."""
        assets = tuple(assets)
        if [a.symbol for a in assets] != list(self.symbols):
            raise MarketDataError(f"specs {[a.symbol for a in assets]} do not match assets {list(self.symbols)}")
        if assets == self.assets:
            return self
        key = ("with_assets", self.assets, assets)
        if key not in self._cache:  # same bars: share derived arrays (and this memo) through one cache
            self._cache[key] = replace(self, assets=assets, _cache=self._cache,
                                       recipe=self._derived("with_assets", (assets,)))
        return self._cache[key]

    def resample(self, factor: int) -> "MarketData":
        """Aggregate every ``factor`` consecutive bars, aligned to multiples of the new bar length.

        Only complete groups are kept; funding is summed, volume summed, mark and open interest
        taken at the group's first and last bar respectively.
        """
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        if factor == 1:
            return self
        step = np.int64(self.bar_seconds) * factor * 1_000_000_000
        ts = self.timestamps.astype(np.int64)
        first = int(np.argmax(ts % step == 0)) if (ts % step == 0).any() else 0
        n = (self.n_bars - first) // factor
        if n < 2:
            raise MarketDataError(f"not enough bars to resample by {factor}")
        sl = slice(first, first + n * factor)
        g = lambda arr: arr[sl].reshape(n, factor, self.n_assets)
        return replace(
            self,
            timestamps=self.timestamps[sl][::factor],
            open=g(self.open)[:, 0], high=g(self.high).max(axis=1), low=g(self.low).min(axis=1),
            close=g(self.close)[:, -1], volume=g(self.volume).sum(axis=1), funding_rate=g(self.funding_rate).sum(axis=1),
            mark=None if self.mark is None else g(self.mark)[:, 0],
            open_interest=None if self.open_interest is None else g(self.open_interest)[:, -1],
            filled=g(self.filled).all(axis=1), name=f"{self.name}-x{factor}", _cache={},
            recipe=self._derived("resample", (factor,)),
        )

    def frame(self, symbol: str) -> pd.DataFrame:
        """One asset as a DataFrame indexed by UTC bar open time (for inspection and export)."""
        a = self.symbols.index(symbol)
        cols = {f: getattr(self, f)[:, a] for f in FIELDS + ("funding_rate",)}
        if self.mark is not None:
            cols["mark"] = self.mark[:, a]
        if self.open_interest is not None:
            cols["open_interest"] = self.open_interest[:, a]
        cols["filled"] = self.filled[:, a]
        return pd.DataFrame(cols, index=pd.DatetimeIndex(self.timestamps, tz="UTC", name="date"))

    def to_parquet(self, path: str | Path) -> Path:
        """Write the long-format parquet that :meth:`from_parquet` reads."""
        frames = [self.frame(s).reset_index().assign(coin=s) for s in self.symbols]
        out = Path(path)
        pd.concat(frames, ignore_index=True).to_parquet(out, index=False)
        return out

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_frames(
        cls,
        candles: Mapping[str, pd.DataFrame],
        funding: Mapping[str, pd.DataFrame | pd.Series] | None = None,
        *,
        rules: str | Path | ExchangeRules = "hyperliquid",
        assets: Sequence[AssetSpec] | None = None,
        mark: Mapping[str, pd.DataFrame | pd.Series] | None = None,
        open_interest: Mapping[str, pd.Series] | None = None,
        bar: str | pd.Timedelta | None = None,
        name: str = "market",
        funding_interval_hours: int | None = None,
    ) -> "MarketData":
        """Build from per-asset OHLCV frames (index or ``date`` column of timestamps).

        ``funding``: per-asset rates as a Series or a frame with a ``funding_rate`` (or, as in
        freqtrade files, ``open``) column, stamped at settlement time; stamps are floored to
        the bar. ``bar`` defaults to the most common spacing of the first asset. Naive
        timestamps are taken as UTC.
        """
        if not candles:
            raise MarketDataError("no candles given")
        symbols = list(candles)
        specs = tuple(assets) if assets is not None else asset_specs(symbols, rules)
        prepared = {s: _prepare_candles(s, df) for s, df in candles.items()}
        bar_td = pd.Timedelta(bar) if bar is not None else _infer_bar(symbols[0], prepared[symbols[0]])
        start = max(df.index[0] for df in prepared.values())
        end = min(df.index[-1] for df in prepared.values())
        if start > end:
            spans = {s: f"{df.index[0]} .. {df.index[-1]}" for s, df in prepared.items()}
            raise MarketDataError(f"assets do not overlap in time: {spans}")
        grid = pd.date_range(start, end, freq=bar_td, tz="UTC").as_unit("ns")
        T, A = len(grid), len(symbols)
        arrays = {f: np.empty((T, A)) for f in FIELDS}
        filled = np.zeros((T, A), bool)
        for a, s in enumerate(symbols):
            df = prepared[s]
            df = df[(df.index >= start) & (df.index <= end)]
            off = ~df.index.isin(grid)
            if off.any():
                raise MarketDataError(f"{s}: bar at {df.index[off][0]} is not on the {bar_td} grid starting {start}")
            re = df.reindex(grid)
            missing = re["close"].isna().to_numpy()
            filled[:, a] = missing
            close = re["close"].ffill().to_numpy()
            for f in PRICE_FIELDS:
                arrays[f][:, a] = np.where(missing, close, re[f].to_numpy())
            arrays["volume"][:, a] = np.where(missing, 0.0, re["volume"].to_numpy())
        rates = np.zeros((T, A))
        if funding:
            for a, s in enumerate(symbols):
                if s in funding:
                    rates[:, a] = _bucket(s, funding[s], grid, bar_td, "funding_rate", how="sum")
        mark_arr = None
        if mark:
            mark_arr = np.empty((T, A))
            for a, s in enumerate(symbols):
                if s not in mark:
                    raise MarketDataError(f"mark prices given for some assets but not {s}")
                mark_arr[:, a] = _bucket(s, mark[s], grid, bar_td, "mark", how="asof", fallback=arrays["open"][:, a])
        oi_arr = None
        if open_interest:
            oi_arr = np.zeros((T, A))
            for a, s in enumerate(symbols):
                if s in open_interest:
                    oi_arr[:, a] = _bucket(s, open_interest[s], grid, bar_td, "open_interest", how="asof", fallback=np.zeros(T))
        if funding_interval_hours is None:
            funding_interval_hours = rules.funding_interval_hours if isinstance(rules, ExchangeRules) else (
                8 if str(rules) == "binance-usdm" else 1)
        return cls(
            timestamps=grid.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]"),
            funding_rate=rates, assets=specs, mark=mark_arr, open_interest=oi_arr, filled=filled, name=name,
            funding_interval_hours=funding_interval_hours, **arrays,
        )

    @classmethod
    def from_freqtrade(
        cls,
        directory: str | Path,
        symbols: Sequence[str],
        timeframe: str = "1h",
        *,
        quote: str | None = None,
        rules: str | Path | ExchangeRules = "hyperliquid",
        with_funding: bool = True,
        name: str | None = None,
    ) -> "MarketData":
        """Load freqtrade futures feather files ``<COIN>_<Q>_<Q>-<tf>-futures.feather``.

        ``directory`` is a freqtrade data folder (``user_data/data/<exchange>``) or its
        ``futures/`` subfolder; the files are looked up in either. ``quote`` is the settlement
        currency in the file names (``USDC`` on Hyperliquid, ``USDT`` on Binance, ...); by
        default the one of the exchange ``rules`` when its files are there, else the one quote
        all of ``symbols`` have files in. Funding comes from
        ``<COIN>_<Q>_<Q>-<interval>-funding_rate.feather`` (rate stored in the ``open`` column,
        stamps a few ms past the settlement) when present. Loaded once per process for the same
        arguments and files (see :mod:`arena_gym.market.registry`).

        Raises:
            MarketDataError: one line naming the folder and what was expected in it (a missing
                folder, no futures files, a coin or timeframe without candles, several quotes).
        """
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise MarketDataError(f"freqtrade data folder {directory} does not exist (expected a folder of "
                                  f"<COIN>_<QUOTE>_<QUOTE>-<timeframe>-futures.feather files, e.g. "
                                  f"user_data/data/hyperliquid)")
        arguments = dict(directory=str(directory.resolve()), symbols=tuple(symbols), timeframe=timeframe,
                         quote=quote, rules=rules, with_funding=with_funding, name=name)
        files = [p for f in (directory, directory / "futures") for s in symbols for p in f.glob(f"{s}_*-*.feather")]
        recipe = MarketRecipe.of(_load_freqtrade, arguments, file_fingerprint(files))
        return shared_market(recipe, lambda: _load_freqtrade(**arguments))

    @classmethod
    def _load_freqtrade(cls, directory, symbols, timeframe, *, quote, rules, with_funding, name) -> "MarketData":
        directory = Path(directory)
        if not isinstance(rules, ExchangeRules):
            from ..venue import load_rules
            rules = load_rules(rules)
        folders = [f for f in (directory, directory / "futures") if f.is_dir()]
        quote = quote or _freqtrade_quote(folders, symbols, timeframe, rules.quote)
        candles, funding = {}, {}
        for s in symbols:
            file_name = f"{s}_{quote}_{quote}-{timeframe}-futures.feather"
            path = next((f / file_name for f in folders if (f / file_name).is_file()), None)
            if path is None:
                have = sorted({p.name for f in folders for p in f.glob("*-futures.feather")})
                raise MarketDataError(f"no candles for {s} at {timeframe} in {directory}: expected {file_name}; "
                                      f"futures files there: {', '.join(have[:8]) or 'none'}"
                                      f"{' ...' if len(have) > 8 else ''}")
            candles[s] = pd.read_feather(path)
            if with_funding:
                found = sorted(p for f in folders for p in f.glob(f"{s}_{quote}_{quote}-*-funding_rate.feather"))
                if found:
                    funding[s] = pd.read_feather(found[0])
        return cls.from_frames(candles, funding or None, rules=rules, bar=pd.Timedelta(seconds=timeframe_seconds(timeframe)),
                               name=name or f"{directory.name}-{timeframe}",
                               funding_interval_hours=rules.funding_interval_hours)

    @classmethod
    def from_parquet(cls, path: str | Path, *, rules: str | Path | ExchangeRules = "hyperliquid",
                     symbols: Sequence[str] | None = None, name: str | None = None) -> "MarketData":
        """Load long-format parquet: columns ``coin`` (or ``symbol``), ``date``, OHLCV, and optional
        ``funding_rate``, ``mark``, ``open_interest``. Rows with ``filled`` True are dropped and
        re-derived by the gap rule. Loaded once per process for the same arguments and file
        (see :mod:`arena_gym.market.registry`).

        Raises:
            MarketDataError: one line when the file is missing or is not parquet.
        """
        path = Path(path).expanduser()
        if not path.is_file():
            raise MarketDataError(f"parquet file {path} does not exist (expected a long-format file with columns "
                                  f"coin, date, open, high, low, close, volume)")
        arguments = dict(path=str(path.resolve()), rules=rules, symbols=None if symbols is None else tuple(symbols),
                         name=name)
        recipe = MarketRecipe.of(_load_parquet, arguments, file_fingerprint([path]))
        return shared_market(recipe, lambda: _load_parquet(**arguments))

    @classmethod
    def _load_parquet(cls, path, *, rules, symbols, name) -> "MarketData":
        try:
            df = pd.read_parquet(path)
        except Exception as err:  # pyarrow's errors for a file that is not parquet: one line, not a traceback
            raise MarketDataError(f"{path} is not a readable parquet file ({type(err).__name__}: "
                                  f"{str(err).splitlines()[0] if str(err) else 'no detail'})") from None
        key = "coin" if "coin" in df.columns else "symbol"
        if key not in df.columns or "date" not in df.columns:
            raise MarketDataError(f"{path}: expected columns 'coin' (or 'symbol') and 'date', got {list(df.columns)}")
        if "filled" in df.columns:
            df = df[~df["filled"].astype(bool)]
        symbols = list(symbols) if symbols else list(dict.fromkeys(df[key]))
        candles, funding, mark, oi = {}, {}, {}, {}
        for s in symbols:
            part = df[df[key] == s]
            if part.empty:
                raise MarketDataError(f"{path}: no rows for {s}; coins present: {sorted(df[key].unique())}")
            candles[s] = part
            if "funding_rate" in part.columns:
                funding[s] = part.set_index("date")["funding_rate"]
            if "mark" in part.columns:
                mark[s] = part.set_index("date")["mark"]
            if "open_interest" in part.columns:
                oi[s] = part.set_index("date")["open_interest"]
        return cls.from_frames(candles, funding or None, rules=rules, mark=mark or None, open_interest=oi or None,
                               name=name or Path(path).stem)


# ---------------------------------------------------------------------- helpers
def _freqtrade_quote(folders: list[Path], symbols: Sequence[str], timeframe: str, preferred: str) -> str:
    """The quote currency of the freqtrade futures files of ``symbols`` at ``timeframe``."""
    quotes: dict[str, set[str]] = {}
    for pattern in (f"*-{timeframe}-futures.feather", "*-futures.feather"):  # other timeframes tell the quote too
        for folder in folders:
            for path in folder.glob(pattern):
                coin, _, rest = path.name.partition("_")
                quotes.setdefault(rest.partition("_")[0], set()).add(coin)
        if quotes:
            break
    complete = [q for q, coins in quotes.items() if set(symbols) <= coins]
    if preferred in complete or not quotes:
        return preferred
    if not complete:  # the caller names the missing files, in the quote that has most of them
        return max(quotes, key=lambda q: (len(set(symbols) & quotes[q]), q == preferred))
    if len(complete) > 1:
        raise MarketDataError(f"{folders[0]} holds {timeframe} futures files of {', '.join(sorted(symbols))} in "
                              f"several quotes ({', '.join(sorted(complete))}); pass quote=...")
    return complete[0]


def _load_freqtrade(**arguments) -> MarketData:
    return MarketData._load_freqtrade(**arguments)


def _load_parquet(**arguments) -> MarketData:
    return MarketData._load_parquet(**arguments)


def _market_from_state(state: dict) -> MarketData:
    """Unpickle a market without a recipe: its arrays, read-only again, and an empty cache."""
    market = MarketData.__new__(MarketData)
    for value in state.values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    market.__dict__.update(state, _cache={}, recipe=None)
    return market


def _as_utc_index(symbol: str, df: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    if "date" in getattr(df, "columns", []):
        df = df.set_index("date")
    idx = pd.DatetimeIndex(pd.to_datetime(df.index))
    idx = (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")).as_unit("ns")
    out = df.copy()
    out.index = idx
    return out


def _prepare_candles(symbol: str, df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in FIELDS if c not in df.columns]
    if missing:
        raise MarketDataError(f"{symbol}: candles lack columns {missing}; have {list(df.columns)}")
    df = _as_utc_index(symbol, df)[list(FIELDS)].astype(float)
    if len(df) < 2:
        raise MarketDataError(f"{symbol}: need at least 2 candles, got {len(df)}")
    steps = np.diff(df.index.asi8)
    if (steps < 0).any():
        i = int(np.argmax(steps < 0)) + 1
        raise MarketDataError(f"{symbol}: time goes backwards at {df.index[i]} (after {df.index[i - 1]})")
    if (steps == 0).any():
        i = int(np.argmax(steps == 0)) + 1
        raise MarketDataError(f"{symbol}: duplicate timestamp {df.index[i]}")
    values = df.to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise MarketDataError(f"{FIELDS[c]} of {symbol} is {values[r, c]} at {df.index[r]}")
    return df


def _infer_bar(symbol: str, df: pd.DataFrame) -> pd.Timedelta:
    steps = pd.Series(np.diff(df.index.asi8))
    return pd.Timedelta(int(steps.mode().iloc[0]))


def _bucket(symbol: str, data, grid: pd.DatetimeIndex, bar: pd.Timedelta, column: str, how: str,
            fallback: np.ndarray | None = None) -> np.ndarray:
    """Map a timestamped series onto the bar grid: ``sum`` per bar, or ``asof`` (last known)."""
    if isinstance(data, pd.DataFrame):
        d = _as_utc_index(symbol, data)
        col = column if column in d.columns else ("open" if "open" in d.columns else None)
        if col is None:
            raise MarketDataError(f"{symbol}: {column} frame needs a '{column}' or 'open' column; has {list(d.columns)}")
        series = d[col].astype(float)
    else:
        series = _as_utc_index(symbol, data).astype(float)
    bad = ~np.isfinite(series.to_numpy())
    if bad.any():
        i = int(np.argmax(bad))
        raise MarketDataError(f"{column} of {symbol} is {series.iloc[i]} at {series.index[i]}")
    floored = series.index.floor(bar)
    if how == "sum":
        summed = series.groupby(floored).sum()
        return summed.reindex(grid, fill_value=0.0).to_numpy()
    last = series.groupby(floored).last().reindex(grid).ffill().to_numpy()
    return np.where(np.isnan(last), fallback, last)
