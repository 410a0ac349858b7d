"""Evaluation windows pinned to dates instead of drawn at random from a split.

A date window ``START..END`` (UTC, ``END`` exclusive; e.g. ``2025-10-17T00:00..2025-10-28T00:00``)
is one episode whose first order fills at the open of the bar containing ``START`` and whose
last step ends at ``END``: the policy takes its first decision at the close of the bar before
``START``, and the episode has ``(END - START) / (bar x bars_per_decision)`` decisions. Every
window given to one evaluation must have that same number of decisions (windows of other
lengths go to another evaluation); :func:`daily_windows` cuts a window into whole UTC days.

:func:`pinned_plan` turns date windows into the start bars and the ``episode_length`` the
runner plays, over the whole market (no split), and says clearly when the data does not cover
a window: the bars before ``START`` that the observation and the indicators need are part of
what a window needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData, utc_timestamp
from arena_gym.market.indicators import WARMUP_BARS


class WindowError(ValueError):
    """A date window that cannot be read or that the data does not cover."""


@dataclass(frozen=True)
class DateWindow:
    """``[start, end)`` in UTC."""

    start: pd.Timestamp
    end: pd.Timestamp

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise WindowError(f"window {self.label}: the end must be after the start")

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m-%dT%H:%M}..{self.end:%Y-%m-%dT%H:%M}"

    @classmethod
    def parse(cls, text: str) -> "DateWindow":
        """``"2025-10-17T00:00..2025-10-28T00:00"`` (or plain dates) -> DateWindow; naive = UTC."""
        start, sep, end = str(text).partition("..")
        if not sep or not start.strip() or not end.strip():
            raise WindowError(f"window {text!r}: expected START..END, e.g. 2025-10-17T00:00..2025-10-28T00:00")
        try:
            return cls(utc_timestamp(start.strip()), utc_timestamp(end.strip()))
        except (ValueError, TypeError) as err:
            raise WindowError(f"window {text!r}: {err}") from None


def daily_windows(windows: Sequence[DateWindow]) -> list[DateWindow]:
    """Every whole UTC day inside ``windows`` (partial days at either end are left out)."""
    out: list[DateWindow] = []
    for w in windows:
        day = w.start.ceil("D")
        while day + pd.Timedelta(days=1) <= w.end:
            out.append(DateWindow(day, day + pd.Timedelta(days=1)))
            day += pd.Timedelta(days=1)
    if not out:
        raise WindowError(f"no whole UTC day inside {', '.join(w.label for w in windows)}")
    return out


def partial_days(windows: Sequence[DateWindow]) -> list[str]:
    """What :func:`daily_windows` leaves out of ``windows``: one phrase per partial day at either
    end (e.g. ``"2025-03-01T05:00..2025-03-02T00:00 (19 h)"``), for a notice."""
    out = []
    for w in windows:
        first, last = w.start.ceil("D"), w.end.floor("D")
        if last < first:   # no whole day: the whole window is left out
            out.append(f"{w.label} ({(w.end - w.start) / pd.Timedelta(hours=1):g} h)")
            continue
        for lo, hi in ((w.start, first), (last, w.end)):
            if hi > lo:
                out.append(f"{DateWindow(lo, hi).label} ({(hi - lo) / pd.Timedelta(hours=1):g} h)")
    return out


@dataclass(frozen=True)
class PinnedPlan:
    """Start bars (the bar observed before each window's first fill) and the config to play them."""

    windows: tuple[DateWindow, ...]
    starts: tuple[int, ...]
    config: EnvConfig

    def as_dict(self) -> dict:
        return {"date_windows": [w.label for w in self.windows], "episode_length": self.config.episode_length}


def pinned_plan(market: MarketData, config: EnvConfig, windows: Sequence[DateWindow | str]) -> PinnedPlan:
    """The start bars of ``windows`` and ``config`` with the matching ``episode_length``, no split.

    Raises:
        WindowError: a window that does not fall on bar boundaries, windows of different
            lengths, or a window the data does not cover (with the range it covers).
    """
    windows = tuple(w if isinstance(w, DateWindow) else DateWindow.parse(w) for w in windows)
    if not windows:
        raise WindowError("no date window given")
    step = pd.Timedelta(seconds=market.bar_seconds * config.bars_per_decision)
    lengths = set()
    for w in windows:
        decisions = (w.end - w.start) / step
        if decisions != int(decisions):
            raise WindowError(f"window {w.label} is not a whole number of {step} decision steps")
        lengths.add(int(decisions))
    if len(lengths) > 1:
        raise WindowError(f"windows of different lengths ({sorted(lengths)} decisions) cannot share one evaluation; "
                          "evaluate each length separately")
    n_decisions = lengths.pop()
    grid = pd.DatetimeIndex(market.timestamps, tz="UTC")
    bar = pd.Timedelta(seconds=market.bar_seconds)
    first_needed = max(config.lookback - 1, WARMUP_BARS) + 1          # bars before the first fill
    covered = f"{grid[0]:%Y-%m-%d %H:%M} .. {grid[-1] + bar:%Y-%m-%d %H:%M} UTC"
    starts = []
    for w in windows:
        i = int(grid.searchsorted(w.start))
        if w.start < grid[0] or w.end > grid[-1] + bar:
            raise WindowError(f"window {w.label} needs bars from {w.start - first_needed * bar:%Y-%m-%d %H:%M} "
                              f"(lookback and indicator warm-up) to {w.end:%Y-%m-%d %H:%M} UTC; the data "
                              f"({market.name}) covers {covered}")
        if grid[i] != w.start:
            raise WindowError(f"window {w.label}: the data ({market.name}, {covered}) has no bar opening at "
                              f"{w.start:%Y-%m-%d %H:%M} UTC")
        last = i + n_decisions * config.bars_per_decision - 1
        if i < first_needed or last >= market.n_bars:
            need_from = w.start - first_needed * bar
            raise WindowError(f"window {w.label} needs bars from {need_from:%Y-%m-%d %H:%M} (lookback and indicator "
                              f"warm-up) to {w.end:%Y-%m-%d %H:%M} UTC; the data ({market.name}) covers {covered}")
        starts.append(i - 1)
    return PinnedPlan(windows, tuple(starts), replace(config, split=None, episode_length=n_decisions, start="random"))


def window_times(market: MarketData, starts: Sequence[int]) -> list[pd.Timestamp]:
    """The first fill time (open of the bar after each start bar) of each window."""
    ts = pd.DatetimeIndex(market.timestamps, tz="UTC")
    return [ts[int(s) + 1] for s in np.asarray(starts)]
