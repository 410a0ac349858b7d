"""Columnar, append-only event ledger shared by all accounts of an exchange.

The compiled exchange kernel writes rows straight into two preallocated column blocks (one
float64, one int64) that double when a step could overflow them; columns are cut and typed only
when read. Within one step the rows of each account are in booking order; accounts' rows may
interleave across steps. Each row is one event of one position:

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
funding rows; funding still reaches trades through the ``funding`` column of fills),
``"episode"`` (every row of each account's current episode only: an account's rows are dropped
when it starts a new episode, so the ledger's memory is bounded by one episode) or ``"off"``
(nothing; totals remain in the account state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("order", "stop_loss", "take_profit", "liquidation", "funding", "forfeit")
ORDER, STOP_LOSS, TAKE_PROFIT, LIQUIDATION, FUNDING, FORFEIT = range(len(KINDS))
LEVELS = ("full", "fills", "episode", "off")

FLOAT_COLUMNS = ("quantity", "price", "fee", "realized", "funding", "leverage")
INT_COLUMNS = (("kind", np.int8), ("account", np.int32), ("episode", np.int64), ("asset", np.int16), ("bar", np.int64),
               ("maker", np.bool_))
INT_NAMES = tuple(name for name, _ in INT_COLUMNS)
COLUMN_ORDER = ("kind", "account", "episode", "asset", "bar", "quantity", "price", "fee", "realized", "funding",
                "maker", "leverage")


class Ledger:
    """Append-only event table for ``n_accounts`` accounts (see the module docstring)."""

    def __init__(self, n_accounts: int, level: str = "full", capacity: int = 1024) -> None:
        if level not in LEVELS:
            raise ValueError(f"ledger level must be one of {LEVELS}, got {level!r}")
        #: rows kept per event kind (what the kernel writes): ``"full"``, ``"fills"`` or ``"off"``
        self.level = "full" if level == "episode" else level
        #: ``"episode"`` when only each account's current episode is kept, else ``"all"``
        self.scope = "episode" if level == "episode" else "all"
        self.episode = np.zeros(n_accounts, np.int64)
        self._n = 0
        cap = capacity if level != "off" else 0
        self.float_block = np.empty((len(FLOAT_COLUMNS), cap))
        self.int_block = np.empty((len(INT_COLUMNS), cap), np.int64)

    def __len__(self) -> int:
        return self._n

    @property
    def records_funding(self) -> bool:
        return self.level == "full"

    def new_episode(self, rows: np.ndarray) -> None:
        """Start a new episode for the selected accounts (bool mask or indices); with the
        ``"episode"`` scope, their rows so far are dropped (the other accounts' rows stay, in order)."""
        self.episode[rows] += 1
        if self.scope != "episode" or not self._n:
            return
        selected = np.zeros(len(self.episode), bool)
        selected[rows] = True
        if selected.all():
            self._n = 0
            return
        keep = np.flatnonzero(~selected[self.int_block[INT_NAMES.index("account"), : self._n]])
        self.float_block[:, : len(keep)] = self.float_block[:, keep]
        self.int_block[:, : len(keep)] = self.int_block[:, keep]
        self._n = len(keep)

    def clear(self) -> None:
        self._n = 0

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` more rows (capacity doubles as needed)."""
        if self.level == "off":
            return
        end = self._n + rows
        cap = self.float_block.shape[1]
        if end <= cap:
            return
        cap = max(end, 2 * cap)
        for name in ("float_block", "int_block"):
            old = getattr(self, name)
            grown = np.empty((old.shape[0], cap), old.dtype)
            grown[:, : self._n] = old[:, : self._n]
            setattr(self, name, grown)

    def commit(self, n_rows: int) -> None:
        """Record that the blocks now hold ``n_rows`` rows (written in place by the kernel)."""
        self._n = n_rows

    def columns(self) -> dict[str, np.ndarray]:
        """The filled part of every column, typed (see the module docstring)."""
        n = self._n
        out = {name: self.float_block[j, :n] for j, name in enumerate(FLOAT_COLUMNS)}
        out.update({name: self.int_block[j, :n].astype(dtype) for j, (name, dtype) in enumerate(INT_COLUMNS)})
        return {name: out[name] for name in COLUMN_ORDER}

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
