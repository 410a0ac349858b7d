"""Prices and account of one account as plain data, beside the text prompt.

A rule-based policy for the decision env (or any policy) reads what the prompt says without
parsing it: :func:`account_snapshot` returns a JSON-friendly dict::

    {
      "time": "2025-01-08 07:00:00+00:00",   # open time (UTC) of the last closed bar
      "bar": 175,                             # its index in the market
      "prices": {"BTC": {"open": ..., "high": ..., "low": ..., "close": ...,
                         "mark": ..., "funding_rate": ..., "volume": ...}, ...},
      "account": {"equity": ..., "collateral": ..., "available_cash": ...,
                  "unrealized_pnl": ..., "realized_pnl": ..., "fees_paid": ...,
                  "funding_paid": ..., "initial_capital": ...},
      "positions": {"ETH": {"size": ..., "entry_price": ..., "mark_price": ..., "leverage": ...,
                            "margin": ..., "liquidation_price": ..., "unrealized_pnl": ...,
                            "stop_loss": ..., "take_profit": ..., "opened_at": ..., "notional": ...}},
    }

Units: prices and money in the quote currency (USD for the shipped markets), volume and
``size`` in coins (negative = short), ``funding_rate`` the fraction of notional settled at the
bar (0 where no settlement falls in it), ``mark`` the account's mark price (the close of the
last closed bar). ``stop_loss`` / ``take_profit`` are ``None`` when not set.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from .core import PerpCore


def account_snapshot(core: PerpCore, account: int = 0) -> dict[str, Any]:
    """The snapshot of ``account`` of ``core`` (layout in the module docstring)."""
    s, ex, m = core.exchange.state, core.exchange, core.market
    t = int(s.bar[account])
    prices = {
        symbol: {"open": float(m.open[t, a]), "high": float(m.high[t, a]), "low": float(m.low[t, a]),
                 "close": float(m.close[t, a]), "mark": float(s.mark[account, a]),
                 "funding_rate": float(m.funding_rate[t, a]), "volume": float(m.volume[t, a])}
        for a, symbol in enumerate(m.symbols)}
    account_view = {
        "equity": float(s.equity[account]), "collateral": float(s.collateral[account]),
        "available_cash": float(ex.available_margin()[account]),
        "unrealized_pnl": float(s.unrealized_pnl[account].sum()), "realized_pnl": float(s.realized_pnl[account]),
        "fees_paid": float(s.fees_paid[account]), "funding_paid": float(s.funding_paid[account]),
        "initial_capital": float(s.initial_capital[account])}
    positions = {}
    for p in core.positions(account):
        row = asdict(p)
        positions[row.pop("symbol")] = row
    return {"time": str(pd.Timestamp(m.timestamps[t], tz="UTC")), "bar": t, "prices": prices,
            "account": account_view, "positions": positions}
