"""Numeric observation features: scale-free, finite, float32, computed once per dataset.

Market features, per bar and asset (``MARKET_FEATURES``, in this order):

=================  =============================================  ==================
name               definition                                     unit / scale
=================  =============================================  ==================
log_return         ``log(close_t / close_{t-1})``                 percent
range              ``(high - low) / close``                       percent
close_vs_ema20     ``close / EMA20 - 1``                          percent
close_vs_ema50     ``close / EMA50 - 1``                          percent
macd               ``MACD / close``                               percent
rsi14              ``(RSI14 - 50) / 50``                          [-1, 1]
rsi7               ``(RSI7 - 50) / 50``                           [-1, 1]
atr14              ``ATR14 / close``                              percent
funding            funding rate settled at the bar                basis points
volume             ``log(volume / mean volume of last 20 bars)``  log ratio
=================  =============================================  ==================

The observation holds every market feature at the last closed bar, plus ``WINDOW_FEATURES``
(returns and ranges, the fast-moving ones) over the last ``lookback`` bars, oldest first.

Account features, per asset (``ACCOUNT_FEATURES``): signed position notional / equity,
unrealized PnL / equity, margin in use / equity, ``log1p(bars held) / 5``. Global features
(``GLOBAL_FEATURES``): ``log(equity / initial capital)``, total margin in use / equity, the
fraction of the episode elapsed. Every feature is clipped to ``[-CLIP, CLIP]``.

After a market grew in place (:meth:`~arena_gym.market.MarketData.append`) the tables here are
extended by the new bars' rows on their next read (each row reads bars up to its own only).
"""

from __future__ import annotations

import numpy as np

from ..market.data import MarketData
from ..row_buffer import RowBuffer

MARKET_FEATURES = ("log_return", "range", "close_vs_ema20", "close_vs_ema50", "macd", "rsi14", "rsi7", "atr14",
                   "funding", "volume")
ACCOUNT_FEATURES = ("exposure", "unrealized", "margin", "holding")
WINDOW_FEATURES = ("log_return", "range")
GLOBAL_FEATURES = ("log_equity", "margin_use", "episode_progress")
CLIP = 10.0


def observation_names(symbols: tuple[str, ...], lookback: int) -> tuple[str, ...]:
    """Name of every element of the numeric observation, in order.

    * window features, oldest bar first, then per asset, then per feature:
      ``"BTC.log_return[t-15]"`` ... ``"BTC.range[t]"`` (``t`` is the last closed bar);
    * market features at ``t``, per asset then per feature: ``"BTC.rsi14"``;
    * account features per asset: ``"BTC.exposure"``, ``"BTC.unrealized"``, ``"BTC.margin"``,
      ``"BTC.holding"``;
    * global features: ``"log_equity"``, ``"margin_use"``, ``"episode_progress"``.

    Definitions and units are in the module docstring.
    """
    names = [f"{s}.{f}[t-{lag}]" if lag else f"{s}.{f}[t]"
             for lag in range(lookback - 1, -1, -1) for s in symbols for f in WINDOW_FEATURES]
    names += [f"{s}.{f}" for s in symbols for f in MARKET_FEATURES]
    names += [f"{s}.{f}" for s in symbols for f in ACCOUNT_FEATURES]
    return tuple(names) + GLOBAL_FEATURES


def _features_of(market: MarketData, start: int) -> np.ndarray:
    """(T - start, A, F) float32 features of the bars ``start:``."""
    ind, rows = market.indicators, slice(start, market.n_bars)
    close = market.close[rows]
    prev = market.close[max(start - 1, 0):market.n_bars - 1]
    if start == 0:
        prev = np.concatenate([market.close[:1], prev])
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = [
            100.0 * np.log(close / prev),
            100.0 * (market.high[rows] - market.low[rows]) / close,
            100.0 * (close / ind.ema20[rows] - 1.0),
            100.0 * (close / ind.ema50[rows] - 1.0),
            100.0 * ind.macd[rows] / close,
            (ind.rsi14[rows] - 50.0) / 50.0,
            (ind.rsi7[rows] - 50.0) / 50.0,
            100.0 * ind.atr14[rows] / close,
            1e4 * market.funding_rate[rows],
            np.log(np.maximum(market.volume[rows], 1e-12) / np.maximum(ind.volume_avg[rows], 1e-12)),
        ]
    feats = np.stack(cols, axis=-1)  # (T, A, F)
    return np.clip(np.nan_to_num(feats, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP).astype(np.float32)


def _grown(market: MarketData, key: str, table: np.ndarray, rows_from) -> np.ndarray:
    """``table`` with the rows of the bars added since it was made (``rows_from(start)``),
    appended to the growing buffer kept for it under ``key`` (its write flag kept)."""
    if len(table) == market.n_bars:
        return table
    buffers = market._cache.setdefault("feature_buffers", {})
    if key not in buffers or buffers[key].n != len(table):
        buffers[key] = RowBuffer(table, frozen=not table.flags.writeable)
    return buffers[key].append(rows_from(len(table)))


def market_features(market: MarketData) -> np.ndarray:
    """(T, A, F) float32 features, cached on the MarketData (computed once per dataset)."""
    cached = market._cache.get("market_features")
    if cached is not None:
        feats = _grown(market, "market_features", cached, lambda start: _features_of(market, start))
    else:
        feats = _features_of(market, 0)
        feats.setflags(write=False)
    market._cache["market_features"] = feats
    return feats


def feature_rows(market: MarketData) -> tuple[np.ndarray, np.ndarray]:
    """``(current, window)`` row tables: (T, A * F) all features and (T, A * W) window features."""
    pick = [MARKET_FEATURES.index(f) for f in WINDOW_FEATURES]
    cached = market._cache.get("feature_rows")
    feats = market_features(market)
    if cached is None or len(cached[0]) != market.n_bars:
        window = None if cached is None else _grown(market, "window_rows", cached[1],
                                                    lambda start: feats[start:, :, pick].reshape(len(feats) - start, -1))
        if window is None:
            window = np.ascontiguousarray(feats[:, :, pick].reshape(market.n_bars, -1))
        cached = (np.ascontiguousarray(feats.reshape(market.n_bars, -1)), window)
        market._cache["feature_rows"] = cached
    return cached


def holding_feature(market: MarketData) -> np.ndarray:
    """(T,) float64 account feature ``log1p(k) / 5`` of a position held ``k`` bars, for every
    ``k`` a position can be held in this market (cached on the MarketData)."""
    cached = market._cache.get("holding_feature")
    if cached is None:
        cached = np.minimum(np.log1p(np.arange(market.n_bars, dtype=np.float64)) / 5.0, CLIP)
        cached.setflags(write=False)
    else:
        cached = _grown(market, "holding_feature", cached,
                        lambda start: np.minimum(np.log1p(np.arange(start, market.n_bars, dtype=np.float64)) / 5.0,
                                                 CLIP))
    market._cache["holding_feature"] = cached
    return cached
