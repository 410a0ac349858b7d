"""Round-trip trades derived from the ledger (pandas; used at the edges, never in ``step``).

A trade runs from the fill that opens a position (flat to non-zero) to the fill that brings it
back to zero; a flip closes one trade and opens the next at the same fill, its fee split in
proportion to the two parts. Columns (units: coins, quote currency, UTC times):

===============  ==========================================================================
account          row of the account; ``episode`` its episode counter
asset, symbol    asset column and symbol
side             +1 long, -1 short
entry_time       time of the opening fill's bar; ``exit_time`` of the closing fill's bar
entry_price      volume-weighted average price of the fills that built the position
exit_price       volume-weighted average price of the fills that reduced it
size             largest absolute size reached (coins)
gross_pnl        realized PnL before fees and funding
fees             fees of the trade's fills
funding          funding paid while the trade was open (negative: received)
net_pnl          ``gross_pnl - fees - funding``
holding_bars     bars from the opening fill to the closing fill
leverage         highest leverage the position was opened or resized at
exit_reason      ``order``, ``stop_loss``, ``take_profit``, ``liquidation`` or ``end`` (still
                 open: valued at the last mark, no exit fee)
===============  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .ledger import FORFEIT, FUNDING, KINDS, Ledger

TRADE_COLUMNS = ("account", "episode", "asset", "symbol", "side", "entry_time", "exit_time", "entry_price",
                 "exit_price", "size", "gross_pnl", "fees", "funding", "net_pnl", "holding_bars", "leverage",
                 "exit_reason")


@dataclass
class _OpenTrade:
    side: float
    entry_bar: int
    size: float = 0.0
    peak: float = 0.0
    entry_qty: float = 0.0
    entry_notional: float = 0.0
    exit_qty: float = 0.0
    exit_notional: float = 0.0
    gross: float = 0.0
    fees: float = 0.0
    funding: float = 0.0
    leverage: float = 0.0
    rows: list = field(default_factory=list)

    def grow(self, qty: float, price: float, fee: float, leverage: float) -> None:
        self.size += qty
        self.peak = max(self.peak, self.size)
        self.entry_qty += qty
        self.entry_notional += qty * price
        self.fees += fee
        self.leverage = max(self.leverage, leverage)

    def shrink(self, qty: float, price: float, fee: float, realized: float) -> None:
        self.size -= qty
        self.exit_qty += qty
        self.exit_notional += qty * price
        self.fees += fee
        self.gross += realized


def trades_from_ledger(ledger: Ledger, timestamps: np.ndarray, symbols: tuple[str, ...],
                       open_positions: dict | None = None) -> pd.DataFrame:
    """Closed (and, with ``open_positions``, still-open) trades as a DataFrame (module docstring).

    ``open_positions`` maps ``(account, episode, asset)`` to ``(mark_price, bar, accrued_funding,
    entry_price)`` for positions to value at their last mark with ``exit_reason="end"``.
    """
    cols = ledger.columns()
    fills = (cols["kind"] != FUNDING) & (cols["kind"] != FORFEIT)
    order = np.lexsort((np.arange(len(cols["kind"])), cols["asset"], cols["episode"], cols["account"]))
    order = order[fills[order]]
    records, books = [], {}
    ts = pd.DatetimeIndex(np.asarray(timestamps), tz="UTC")

    def finish(key, trade: _OpenTrade, exit_bar: int, reason: str) -> None:
        acc, ep, asset = key
        records.append({
            "account": acc, "episode": ep, "asset": asset, "symbol": symbols[asset], "side": int(trade.side),
            "entry_time": ts[trade.entry_bar], "exit_time": ts[exit_bar],
            "entry_price": trade.entry_notional / trade.entry_qty,
            "exit_price": trade.exit_notional / trade.exit_qty if trade.exit_qty else np.nan,
            "size": trade.peak, "gross_pnl": trade.gross, "fees": trade.fees, "funding": trade.funding,
            "net_pnl": trade.gross - trade.fees - trade.funding, "holding_bars": exit_bar - trade.entry_bar,
            "leverage": trade.leverage, "exit_reason": reason,
        })

    for i in order:
        key = (int(cols["account"][i]), int(cols["episode"][i]), int(cols["asset"][i]))
        q, price, fee = float(cols["quantity"][i]), float(cols["price"][i]), float(cols["fee"][i])
        realized, bar, lev = float(cols["realized"][i]), int(cols["bar"][i]), float(cols["leverage"][i])
        trade = books.get(key)
        if trade is not None:
            trade.funding += float(cols["funding"][i])
        if trade is None or np.sign(q) == trade.side:
            if trade is None:
                trade = books[key] = _OpenTrade(side=float(np.sign(q)), entry_bar=bar)
            trade.grow(abs(q), price, fee, lev)
            continue
        closing = min(abs(q), trade.size)
        trade.shrink(closing, price, fee * closing / abs(q), realized)
        if trade.size <= 1e-12 * max(trade.peak, 1.0):
            finish(key, trade, bar, KINDS[int(cols["kind"][i])])
            del books[key]
            rest = abs(q) - closing
            if rest > 1e-12 * abs(q):
                books[key] = _OpenTrade(side=float(np.sign(q)), entry_bar=bar)
                books[key].grow(rest, price, fee * rest / abs(q), lev)

    for key, trade in books.items():
        if open_positions and key in open_positions:
            mark, bar, accrued, entry = open_positions[key]
            trade.funding += accrued
            trade.shrink(trade.size, mark, 0.0, trade.side * trade.size * (mark - entry))
            finish(key, trade, bar, "end")
    frame = pd.DataFrame.from_records(records, columns=list(TRADE_COLUMNS))
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values(["account", "episode", "entry_time", "asset"], ignore_index=True)
