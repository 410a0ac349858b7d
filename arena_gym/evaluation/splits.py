"""Train / validation / test splits by time, and the fixed evaluation windows inside a split.

A split is a half-open range of bars ``[begin, end)`` given to :class:`EnvConfig` as
``split=(begin, end)``. :func:`time_splits` cuts a market's bars in time order and leaves a gap
of at least ``lookback + WARMUP_BARS`` bars between neighbouring splits, so that no observation
window or indicator warm-up of one split reads bars of another.

A *window* is the start bar of one evaluation episode. :func:`evaluation_windows` draws ``K``
distinct start bars from a seed among the valid starts of a split; every policy is evaluated on
the same windows (and the same seeds), which is what makes episodes comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData
from arena_gym.market.indicators import WARMUP_BARS

SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class Splits:
    """Bar ranges ``[begin, end)`` of the three splits, in time order, with the gap used."""

    train: tuple[int, int]
    validation: tuple[int, int]
    test: tuple[int, int]
    gap: int

    def __getitem__(self, name: str) -> tuple[int, int]:
        if name not in SPLIT_NAMES:
            raise KeyError(f"unknown split {name!r}; available: {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)

    def as_dict(self) -> dict:
        return {"train": list(self.train), "validation": list(self.validation), "test": list(self.test),
                "gap": self.gap}


def minimum_gap(lookback: int) -> int:
    """Bars between splits so that neither the lookback window nor the indicator warm-up overlaps."""
    return int(lookback) + WARMUP_BARS


def time_splits(n_bars: int, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), lookback: int = 16,
                gap: int | None = None) -> Splits:
    """Cut ``n_bars`` bars into train, validation and test ranges, in that time order.

    ``fractions`` are the shares of the bars left after removing the two gaps; ``gap`` defaults
    to :func:`minimum_gap` and may not be smaller.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three positive shares summing to 1, got {fractions}")
    least = minimum_gap(lookback)
    gap = least if gap is None else int(gap)
    if gap < least:
        raise ValueError(f"gap {gap} is shorter than lookback + indicator warm-up = {least} bars")
    usable = n_bars - 2 * gap
    if usable <= 0:
        raise ValueError(f"{n_bars} bars cannot hold three splits separated by gaps of {gap} bars")
    train_end = int(round(fractions[0] * usable))
    val_begin = train_end + gap
    val_end = val_begin + int(round(fractions[1] * usable))
    test_begin = val_end + gap
    return Splits(train=(0, train_end), validation=(val_begin, val_end), test=(test_begin, n_bars), gap=gap)


def split_config(config: EnvConfig, splits: Splits, name: str) -> EnvConfig:
    """``config`` restricted to one split (``split=(begin, end)`` in bars)."""
    return replace(config, split=splits[name])


def valid_starts(market: MarketData, config: EnvConfig) -> tuple[int, int]:
    """First and last start bar (inclusive) of an episode under ``config`` (its split, lookback and length)."""
    from arena_gym.env.core import PerpCore

    core = PerpCore(market, 1, replace(config, start="random"))
    return core.first_start, core.last_start


def evaluation_windows(market: MarketData, config: EnvConfig, k: int, seed: int = 0) -> list[int]:
    """``k`` distinct start bars drawn uniformly from the valid starts of ``config``'s split, sorted.

    The same market, config, ``k`` and ``seed`` give the same windows.
    """
    if k < 1:
        raise ValueError(f"need at least one window, got k={k}")
    first, last = valid_starts(market, config)
    n_valid = last - first + 1
    if k > n_valid:
        raise ValueError(f"asked for {k} windows but the split has only {n_valid} valid starts ({first}..{last})")
    rng = np.random.default_rng(seed)
    return sorted(int(first + i) for i in rng.choice(n_valid, size=k, replace=False))
