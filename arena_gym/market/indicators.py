"""Technical indicators, computed once per dataset on whole (T, A) arrays.

Every indicator is causal: the value at bar ``t`` uses bars ``<= t`` only (a property test
checks this by altering data after ``t``). Conventions match common charting packages and the
contest's prompts:

* EMA: recursive, ``alpha = 2 / (span + 1)``, seeded with the first value.
* MACD: ``EMA12(close) - EMA26(close)`` (the line, not the histogram).
* RSI(n): Wilder smoothing (``alpha = 1 / n``) of gains and losses; 50 when both are zero.
* ATR(n): Wilder smoothing of the true range ``max(h - l, |h - c_prev|, |l - c_prev|)``.
* Average volume: simple mean of the last ``n`` bars (fewer during warm-up).

Values during an indicator's warm-up are defined (never NaN) so that observations stay
finite; ``warmup_bars`` tells how many bars a policy should skip before trusting them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Bars after which every indicator here is past its warm-up (EMA50 dominates).
WARMUP_BARS = 50


def ema(x: np.ndarray, span: float) -> np.ndarray:
    """Exponential moving average along axis 0 of a (T,) or (T, A) array."""
    return pd.DataFrame(x).ewm(span=span, adjust=False).mean().to_numpy().reshape(x.shape)


def wilder(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing (an EMA with ``alpha = 1 / n``) along axis 0."""
    return pd.DataFrame(x).ewm(alpha=1.0 / n, adjust=False).mean().to_numpy().reshape(x.shape)


def macd(close: np.ndarray, fast: int = 12, slow: int = 26) -> np.ndarray:
    """MACD line: ``EMA(fast) - EMA(slow)`` of the close."""
    return ema(close, fast) - ema(close, slow)


def rsi(close: np.ndarray, n: int) -> np.ndarray:
    """Relative strength index in [0, 100] with Wilder smoothing; the first bar is 50."""
    delta = np.diff(close, axis=0, prepend=close[:1])
    gain = wilder(np.clip(delta, 0.0, None), n)
    loss = wilder(np.clip(-delta, 0.0, None), n)
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 100.0 * gain / np.where(total > 0, total, 1.0), 50.0)
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    prev_close = np.concatenate([close[:1], close[:-1]], axis=0)
    return np.maximum.reduce([high - low, np.abs(high - prev_close), np.abs(low - prev_close)])


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """Average true range with Wilder smoothing, in price units."""
    return wilder(true_range(high, low, close), n)


def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Trailing simple mean over up to ``n`` bars along axis 0."""
    return pd.DataFrame(x).rolling(n, min_periods=1).mean().to_numpy().reshape(x.shape)


@dataclass(frozen=True)
class Indicators:
    """The indicator set of one dataset; every array is (T, A) float64, causal."""

    ema20: np.ndarray
    ema50: np.ndarray
    macd: np.ndarray
    rsi7: np.ndarray
    rsi14: np.ndarray
    atr3: np.ndarray
    atr14: np.ndarray
    volume_avg: np.ndarray

    @classmethod
    def compute(cls, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> "Indicators":
        return cls(
            ema20=ema(close, 20),
            ema50=ema(close, 50),
            macd=macd(close),
            rsi7=rsi(close, 7),
            rsi14=rsi(close, 14),
            atr3=atr(high, low, close, 3),
            atr14=atr(high, low, close, 14),
            volume_avg=rolling_mean(volume, 20),
        )
