"""The ``rgb_array`` frame of an episode, drawn with NumPy alone (no Matplotlib needed).

:func:`draw_frame` turns an :class:`~arena_gym.env.viewer.EpisodeTrace` into an ``(H, W, 3)``
uint8 picture of :data:`FRAME_SHAPE` with the three panels of
:func:`~arena_gym.env.viewer.draw_episode`, sharing the time axis (one bar per horizontal step,
first bar of the episode at the left):

1. each asset's close as a change from the episode's first bar (tab10 colours, in asset
   order), with a triangle where a position was opened (up: long, down: short), a hollow square
   where one was closed (at the bar where the order filled) and a black cross where one was
   liquidated;
2. exposure per asset (signed notional / equity at each decision), as steps;
3. equity, with the initial capital as a grey line.

Each panel scales to its own data (a grey line marks zero change, zero exposure and the initial
capital). The frame carries no text: for a labelled figure use
:meth:`~arena_gym.env.PerpTradingEnv.render_all` (Matplotlib). Drawing is a few milliseconds,
so video recorders can ask for a frame per step.
"""

from __future__ import annotations

import numpy as np

from ..market.data import MarketData
from .viewer import EpisodeTrace

#: (height, width, channels) of a frame.
FRAME_SHAPE = (600, 800, 3)
#: Matplotlib's tab10 colours, so frames and figures colour the assets alike.
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)], np.uint8)
WHITE, GREY, LIGHT, BLACK, RED = (255, 255, 255), (150, 150, 150), (225, 225, 225), (0, 0, 0), (214, 39, 40)
_MARGIN = 12
_GAP = 10
_HEIGHT_RATIOS = (3.0, 1.5, 1.5)


class _Panel:
    """A rectangle of the frame with its own data-to-pixel scale."""

    def __init__(self, pixels: np.ndarray, top: int, bottom: int, left: int, right: int, x_span: tuple[float, float],
                 values: np.ndarray) -> None:
        self.pixels, self.top, self.bottom, self.left, self.right = pixels, top, bottom, left, right
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
        self.y_lo, self.y_hi = lo - pad, hi + pad
        self.x_lo, self.x_hi = x_span
        pixels[top:bottom + 1, left] = GREY
        pixels[top:bottom + 1, right] = GREY
        pixels[top, left:right + 1] = GREY
        pixels[bottom, left:right + 1] = GREY

    def x(self, values) -> np.ndarray:
        span = self.x_hi - self.x_lo if self.x_hi > self.x_lo else 1.0
        return self.left + 1 + (np.asarray(values, float) - self.x_lo) / span * (self.right - self.left - 2)

    def y(self, values) -> np.ndarray:
        return self.bottom - 1 - (np.asarray(values, float) - self.y_lo) / (self.y_hi - self.y_lo) * (
            self.bottom - self.top - 2)

    def level(self, value: float, color) -> None:
        """A horizontal line at ``value`` when it is inside the panel."""
        row = int(round(float(self.y(value))))
        if self.top < row < self.bottom:
            self.pixels[row, self.left + 1:self.right] = color

    def polyline(self, xs: np.ndarray, ys: np.ndarray, color) -> None:
        """Straight segments through the points (data coordinates), one pixel wide."""
        px, py = self.x(xs), self.y(ys)
        keep = np.isfinite(px) & np.isfinite(py)
        px, py = px[keep], py[keep]
        if not len(px):
            return
        if len(px) > 1:
            steps = np.ceil(np.maximum(np.abs(np.diff(px)), np.abs(np.diff(py)))).astype(np.int64) + 1
            segment = np.repeat(np.arange(len(steps)), steps)
            frac = (np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)) / np.repeat(
                np.maximum(steps - 1, 1), steps)
            px = px[segment] + (px[segment + 1] - px[segment]) * frac
            py = py[segment] + (py[segment + 1] - py[segment]) * frac
        self._put(np.rint(px).astype(np.int64), np.rint(py).astype(np.int64), color)

    def steps(self, xs: np.ndarray, ys: np.ndarray, color) -> None:
        """A step line: each value held until the next point."""
        xs, ys = np.asarray(xs, float), np.asarray(ys, float)
        if len(xs) > 1:
            xs = np.column_stack([xs, np.append(xs[1:], xs[-1])]).ravel()[:-1]
            ys = np.repeat(ys, 2)[:-1]
        self.polyline(xs, ys, color)

    def marker(self, x: float, y: float, shape: str, color) -> None:
        """A marker of about 9 pixels at a data point: ``up``, ``down``, ``square`` or ``cross``."""
        cx, cy = int(round(float(self.x(x)))), int(round(float(self.y(y))))
        r = 4
        dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
        if shape == "up":
            mask = np.abs(dx) <= (dy + r) / 2
        elif shape == "down":
            mask = np.abs(dx) <= (r - dy) / 2
        elif shape == "square":
            mask = (np.abs(dx) == r) | (np.abs(dy) == r)
        else:
            mask = (np.abs(dx) == np.abs(dy)) | (np.abs(dx + 1) == np.abs(dy)) & (np.abs(dx) <= r - 1)
        self._put(cx + dx[mask], cy + dy[mask], color)

    def _put(self, px: np.ndarray, py: np.ndarray, color) -> None:
        inside = (px > self.left) & (px < self.right) & (py > self.top) & (py < self.bottom)
        self.pixels[py[inside], px[inside]] = color


def draw_frame(trace: EpisodeTrace, market: MarketData) -> np.ndarray:
    """The ``(H, W, 3)`` uint8 frame of ``trace`` over ``market`` (see the module docstring)."""
    if not trace.bars:
        raise ValueError("nothing to draw: reset the environment first")
    height, width, _ = FRAME_SHAPE
    pixels = np.full(FRAME_SHAPE, 255, np.uint8)
    first, last = trace.bars[0], trace.bars[-1]
    bars = np.arange(first, last + 1)
    base = market.close[first]
    change = market.close[bars] / base - 1.0
    decisions = np.asarray(trace.bars)
    equity = np.asarray(trace.equity)
    exposure = np.stack(trace.sizes) * market.close[decisions] / np.maximum(equity, 1e-9)[:, None]
    usable = height - 2 * _MARGIN - 2 * _GAP
    edges = np.cumsum([0.0, *_HEIGHT_RATIOS]) / sum(_HEIGHT_RATIOS) * usable
    span = (float(first), float(max(last, first + 1)))
    left, right = _MARGIN, width - _MARGIN - 1

    def panel(i: int, values: np.ndarray) -> _Panel:
        top = int(_MARGIN + edges[i] + i * _GAP)
        return _Panel(pixels, top, int(_MARGIN + edges[i + 1] + i * _GAP), left, right, span, values)

    price = panel(0, np.append(change.ravel(), 0.0))
    price.level(0.0, LIGHT)
    held = panel(1, np.append(exposure.ravel(), 0.0))
    held.level(0.0, LIGHT)
    money = panel(2, np.append(equity, trace.initial_capital))
    money.level(trace.initial_capital, GREY)
    colors = [tuple(int(c) for c in PALETTE[a % len(PALETTE)]) for a in range(market.n_assets)]
    for a in range(market.n_assets):
        price.polyline(bars, change[:, a], colors[a])
        held.steps(decisions, exposure[:, a], colors[a])
    shapes = {"long_entries": "up", "short_entries": "down", "exits": "square", "liquidations": "cross"}
    for kind, points in trace.events().items():
        for bar, a in points:
            if first <= bar <= last:
                at = market.close[bar, a] if kind == "liquidations" else market.open[bar, a]
                price.marker(bar, at / base[a] - 1.0, shapes[kind], BLACK if kind == "liquidations" else colors[a])
    for i in np.flatnonzero(trace.liquidated):
        column = int(round(float(money.x(decisions[i]))))
        pixels[money.top + 1:money.bottom, column] = RED
    money.polyline(decisions, equity, BLACK)
    return pixels
