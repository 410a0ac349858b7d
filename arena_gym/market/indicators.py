"""Technical indicators, computed once per dataset on whole (T, A) arrays.

Every indicator is causal: the value at bar ``t`` uses bars ``<= t`` only (a property test
checks this by altering data after ``t``). Conventions match common charting packages and the
contest's prompts:

* EMA: recursive, ``alpha = 2 / (span + 1)``, seeded with the first value.
* MACD: ``EMA12(close) - EMA26(close)`` (the line, not the histogram).
* RSI(n): Wilder smoothing (``alpha = 1 / n``) of gains and losses; 50 when both are zero.
* ATR(n): Wilder smoothing of the true range ``max(h - l, |h - c_prev|, |l - c_prev|)``.
* Average volume: simple mean of the last ``n`` bars (fewer during warm-up), summed oldest
  first, so a value depends on its window only.

Values during an indicator's warm-up are defined (never NaN) so that observations stay
finite; ``warmup_bars`` tells how many bars a policy should skip before trusting them.

A market that grows in place (:meth:`~arena_gym.market.MarketData.append`) extends its set with
:meth:`Indicators.extended`: each recursive average continues from its last value with the
recursion pandas' ``ewm(adjust=False)`` runs (``y = ((1 - a) * y_prev + a * x) / ((1 - a) + a)``,
``y_prev`` kept when ``x`` equals it, ``a`` from the span or alpha as pandas derives it), so the
extended set equals the one computed over all the bars at once (a test checks it bit for bit),
at a cost per new bar that does not grow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ..row_buffer import RowBuffer

#: Bars after which every indicator here is past its warm-up (EMA50 dominates).
WARMUP_BARS = 50


def ema(x: np.ndarray, span: float, last: np.ndarray | None = None) -> np.ndarray:
    """Exponential moving average along axis 0 of a (T,) or (T, A) array; with ``last`` (the
    average at the bar before ``x[0]``), its continuation."""
    return _continued(x, last, span=span)


def wilder(x: np.ndarray, n: int, last: np.ndarray | None = None) -> np.ndarray:
    """Wilder's smoothing (an EMA with ``alpha = 1 / n``) along axis 0; ``last`` as in :func:`ema`."""
    return _continued(x, last, alpha=1.0 / n)


def _continued(x: np.ndarray, last: np.ndarray | None, span: float | None = None,
               alpha: float | None = None) -> np.ndarray:
    if last is None:
        weights = {"span": span} if span is not None else {"alpha": alpha}
        return pd.DataFrame(x).ewm(adjust=False, **weights).mean().to_numpy().reshape(x.shape)
    com = (span - 1) / 2 if span is not None else (1 - alpha) / alpha   # pandas' centre of mass
    a = 1.0 / (1.0 + com)
    keep = 1.0 - a
    out = np.empty(x.shape)
    prev = np.asarray(last, np.float64)
    for i in range(len(x)):
        cur = x[i]
        prev = np.where(prev != cur, (keep * prev + a * cur) / (keep + a), prev)
        out[i] = prev
    return out


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


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray, prev_close: np.ndarray | None = None) -> np.ndarray:
    """``max(h - l, |h - c_prev|, |l - c_prev|)``; ``prev_close`` is the close before ``close[0]``
    (default: ``close[0]`` itself)."""
    before = close[:1] if prev_close is None else np.asarray(prev_close).reshape(1, *close.shape[1:])
    prev_close = np.concatenate([before, close[:-1]], axis=0)
    return np.maximum.reduce([high - low, np.abs(high - prev_close), np.abs(low - prev_close)])


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """Average true range with Wilder smoothing, in price units."""
    return wilder(true_range(high, low, close), n)


def rolling_mean(x: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Trailing simple mean over up to ``n`` bars along axis 0, for the rows ``start:`` of ``x``
    (each from ``x`` itself: a row's mean reads its own window only, summed oldest first)."""
    x = np.asarray(x, np.float64)
    rows = np.arange(start, len(x))
    lo = np.maximum(rows - n + 1, 0)
    total = np.zeros((len(rows), *x.shape[1:]))
    for j in range(n):
        idx = lo + j
        inside = idx <= rows
        total[inside] += x[idx[inside]]
    count = (rows - lo + 1).astype(np.float64)
    return total / count.reshape(-1, *([1] * (x.ndim - 1)))


def _rsi_of(gain: np.ndarray, loss: np.ndarray) -> np.ndarray:
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * gain / np.where(total > 0, total, 1.0), 50.0)


@dataclass(frozen=True)
class Indicators:
    """The indicator set of one dataset; every array is (T, A) float64, causal.

    ``ema12``, ``ema26`` (the MACD's averages) and the smoothed gains and losses of the RSIs are
    kept so that :meth:`extended` can continue every recursion."""

    ema20: np.ndarray
    ema50: np.ndarray
    macd: np.ndarray
    rsi7: np.ndarray
    rsi14: np.ndarray
    atr3: np.ndarray
    atr14: np.ndarray
    volume_avg: np.ndarray
    ema12: np.ndarray
    ema26: np.ndarray
    gain7: np.ndarray
    loss7: np.ndarray
    gain14: np.ndarray
    loss14: np.ndarray
    _rows: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_bars(self) -> int:
        return len(self.ema20)

    @classmethod
    def compute(cls, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> "Indicators":
        delta = np.diff(close, axis=0, prepend=close[:1])
        up, down = np.clip(delta, 0.0, None), np.clip(-delta, 0.0, None)
        gain7, loss7, gain14, loss14 = wilder(up, 7), wilder(down, 7), wilder(up, 14), wilder(down, 14)
        ema12, ema26 = ema(close, 12), ema(close, 26)
        tr = true_range(high, low, close)
        return cls(ema20=ema(close, 20), ema50=ema(close, 50), macd=ema12 - ema26, rsi7=_rsi_of(gain7, loss7),
                   rsi14=_rsi_of(gain14, loss14), atr3=wilder(tr, 3), atr14=wilder(tr, 14),
                   volume_avg=rolling_mean(volume, 20), ema12=ema12, ema26=ema26, gain7=gain7, loss7=loss7,
                   gain14=gain14, loss14=loss14)

    def extended(self, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> "Indicators":
        """The set over ``close`` etc., which extend the bars this set was computed on by new rows
        at the end: only the new rows are computed (equal to :meth:`compute` over all of them)."""
        n = self.n_bars
        if len(close) == n:
            return self
        new = slice(n, len(close))
        c, last = close[new], self.n_bars - 1
        delta = c - close[n - 1:len(close) - 1]
        up, down = np.clip(delta, 0.0, None), np.clip(-delta, 0.0, None)
        rows = {"ema20": ema(c, 20, self.ema20[last]), "ema50": ema(c, 50, self.ema50[last]),
                "ema12": ema(c, 12, self.ema12[last]), "ema26": ema(c, 26, self.ema26[last]),
                "gain7": wilder(up, 7, self.gain7[last]), "loss7": wilder(down, 7, self.loss7[last]),
                "gain14": wilder(up, 14, self.gain14[last]), "loss14": wilder(down, 14, self.loss14[last])}
        rows["macd"] = rows["ema12"] - rows["ema26"]
        rows["rsi7"], rows["rsi14"] = _rsi_of(rows["gain7"], rows["loss7"]), _rsi_of(rows["gain14"], rows["loss14"])
        tr = true_range(high[new], low[new], c, close[n - 1])
        rows["atr3"], rows["atr14"] = wilder(tr, 3, self.atr3[last]), wilder(tr, 14, self.atr14[last])
        rows["volume_avg"] = rolling_mean(volume, 20, start=n)
        buffers = self._rows or {f.name: RowBuffer(getattr(self, f.name)) for f in fields(self) if f.name != "_rows"}
        return Indicators(**{name: buffers[name].append(rows[name]) for name in buffers}, _rows=buffers)
