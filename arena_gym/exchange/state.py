"""Batch-first account state: plain arrays, one row per account.

All money is in the quote currency. Shapes: (N,) per account, (N, A) per account and asset.

Accounting identity (checked by property tests at every step)::

    equity     = collateral + sum(unrealized_pnl)
    collateral = initial_capital + realized_pnl - fees_paid - funding_paid - forfeited

``collateral`` includes the margin locked in positions; ``isolated_margin`` is the part of it
assigned to each isolated position (all zeros in cross mode). ``funding_paid`` is positive
when the account paid funding and negative when it received it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .layout import (A_CAPITAL, A_COLLATERAL, A_FEES, A_FORFEITED, A_FUNDING, A_REALIZED, I_BAR, I_FILLS,
                     I_LIQUIDATIONS, N_ACC_FIELDS, N_IACC_FIELDS, N_POS_FIELDS, N_POS_INT_FIELDS, PI_OPENED, P_ENTRY,
                     P_LEVERAGE, P_MARGIN, P_MARK,
                     P_SIZE, P_STOP, P_TAKE, P_UPNL)

CROSS, ISOLATED = "cross", "isolated"


_ONES: dict[int, np.ndarray] = {}


def row_sum(x: np.ndarray) -> np.ndarray:
    """Sum over assets of an (N, A) array; a matrix product is several times faster than
    ``x.sum(axis=1)`` for the short rows of this layout."""
    n = x.shape[1]
    ones = _ONES.get(n)
    if ones is None:
        ones = _ONES[n] = np.ones(n)
    return x @ ones


#: Fields that a fresh account starts at zero (see :meth:`AccountState.new`).
_ZERO_ON_RESET = ("size", "entry", "leverage", "isolated_margin", "mark", "unrealized_pnl", "realized_pnl", "fees_paid",
                  "funding_paid", "forfeited", "n_fills", "n_liquidations", "bar")


@dataclass
class AccountState:
    """State of ``N`` accounts trading ``A`` assets (see the module docstring)."""

    initial_capital: np.ndarray   # (N,) starting collateral
    collateral: np.ndarray        # (N,)
    size: np.ndarray              # (N, A) signed coins, negative = short
    entry: np.ndarray             # (N, A) average entry price, 0 when flat
    leverage: np.ndarray          # (N, A) leverage of the open position, 0 when flat
    isolated_margin: np.ndarray   # (N, A) margin of isolated positions (0 in cross mode)
    stop_loss: np.ndarray         # (N, A) trigger price, NaN when none
    take_profit: np.ndarray       # (N, A) trigger price, NaN when none
    opened_bar: np.ndarray        # (N, A) int64 bar index the position was opened at, -1 when flat
    mark: np.ndarray              # (N, A) price of the last mark (a bar close)
    unrealized_pnl: np.ndarray    # (N, A) size x (mark - entry)
    realized_pnl: np.ndarray      # (N,) cumulative
    fees_paid: np.ndarray         # (N,) cumulative
    funding_paid: np.ndarray      # (N,) cumulative, positive = paid
    forfeited: np.ndarray         # (N,) collateral lost to backstop liquidations or bankruptcy closes
    n_fills: np.ndarray           # (N,) int64 fills of any kind
    n_liquidations: np.ndarray    # (N,) int64 positions liquidated
    closed: np.ndarray            # (N,) bool: account liquidated (cross) or bankrupt; it no longer trades
    bar: np.ndarray               # (N,) int64 index of the last processed bar (the observation time)

    @classmethod
    def new(cls, n_accounts: int, n_assets: int, initial_capital: float | np.ndarray) -> "AccountState":
        cap = np.broadcast_to(np.asarray(initial_capital, dtype=np.float64), (n_accounts,)).copy()
        if (cap <= 0).any() or not np.isfinite(cap).all():
            raise ValueError(f"initial capital must be positive and finite, got {initial_capital}")
        z = lambda: np.zeros((n_accounts, n_assets))
        return cls(
            initial_capital=cap, collateral=cap.copy(), size=z(), entry=z(), leverage=z(), isolated_margin=z(),
            stop_loss=np.full((n_accounts, n_assets), np.nan), take_profit=np.full((n_accounts, n_assets), np.nan),
            opened_bar=np.full((n_accounts, n_assets), -1, np.int64), mark=z(), unrealized_pnl=z(),
            realized_pnl=np.zeros(n_accounts), fees_paid=np.zeros(n_accounts), funding_paid=np.zeros(n_accounts),
            forfeited=np.zeros(n_accounts), n_fills=np.zeros(n_accounts, np.int64),
            n_liquidations=np.zeros(n_accounts, np.int64), closed=np.zeros(n_accounts, bool),
            bar=np.zeros(n_accounts, np.int64),
        )

    @property
    def n_accounts(self) -> int:
        return self.collateral.shape[0]

    @property
    def n_assets(self) -> int:
        return self.size.shape[1]

    @property
    def equity(self) -> np.ndarray:
        """(N,) collateral plus unrealized PnL at the last mark."""
        return self.collateral + row_sum(self.unrealized_pnl)

    @property
    def notional(self) -> np.ndarray:
        """(N, A) absolute position value at the last mark."""
        return np.abs(self.size) * self.mark

    @classmethod
    def packed(cls, n_accounts: int, n_assets: int, initial_capital: float | np.ndarray
               ) -> tuple["AccountState", np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A fresh state whose fields are views into the packed arrays the exchange kernel writes:
        returns ``(state, pos, pos_i, acc, iacc)`` (layout in :mod:`arena_gym.exchange.layout`;
        ``pos_i`` and ``iacc`` also hold rows that are not account state: the step's flags and
        report, the ledger's episode).

        Write into the fields (``state.size[...] = ...``); rebinding one (``state.size = ...``)
        detaches it from the exchange.
        """
        fresh = cls.new(n_accounts, n_assets, initial_capital)
        pos = np.zeros((N_POS_FIELDS, n_accounts, n_assets))
        acc = np.zeros((N_ACC_FIELDS, n_accounts))
        iacc = np.zeros((N_IACC_FIELDS, n_accounts), np.int64)
        pos_i = np.zeros((N_POS_INT_FIELDS, n_accounts, n_assets), np.int64)
        state = cls.over(pos, pos_i, acc, iacc, np.empty(n_accounts, bool))
        for f in fields(cls):
            getattr(state, f.name)[...] = getattr(fresh, f.name)
        return state, pos, pos_i, acc, iacc

    @classmethod
    def over(cls, pos: np.ndarray, pos_i: np.ndarray, acc: np.ndarray, iacc: np.ndarray, closed: np.ndarray
             ) -> "AccountState":
        """The state whose fields are views into the given packed arrays (see :meth:`packed`)."""
        return cls(
            size=pos[P_SIZE], entry=pos[P_ENTRY], leverage=pos[P_LEVERAGE], isolated_margin=pos[P_MARGIN],
            stop_loss=pos[P_STOP], take_profit=pos[P_TAKE], mark=pos[P_MARK], unrealized_pnl=pos[P_UPNL],
            initial_capital=acc[A_CAPITAL], collateral=acc[A_COLLATERAL], realized_pnl=acc[A_REALIZED],
            fees_paid=acc[A_FEES], funding_paid=acc[A_FUNDING], forfeited=acc[A_FORFEITED], n_fills=iacc[I_FILLS],
            n_liquidations=iacc[I_LIQUIDATIONS], bar=iacc[I_BAR], opened_bar=pos_i[PI_OPENED], closed=closed)

    def reset_rows(self, rows: np.ndarray, initial_capital: float | np.ndarray | None = None) -> None:
        """Reset the accounts selected by ``rows`` (bool mask, indices or slice) to a fresh start: the
        fields of :meth:`new`, written in place."""
        if isinstance(rows, np.ndarray) and rows.dtype == bool:
            rows = np.flatnonzero(rows)     # indexing by a few indices is cheaper than by a mask
        if initial_capital is not None:
            cap = np.broadcast_to(np.asarray(initial_capital, dtype=np.float64), (self.n_accounts,))
            if (cap <= 0).any() or not np.isfinite(cap).all():
                raise ValueError(f"initial capital must be positive and finite, got {initial_capital}")
            self.initial_capital[rows] = cap[rows]
        self.collateral[rows] = self.initial_capital[rows]
        for name in _ZERO_ON_RESET:
            getattr(self, name)[rows] = 0
        self.stop_loss[rows] = np.nan
        self.take_profit[rows] = np.nan
        self.opened_bar[rows] = -1
        self.closed[rows] = False

    def copy(self) -> "AccountState":
        return AccountState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})
