"""The local market-data cache: one Parquet file per exchange, coin, timeframe and kind.

Location: the ``cache_dir`` argument when given, else the ``ARENA_GYM_CACHE`` environment
variable, else ``$XDG_CACHE_HOME/arena-gym`` (``~/.cache/arena-gym`` when XDG_CACHE_HOME is
unset). Layout::

    <cache>/<exchange>/<COIN>_<QUOTE>_<QUOTE>-<timeframe>-ohlcv.parquet          trade candles
    <cache>/<exchange>/<COIN>_<QUOTE>_<QUOTE>-<timeframe>-mark.parquet           mark-price candles
    <cache>/<exchange>/<COIN>_<QUOTE>_<QUOTE>-<timeframe>-open_interest.parquet  open interest
    <cache>/<exchange>/<COIN>_<QUOTE>_<QUOTE>-funding.parquet                    funding settlements

Funding settlements are events, not bars, so one funding file serves every timeframe.
Each file records, in its Parquet metadata, the time ranges already asked of the exchange
(its *coverage*, half-open ``[start, end)`` millisecond intervals), so a rerun fetches only
what is not covered yet, including ranges where the exchange had no data. Every write goes to
a temporary file in the same folder and then replaces the old file with :func:`os.replace`, so
a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .symbols import DataError, iso, venue
from .validate import COLUMNS, SeriesStats, empty_series, validate_series

ENV_VAR = "ARENA_GYM_CACHE"
META_KEY = b"arena_gym"
FORMAT_VERSION = 1

Interval = tuple[int, int]


def default_cache_dir() -> Path:
    """``$ARENA_GYM_CACHE``, else ``$XDG_CACHE_HOME/arena-gym``, else ``~/.cache/arena-gym``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "arena-gym"


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` when given, else :func:`default_cache_dir`."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


# ---------------------------------------------------------------------- coverage intervals
def add_interval(coverage: list[Interval], start: int, end: int) -> list[Interval]:
    """``coverage`` with ``[start, end)`` added; touching or overlapping intervals merge."""
    if end <= start:
        return list(coverage)
    merged: list[Interval] = []
    for a, b in sorted(list(coverage) + [(start, end)]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def uncovered(coverage: list[Interval], start: int, end: int) -> list[Interval]:
    """Parts of ``[start, end)`` that ``coverage`` does not contain, in time order."""
    holes, cursor = [], start
    for a, b in sorted(coverage):
        if b <= cursor or a >= end:
            continue
        if a > cursor:
            holes.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        holes.append((cursor, end))
    return holes


# ---------------------------------------------------------------------- series files
@dataclass(frozen=True)
class SeriesKey:
    """Identity of one cached series. ``timeframe`` is None for funding."""

    exchange: str
    coin: str
    kind: str
    timeframe: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in COLUMNS:
            raise DataError(f"unknown kind {self.kind!r}; kinds: {list(COLUMNS)}")
        if (self.kind == "funding") != (self.timeframe is None):
            raise DataError("funding series have no timeframe; every other kind needs one")

    @property
    def filename(self) -> str:
        q = venue(self.exchange).quote
        middle = "" if self.timeframe is None else f"-{self.timeframe}"
        return f"{self.coin}_{q}_{q}{middle}-{self.kind}.parquet"

    def describe(self) -> str:
        tf = f" {self.timeframe}" if self.timeframe else ""
        return f"{self.exchange} {self.coin}{tf} {self.kind}"


@dataclass(frozen=True)
class CachedSeries:
    """A series read from the cache with its coverage and validation summary."""

    key: SeriesKey
    frame: pd.DataFrame
    coverage: tuple[Interval, ...]
    stats: SeriesStats


class Cache:
    """Reads and atomically writes series files under one cache folder."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = resolve_cache_dir(root)

    def path(self, key: SeriesKey) -> Path:
        return self.root / venue(key.exchange).id / key.filename

    def read(self, key: SeriesKey, bar_ms: int | None = None) -> CachedSeries | None:
        """The cached series, or None when it has no file. A damaged file raises DataError."""
        path = self.path(key)
        if not path.exists():
            return None
        hint = f"delete {path} (or download again with --refresh) to rebuild it"
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as err:
            raise DataError(f"cache file {path} is unreadable ({err}); {hint}") from err
        meta = (table.schema.metadata or {}).get(META_KEY)
        try:
            info = json.loads(meta) if meta else None
            coverage = tuple((int(a), int(b)) for a, b in info["coverage"])
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(f"cache file {path} lacks arena-gym coverage metadata; {hint}") from err
        frame = table.to_pandas()
        if "date" in frame.columns and str(getattr(frame["date"].dtype, "tz", None)) == "UTC":
            frame["date"] = frame["date"].astype("datetime64[ms, UTC]")
        try:
            stats = validate_series(key.kind, frame, str(path), bar_ms)
        except DataError as err:
            raise DataError(f"{err}; {hint}") from err
        return CachedSeries(key, frame.reset_index(drop=True), coverage, stats)

    def write(self, key: SeriesKey, frame: pd.DataFrame, coverage: list[Interval],
              bar_ms: int | None = None) -> SeriesStats:
        """Validate ``frame`` and replace the file of ``key`` atomically; returns its stats."""
        path = self.path(key)
        frame = frame[["date", *COLUMNS[key.kind]]].reset_index(drop=True)
        stats = validate_series(key.kind, frame, key.describe(), bar_ms)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        info = {"version": FORMAT_VERSION, "exchange": venue(key.exchange).id, "coin": key.coin,
                "timeframe": key.timeframe, "kind": key.kind, "coverage": [list(iv) for iv in coverage]}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(info).encode()})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return stats

    def entries(self) -> list[tuple[Path, str]]:
        """Every cached file with a one-line description (span and rows), for listings."""
        out = []
        for path in sorted(self.root.glob("*/*.parquet")):
            try:
                meta = json.loads(pq.read_schema(path).metadata[META_KEY])
                rows = pq.read_metadata(path).num_rows
                cov = meta["coverage"]
                span = f"{iso(cov[0][0])} .. {iso(cov[-1][1])}" if cov else "empty"
                tf = f" {meta['timeframe']}" if meta.get("timeframe") else ""
                out.append((path, f"{meta['exchange']} {meta['coin']}{tf} {meta['kind']}: {rows} rows, covers {span}"))
            except Exception as err:  # a listing must not stop at one bad file
                out.append((path, f"unreadable ({type(err).__name__})"))
        return out

    def describe(self) -> str:
        """Multi-line text of :meth:`entries`, or a note that the cache is empty."""
        lines = [text for _, text in self.entries()]
        return "\n".join(f"  {line}" for line in lines) if lines else f"  (nothing cached under {self.root})"


def read_or_empty(cache: Cache, key: SeriesKey, bar_ms: int | None) -> CachedSeries:
    """The cached series, or an empty one with no coverage when no file exists."""
    found = cache.read(key, bar_ms)
    if found is not None:
        return found
    return CachedSeries(key, empty_series(key.kind), (), SeriesStats(0, None, None))
