"""Checks applied to every series before it is written to the cache and after it is read.

A series is a DataFrame with a ``date`` column (``datetime64[ms, UTC]``, the bar open time for
candles, the settlement time for funding, the sample time for open interest) and the value
columns of its kind (:data:`COLUMNS`). Defects raise :class:`~arena_gym.data.symbols.DataError`
naming the series, the row's time and the values; gaps (bars the exchange did not report) are
not defects: they are counted and listed, and :class:`~arena_gym.market.MarketData` fills them
by its gap rule when the market is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .symbols import DataError, iso

#: Value columns stored for each kind.
COLUMNS = {
    "ohlcv": ("open", "high", "low", "close", "volume"),
    "mark": ("open", "high", "low", "close"),
    "funding": ("funding_rate",),
    "open_interest": ("open_interest",),
}

#: Kinds whose rows sit on the bar grid.
BAR_KINDS = ("ohlcv", "mark", "open_interest")


@dataclass(frozen=True)
class SeriesStats:
    """Summary of a valid series: row count, first and last time (ms) and bar gaps."""

    rows: int
    first: int | None
    last: int | None
    gaps: tuple[tuple[int, int], ...] = ()

    @property
    def missing_bars(self) -> int:
        return len(self.gaps)


def empty_series(kind: str) -> pd.DataFrame:
    """A series of ``kind`` with no rows (correct dtypes)."""
    cols = {"date": pd.Series([], dtype="datetime64[ms, UTC]")}
    cols.update({c: pd.Series([], dtype="float64") for c in COLUMNS[kind]})
    return pd.DataFrame(cols)


def series_from_rows(kind: str, rows: list[list[float]]) -> pd.DataFrame:
    """A series from ``[timestamp_ms, value, ...]`` rows (the column order of :data:`COLUMNS`)."""
    if not rows:
        return empty_series(kind)
    cols = ("date",) + COLUMNS[kind]
    arr = pd.DataFrame([r[: len(cols)] for r in rows], columns=cols)
    arr["date"] = pd.to_datetime(arr["date"].astype("int64"), unit="ms", utc=True).astype("datetime64[ms, UTC]")
    for c in COLUMNS[kind]:
        arr[c] = pd.to_numeric(arr[c], errors="coerce").astype("float64")
    return arr


def merge_series(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Union of two series of one kind; a time present in both keeps the row from ``new``."""
    if old.empty:
        out = new
    elif new.empty:
        out = old
    else:
        out = pd.concat([old, new], ignore_index=True)
    out = out.drop_duplicates("date", keep="last").sort_values("date", kind="stable")
    return out.reset_index(drop=True)


def validate_series(kind: str, frame: pd.DataFrame, where: str, bar_ms: int | None = None) -> SeriesStats:
    """Check one series (see the module docstring); returns its :class:`SeriesStats`.

    ``bar_ms`` is the bar length for bar kinds: rows must sit on multiples of it, and missing
    bars between rows are reported as gaps.
    """
    need = ("date",) + COLUMNS[kind]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing columns {missing}; has {list(frame.columns)}")
    dates = frame["date"]
    if not isinstance(dates.dtype, pd.DatetimeTZDtype) or str(dates.dtype.tz) != "UTC":
        raise DataError(f"{where}: timestamps must be UTC datetimes, got {dates.dtype}")
    if frame.empty:
        return SeriesStats(0, None, None)
    ms = dates.astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    steps = np.diff(ms)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        what = "duplicate timestamp" if steps[i - 1] == 0 else "time goes backwards"
        raise DataError(f"{where}: {what} at {iso(int(ms[i]))} (after {iso(int(ms[i - 1]))})")
    values = frame[list(COLUMNS[kind])].to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{where}: {COLUMNS[kind][c]} is {values[r, c]} at {iso(int(ms[r]))}")
    if kind in ("ohlcv", "mark"):
        _check_ohlc(frame, ms, where)
    if kind == "open_interest" and (values < 0).any():
        r = int(np.argmax((values < 0).any(axis=1)))
        raise DataError(f"{where}: negative open interest {values[r, 0]} at {iso(int(ms[r]))}")
    gaps: tuple[tuple[int, int], ...] = ()
    if kind in BAR_KINDS and bar_ms:
        off = ms % bar_ms != 0
        if off.any():
            raise DataError(f"{where}: row at {iso(int(ms[np.argmax(off)]))} is not on the {bar_ms // 1000}s bar grid")
        holes = np.flatnonzero(steps > bar_ms)
        gaps = tuple((int(ms[i]) + bar_ms, int(ms[i + 1])) for i in holes)
    return SeriesStats(len(frame), int(ms[0]), int(ms[-1]), gaps)


def _check_ohlc(frame: pd.DataFrame, ms: np.ndarray, where: str) -> None:
    o, h, l, c = (frame[f].to_numpy(dtype="float64") for f in ("open", "high", "low", "close"))
    checks = [
        ("non-positive price", l <= 0),
        ("high below open/close/low", h < np.maximum(np.maximum(o, c), l)),
        ("low above open/close", l > np.minimum(o, c)),
    ]
    if "volume" in frame.columns:
        checks.append(("negative volume", frame["volume"].to_numpy(dtype="float64") < 0))
    for what, bad in checks:
        if bad.any():
            r = int(np.argmax(bad))
            vol = f" volume={frame['volume'].iloc[r]}" if "volume" in frame.columns else ""
            raise DataError(f"{where}: {what} at {iso(int(ms[r]))}: open={o[r]} high={h[r]} low={l[r]} close={c[r]}{vol}")
