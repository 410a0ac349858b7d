"""Tiny hand-made markets for exact scenario tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from arena_gym.market import MarketData, load_rules

START = pd.Timestamp("2025-01-01", tz="UTC")


def bars_market(bars: dict[str, list[tuple[float, float, float, float]]], funding: dict[str, list[float]] | None = None,
                rules: str = "hyperliquid", volume: float = 1e9, fees: tuple[float, float] | None = None) -> MarketData:
    """A market from explicit (open, high, low, close) bars per symbol, 1h apart from START.

    ``funding[symbol][t]`` is the rate settled at bar ``t``. ``fees`` overrides (taker, maker).
    """
    n = len(next(iter(bars.values())))
    ts = pd.date_range(START, periods=n, freq="h")
    frames = {s: pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=ts).assign(volume=volume)
              for s, rows in bars.items()}
    fund = None if funding is None else {s: pd.Series(r, index=ts) for s, r in funding.items()}
    spec_rules = load_rules(rules)
    if fees is not None:
        spec_rules = spec_rules.with_fees(*fees)
    return MarketData.from_frames(frames, fund, rules=spec_rules)


def flat_bars(price: float, n: int) -> list[tuple[float, float, float, float]]:
    return [(price, price, price, price)] * n


def random_market(seed: int, n_bars: int = 400, symbols=("BTC", "ETH", "SOL"), vol: float = 0.01) -> MarketData:
    """A seeded random-walk market with consistent OHLC, volume and funding."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(START, periods=n_bars, freq="h")
    p0 = {"BTC": 100_000.0, "ETH": 4_000.0, "SOL": 190.0, "BNB": 1_100.0, "XRP": 2.5, "DOGE": 0.19}
    frames, funding = {}, {}
    for s in symbols:
        close = p0[s] * np.exp(np.cumsum(rng.normal(0, vol, n_bars)))
        open_ = np.r_[p0[s], close[:-1]] * np.exp(rng.normal(0, vol / 5, n_bars))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, vol / 2, n_bars)))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, vol / 2, n_bars)))
        frames[s] = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                                  "volume": rng.uniform(1e3, 1e4, n_bars) * 1e5 / p0[s]}, index=ts)
        funding[s] = pd.Series(rng.normal(1.25e-5, 3e-5, n_bars), index=ts)
    return MarketData.from_frames(frames, funding)
