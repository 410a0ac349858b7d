"""Pictures of an episode: prices with entries, exits and liquidations, exposure, and equity.

:class:`EpisodeTrace` is what a :class:`~arena_gym.env.PerpTradingEnv` remembers of its current
episode for drawing (per decision: the bar, equity, position sizes and whether the account was
liquidated; a few numbers per step). :func:`draw_episode` turns a trace into a Matplotlib figure
of three panels sharing the time axis (UTC):

1. each asset's close as a percent change from the episode's first bar, with markers where a
   position was opened (triangle up: long, down: short) and closed (circle), at the open of
   the bar where the order filled, and liquidations (black cross) at the close of the decision
   in which they happened;
2. exposure per asset: signed notional / equity at each decision;
3. equity in quote currency, with the initial capital dashed.

Drawing needs Matplotlib (the ``report`` extra) and renders offscreen (the Agg canvas), so it
works without a display. The ``render_mode="rgb_array"`` frame of the same panels is drawn
without Matplotlib by :mod:`arena_gym.env.frame`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..market.data import MarketData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Size of a rendered frame, in inches at :data:`DPI` (800 x 600 pixels).
FIGSIZE = (8.0, 6.0)
DPI = 100


@dataclass
class EpisodeTrace:
    """Per-decision history of one account's episode (index 0 is the state after ``reset``)."""

    initial_capital: float = 0.0
    bars: list[int] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    sizes: list[np.ndarray] = field(default_factory=list)
    liquidated: list[bool] = field(default_factory=list)

    def start(self, bar: int, equity: float, sizes: np.ndarray, initial_capital: float) -> None:
        self.initial_capital = float(initial_capital)
        self.bars, self.equity, self.sizes, self.liquidated = [], [], [], []
        self.add(bar, equity, sizes, False)

    def add(self, bar: int, equity: float, sizes: np.ndarray, liquidated: bool) -> None:
        self.bars.append(int(bar))
        self.equity.append(float(equity))
        self.sizes.append(np.array(sizes, dtype=np.float64))
        self.liquidated.append(bool(liquidated))

    def events(self) -> dict[str, list[tuple[int, int]]]:
        """``(bar, asset)`` pairs of ``long_entries``, ``short_entries``, ``exits`` and
        ``liquidations``. Entries and exits by order sit at the bar after the decision (the
        fill's bar); a liquidation at the decision's last bar. A flip is an exit and an entry."""
        out: dict[str, list[tuple[int, int]]] = {"long_entries": [], "short_entries": [], "exits": [], "liquidations": []}
        for i in range(1, len(self.bars)):
            before, after = np.sign(self.sizes[i - 1]), np.sign(self.sizes[i])
            fill_bar = self.bars[i - 1] + 1
            for a in np.nonzero(before != after)[0]:
                if before[a] != 0:
                    if self.liquidated[i] and after[a] == 0:
                        out["liquidations"].append((self.bars[i], int(a)))
                    else:
                        out["exits"].append((fill_bar, int(a)))
                if after[a] > 0:
                    out["long_entries"].append((fill_bar, int(a)))
                elif after[a] < 0:
                    out["short_entries"].append((fill_bar, int(a)))
        return out


def draw_episode(trace: EpisodeTrace, market: MarketData, title: str | None = None) -> "Figure":
    """A three-panel figure of ``trace`` over ``market`` (see the module docstring)."""
    try:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("drawing an episode needs matplotlib: pip install 'arena-gym[report]'") from err
    if not trace.bars:
        raise ValueError("nothing to draw: reset the environment first")
    first, last = trace.bars[0], trace.bars[-1]
    bars = np.arange(first, last + 1)
    times = market.timestamps[bars]
    base = market.close[first]
    change = 100.0 * (market.close[bars] / base - 1.0)
    decision_times = market.timestamps[np.asarray(trace.bars)]
    sizes = np.stack(trace.sizes)
    closes = market.close[np.asarray(trace.bars)]
    equity = np.asarray(trace.equity)
    exposure = sizes * closes / np.maximum(equity, 1e-9)[:, None]

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    price_ax, exposure_ax, equity_ax = fig.subplots(3, 1, sharex=True, height_ratios=(3, 1.5, 1.5))
    colors = [f"C{a % 10}" for a in range(market.n_assets)]
    for a, symbol in enumerate(market.symbols):
        price_ax.plot(times, change[:, a], color=colors[a], lw=1.0, label=symbol)
        exposure_ax.step(decision_times, exposure[:, a], where="post", color=colors[a], lw=1.0)
    styles = {"long_entries": dict(marker="^", s=36, edgecolors="none"),
              "short_entries": dict(marker="v", s=36, edgecolors="none"),
              "exits": dict(marker="o", s=22, facecolors="none", linewidths=1.0),
              "liquidations": dict(marker="X", s=70, edgecolors="none")}
    labels = {"long_entries": "long entry", "short_entries": "short entry", "exits": "exit", "liquidations": "liquidation"}
    for kind, points in trace.events().items():
        if not points:
            continue
        at = np.array([b for b, _ in points if first <= b <= last], dtype=np.int64)
        assets = np.array([a for b, a in points if first <= b <= last], dtype=np.int64)
        if not len(at):
            continue
        price = market.open[at, assets] if kind != "liquidations" else market.close[at, assets]
        y = 100.0 * (price / base[assets] - 1.0)
        color = ["black" if kind == "liquidations" else colors[a] for a in assets]
        style = dict(styles[kind])
        if kind == "exits":
            style["edgecolors"] = color
        else:
            style["c"] = color
        price_ax.scatter(market.timestamps[at], y, zorder=3, **style)
        price_ax.scatter([], [], color="grey" if kind != "liquidations" else "black", label=labels[kind],
                         **{k: v for k, v in styles[kind].items() if k not in ("edgecolors",)})
    price_ax.set_ylabel("close, % from start")
    price_ax.legend(loc="upper left", fontsize=7, ncol=min(5, market.n_assets + 4), frameon=False)
    price_ax.grid(alpha=0.3)
    exposure_ax.axhline(0.0, color="grey", lw=0.6)
    exposure_ax.set_ylabel("exposure\n(notional / equity)")
    exposure_ax.grid(alpha=0.3)
    equity_ax.plot(decision_times, equity, color="black", lw=1.2)
    equity_ax.axhline(trace.initial_capital, color="grey", lw=0.8, ls="--")
    for i in np.nonzero(trace.liquidated)[0]:
        equity_ax.axvline(decision_times[i], color="red", lw=0.8)
    equity_ax.set_ylabel("equity (quote)")
    equity_ax.set_xlabel("time (UTC)")
    locator = AutoDateLocator()
    equity_ax.xaxis.set_major_locator(locator)
    equity_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    equity_ax.grid(alpha=0.3)
    fig.suptitle(title or f"{market.name}: {len(trace.bars) - 1} decisions, equity {equity[-1]:,.2f}", fontsize=10)
    return fig


def save_figure(fig: "Figure", path: str | Path) -> Path:
    """Write ``fig`` as an image (format from the suffix, e.g. ``.png``); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig).print_figure(out, dpi=DPI)
    return out
