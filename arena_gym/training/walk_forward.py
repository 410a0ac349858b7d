"""Walk-forward training: PPO trained and validated only on bars strictly before an evaluation
window, then played on the window.

:func:`walk_forward_splits` cuts the market at ``cut`` (the first bar of the evaluation window)
and keeps only the bars before it: the training split runs from the first bar to a gap before
the validation slice, which ends at the last bar before the cut. Training therefore cannot read
a bar at or after the cut, whatever the features or the env do: they are not in the market it
is given (a test checks that changing them leaves the trained model bit-identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData, utc_timestamp

from arena_gym.evaluation.splits import Splits, minimum_gap


@dataclass(frozen=True)
class WalkForward:
    """The market before the cut and its train / validation splits (``test`` is empty)."""

    market: MarketData
    splits: Splits
    cut: pd.Timestamp

    def describe(self) -> str:
        ts = pd.DatetimeIndex(self.market.timestamps, tz="UTC")
        (tb, te), (vb, ve) = self.splits.train, self.splits.validation
        return (f"train {ts[tb]:%Y-%m-%d %H:%M} .. {ts[te - 1]:%Y-%m-%d %H:%M}, validation "
                f"{ts[vb]:%Y-%m-%d %H:%M} .. {ts[ve - 1]:%Y-%m-%d %H:%M} UTC; nothing from {self.cut:%Y-%m-%d %H:%M} on")


def walk_forward_splits(market: MarketData, cut, validation_days: float = 30.0, lookback: int = 16) -> WalkForward:
    """The bars before ``cut`` (a UTC time) with a validation slice of ``validation_days`` at their end.

    Raises:
        ValueError: when ``cut`` is outside the data or too little data comes before it.
    """
    cut = utc_timestamp(cut)
    ts = pd.DatetimeIndex(market.timestamps, tz="UTC")
    n = int(ts.searchsorted(cut))                      # bars strictly before the cut
    if n >= market.n_bars and cut > ts[-1] + pd.Timedelta(seconds=market.bar_seconds):
        raise ValueError(f"training cut {cut} is after the data's end {ts[-1]}")
    gap = minimum_gap(lookback)
    n_val = int(round(validation_days * 86400 / market.bar_seconds))
    val_begin = n - n_val
    train_end = val_begin - gap
    if train_end < 4 * gap or n_val < 2 * gap:
        raise ValueError(f"only {n} bars of {market.name} come before {cut:%Y-%m-%d %H:%M}: not enough for a training "
                         f"split and a {validation_days:g}-day validation slice (gap {gap} bars)")
    before = market.slice(0, n)
    return WalkForward(before, Splits(train=(0, train_end), validation=(val_begin, n), test=(n, n), gap=gap), cut)


def train_walk_forward(market: MarketData, config: EnvConfig, cut, out_dir: str | Path,
                       preset: str | Path | dict[str, Any] = "ppo", *, validation_days: float = 30.0,
                       total_timesteps: int | None = None, log: Callable[[str], None] | None = print) -> Path:
    """Train PPO (:func:`~.ppo_training.train_ppo`) on the bars before ``cut``; reuse
    ``out_dir/best_model.zip`` when a finished training left it (the final ``model.zip`` is
    written last: an interrupted training starts over). Returns the model path."""
    from .ppo_training import train_ppo

    model = Path(out_dir) / "best_model.zip"
    if model.is_file() and (Path(out_dir) / "model.zip").is_file():
        if log is not None:
            log(f"reusing the trained PPO in {model.parent} (delete the folder to retrain)")
        return model
    wf = walk_forward_splits(market, cut, validation_days, config.lookback)
    if log is not None:
        log(f"training PPO walk-forward: {wf.describe()}")
    return train_ppo(wf.market, config, wf.splits, out_dir, preset, total_timesteps=total_timesteps, log=log)
