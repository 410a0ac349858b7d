"""Columnar, append-only event ledger shared by all accounts of an exchange.

Rows are appended in batches straight from the engine's arrays (no per-row Python), into
preallocated numpy columns that double when full. Each row is one event of one position:

========== =====================================================================
kind       ``order`` (a fill of an order), ``stop_loss``, ``take_profit``,
           ``liquidation``, ``funding`` (one settlement), ``forfeit`` (collateral
           lost to a backstop or bankruptcy close, or a shortfall the exchange
           absorbed: negative)
account    row of the account in the batch
episode    episode counter of that account (bumped by :meth:`Ledger.new_episode`)
asset      asset column
bar        bar index in the MarketData (the event happens within that bar)
quantity   signed size change in coins (0 for funding/forfeit)
price      fill price (funding: the price the payment was computed on)
fee        fee paid, quote currency
realized   realized PnL of the fill, quote currency (before fees); on ``forfeit`` rows
           minus the amount forfeited
funding    funding paid (positive) or received (negative); on fills, the funding
           accrued by the position since its previous fill (for trade attribution)
maker      True for maker fills
leverage   leverage of the position the fill belongs to (0 for funding/forfeit)
========== =====================================================================

``level`` selects what is kept: ``"full"`` (everything), ``"fills"`` (no per-settlement
funding rows; funding still reaches trades through the ``funding`` column of fills) or
``"off"`` (nothing; totals remain in the account state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("order", "stop_loss", "take_profit", "liquidation", "funding", "forfeit")
ORDER, STOP_LOSS, TAKE_PROFIT, LIQUIDATION, FUNDING, FORFEIT = range(len(KINDS))
LEVELS = ("full", "fills", "off")

_COLUMNS = (
    ("kind", np.int8), ("account", np.int32), ("episode", np.int64), ("asset", np.int16), ("bar", np.int64),
    ("quantity", np.float64), ("price", np.float64), ("fee", np.float64), ("realized", np.float64),
    ("funding", np.float64), ("maker", np.bool_), ("leverage", np.float64),
)


class Ledger:
    """Append-only event table for ``n_accounts`` accounts (see the module docstring)."""

    def __init__(self, n_accounts: int, level: str = "full", capacity: int = 1024) -> None:
        if level not in LEVELS:
            raise ValueError(f"ledger level must be one of {LEVELS}, got {level!r}")
        self.level = level
        self.episode = np.zeros(n_accounts, np.int64)
        self._n = 0
        self._cols = {name: np.empty(capacity, dtype) for name, dtype in _COLUMNS}

    def __len__(self) -> int:
        return self._n

    @property
    def records_funding(self) -> bool:
        return self.level == "full"

    def new_episode(self, rows: np.ndarray) -> None:
        """Start a new episode for the selected accounts (bool mask or indices)."""
        self.episode[rows] += 1

    def clear(self) -> None:
        self._n = 0

    def append(self, kind: int, account: np.ndarray, asset: np.ndarray, bar: np.ndarray, quantity: np.ndarray,
               price: np.ndarray, fee: np.ndarray, realized: np.ndarray, funding: np.ndarray,
               maker: bool | np.ndarray = False, leverage: float | np.ndarray = 0.0) -> None:
        """Append ``len(account)`` rows; every argument is a 1-D array of that length (or scalar)."""
        if self.level == "off" or (kind == FUNDING and self.level != "full"):
            return
        k = len(account)
        if k == 0:
            return
        end = self._n + k
        if end > len(self._cols["kind"]):
            cap = max(end, 2 * len(self._cols["kind"]))
            for name, arr in self._cols.items():
                grown = np.empty(cap, arr.dtype)
                grown[: self._n] = arr[: self._n]
                self._cols[name] = grown
        c, sl = self._cols, slice(self._n, end)
        c["kind"][sl] = kind
        c["account"][sl] = account
        c["episode"][sl] = self.episode[account]
        c["asset"][sl] = asset
        c["bar"][sl] = bar
        c["quantity"][sl] = quantity
        c["price"][sl] = price
        c["fee"][sl] = fee
        c["realized"][sl] = realized
        c["funding"][sl] = funding
        c["maker"][sl] = maker
        c["leverage"][sl] = leverage
        self._n = end

    def columns(self) -> dict[str, np.ndarray]:
        """Views of the filled part of every column."""
        return {name: arr[: self._n] for name, arr in self._cols.items()}

    def frame(self, timestamps: np.ndarray | None = None, symbols: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The ledger as a DataFrame, with ``time`` (UTC) and ``symbol`` when the market is given."""
        import pandas as pd

        df = pd.DataFrame(self.columns())
        df["kind"] = pd.Categorical.from_codes(df["kind"].astype(int), categories=list(KINDS))
        if symbols is not None:
            df.insert(4, "symbol", np.asarray(symbols, dtype=object)[df["asset"].to_numpy()] if len(df) else [])
        if timestamps is not None:
            df.insert(0, "time", pd.DatetimeIndex(np.asarray(timestamps)[df["bar"].to_numpy()], tz="UTC"))
        return df
