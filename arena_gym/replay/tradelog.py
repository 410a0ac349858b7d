"""Recorded round-trip trades: load, validate and group into positions.

A trade log has one row per closed trade (the shape of the Alpha Arena / Hyperliquid API dump):

==============================  ==================================================================
``model_id``                    account the trade belongs to (any label: a model, a sub-account)
``symbol``                      base coin, e.g. ``BTC``
``quantity``                    size in coins; signed (negative = short), or all unsigned with ``side``
``side``                        optional ``long`` / ``short`` (signs an unsigned ``quantity``)
``entry_time``, ``exit_time``   fill times: epoch seconds, or anything ``pandas.to_datetime`` reads
                                (naive values are UTC)
``entry_price``, ``exit_price`` fill prices (quote currency per coin)
``entry_commission_dollars``,   optional fees paid on the entry / exit fills (quote currency)
``exit_commission_dollars``
``entry_crossed``,              optional taker flags: True when the fill crossed the spread
``exit_crossed``                (taker), False for a resting (maker) fill; missing = taker
``realized_gross_pnl``          optional recorded PnL before fees
``realized_net_pnl``            optional recorded PnL after fees (before funding)
==============================  ==================================================================

:func:`load_trade_log` returns a frame with canonical column names (:data:`LOG_COLUMNS`):
``row, model, symbol, quantity, entry_time, exit_time, entry_price, exit_price, entry_fee,
exit_fee, entry_maker, exit_maker, gross_pnl, net_pnl, position``. Optional values that are
absent are NaN (fees, PnL) or False (maker flags).

Positions: on an exchange that nets per coin (Hyperliquid, Binance one-way mode) an account
holds at most one position per coin, and a log may still show it as several rows, e.g. a
position built from two entries appears as two rows sharing one exit. :func:`position_ids`
numbers the positions: rows of one account and coin whose holding intervals overlap form one
position (touching intervals, an exit and a new entry at the same instant, do not). Recorded
and simulated values are compared per position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Columns a log must have (after renaming aliases), and the optional ones.
REQUIRED = ("model_id", "symbol", "quantity", "entry_time", "exit_time", "entry_price", "exit_price")
OPTIONAL = ("side", "entry_commission_dollars", "exit_commission_dollars", "entry_crossed", "exit_crossed",
            "realized_gross_pnl", "realized_net_pnl")

#: Canonical columns of a loaded log.
LOG_COLUMNS = ("row", "model", "symbol", "quantity", "entry_time", "exit_time", "entry_price", "exit_price",
               "entry_fee", "exit_fee", "entry_maker", "exit_maker", "gross_pnl", "net_pnl", "position")

_RENAME = {"model_id": "model", "entry_commission_dollars": "entry_fee", "exit_commission_dollars": "exit_fee",
           "realized_gross_pnl": "gross_pnl", "realized_net_pnl": "net_pnl"}


class TradeLogError(ValueError):
    """A trade log that cannot be replayed; the message names the column or the rows."""


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, Parquet or Feather file by its suffix."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"trade log {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix == ".feather":
        return pd.read_feather(path)
    raise TradeLogError(f"{path}: unknown file type {suffix!r}; use .csv, .parquet or .feather")


def load_trade_log(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Load and validate a trade log (module docstring); returns the canonical frame.

    Raises:
        TradeLogError: missing columns (named, with the columns present), unreadable times,
            non-positive prices, zero sizes, an exit before its entry, a ``side`` that
            contradicts the sign of ``quantity``, or long and short rows of one account and
            coin that overlap in time.
    """
    raw = read_table(source) if not isinstance(source, pd.DataFrame) else source
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise TradeLogError(f"trade log lacks columns {missing}; it has {list(raw.columns)}. "
                            f"Required: {list(REQUIRED)}; optional: {list(OPTIONAL)}")
    df = pd.DataFrame({"row": np.arange(len(raw))})
    df["model"] = raw["model_id"].astype(str).to_numpy()
    df["symbol"] = raw["symbol"].astype(str).str.upper().to_numpy()
    qty = pd.to_numeric(raw["quantity"], errors="coerce").to_numpy(float)
    if "side" in raw.columns:
        side = raw["side"].astype(str).str.lower().to_numpy()
        unknown = ~np.isin(side, ("long", "short"))
        if unknown.any():
            raise TradeLogError(f"column side must be 'long' or 'short'; row {int(np.argmax(unknown))} has "
                                f"{raw['side'].iloc[int(np.argmax(unknown))]!r}")
        sign = np.where(side == "long", 1.0, -1.0)
        if (qty < 0).any():                      # signed quantities: they must agree with side
            contradicts = (qty * sign) < 0
            if contradicts.any():
                i = int(np.argmax(contradicts))
                raise TradeLogError(f"row {i}: quantity {qty[i]} contradicts side {side[i]!r}")
        qty = np.abs(qty) * sign
    df["quantity"] = qty
    for col in ("entry_time", "exit_time"):
        df[col] = _times(raw[col], col)
    for col in ("entry_price", "exit_price"):
        df[col] = pd.to_numeric(raw[col], errors="coerce").to_numpy(float)
    for src in ("entry_commission_dollars", "exit_commission_dollars", "realized_gross_pnl", "realized_net_pnl"):
        df[_RENAME[src]] = pd.to_numeric(raw[src], errors="coerce").to_numpy(float) if src in raw.columns else np.nan
    for src, dst in (("entry_crossed", "entry_maker"), ("exit_crossed", "exit_maker")):
        df[dst] = ~_flags(raw[src], src) if src in raw.columns else False
    _check_values(df)
    df["position"] = position_ids(df)
    return df[list(LOG_COLUMNS)]


def _times(values: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        out = pd.to_datetime(values.astype(float), unit="s", utc=True)
    else:
        out = pd.to_datetime(values, utc=True, errors="coerce")
    bad = out.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise TradeLogError(f"column {name}: row {i} value {values.iloc[i]!r} is not a time "
                            "(epoch seconds or an ISO date-time)")
    return out.dt.as_unit("ns").reset_index(drop=True)


def _flags(values: pd.Series, name: str) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy()
    text = values.astype(str).str.strip().str.lower()
    known = text.isin(["true", "false", "1", "0", "1.0", "0.0"])
    if not known.all():
        i = int(np.argmax(~known.to_numpy()))
        raise TradeLogError(f"column {name} must hold true/false; row {i} has {values.iloc[i]!r}")
    return text.isin(["true", "1", "1.0"]).to_numpy()


def _check_values(df: pd.DataFrame) -> None:
    checks = (
        ("quantity is zero or not a number", ~np.isfinite(df["quantity"]) | (df["quantity"] == 0)),
        ("entry_price is not a positive number", ~(df["entry_price"] > 0)),
        ("exit_price is not a positive number", ~(df["exit_price"] > 0)),
        ("exit_time is before entry_time", df["exit_time"] < df["entry_time"]),
    )
    for what, bad in checks:
        bad = np.asarray(bad, bool)
        if bad.any():
            rows = np.flatnonzero(bad)
            first = df.iloc[rows[0]][["model", "symbol", "quantity", "entry_time", "exit_time"]].to_dict()
            raise TradeLogError(f"{what} in {len(rows)} row(s), first row {rows[0]}: {first}")


def position_ids(df: pd.DataFrame) -> np.ndarray:
    """Position number of every row (module docstring); rows of one position share it.

    Numbers are unique across the whole log and follow the order of first entry per account
    and coin.
    """
    out = np.empty(len(df), np.int64)
    next_id = 0
    order = df.sort_values(["model", "symbol", "entry_time", "row"], kind="stable")
    for (_, _), part in order.groupby(["model", "symbol"], sort=False):
        end = None
        sign = 0.0
        for idx, entry, exit_, qty in zip(part.index, part["entry_time"], part["exit_time"], part["quantity"]):
            if end is None or entry >= end:
                next_id += 1
                end, sign = exit_, np.sign(qty)
            elif np.sign(qty) != sign:
                raise TradeLogError(
                    f"{part.loc[idx, 'model']} {part.loc[idx, 'symbol']}: row {part.loc[idx, 'row']} "
                    f"({'long' if qty > 0 else 'short'}) overlaps an open position on the other side; a netted "
                    "account cannot hold both, so the log cannot be replayed as one account per model")
            else:
                end = max(end, exit_)
            out[idx] = next_id - 1
    return out
