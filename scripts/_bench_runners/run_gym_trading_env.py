"""Benchmark runner: gym-trading-env's ``TradingEnv`` over the benchmark's BTC prices.

Runs in gym-trading-env's own virtual environment (it needs pandas < 3 and an old ccxt).
The environment is constructed directly (``gymnasium.make("TradingEnv", ...)`` adds no
wrappers), with positions short / flat / long, the Hyperliquid taker fee, logging off, and
five scale-free features (the library observes every column whose name contains "feature").
The library draws the random initial position from NumPy's global generator, which is seeded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from gym_trading_env.environments import TradingEnv

from _timing import measure, runner_arguments, sample_actions, time_single, write_result

POSITIONS = [-1, 0, 1]
TAKER_FEE = 0.00045
VOLUME_WINDOW = 24


def with_features(bars: pd.DataFrame) -> pd.DataFrame:
    """Add return, open/high/low relative to close, and volume relative to its 24-bar max."""
    frame = bars.copy()
    frame["feature_return"] = frame["close"].pct_change()
    frame["feature_open"] = frame["open"] / frame["close"]
    frame["feature_high"] = frame["high"] / frame["close"]
    frame["feature_low"] = frame["low"] / frame["close"]
    frame["feature_volume"] = frame["volume"] / frame["volume"].rolling(VOLUME_WINDOW).max()
    return frame.dropna()


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    np.random.seed(args.seed)
    frame = with_features(pd.read_csv(args.prices, parse_dates=["date"], index_col="date"))
    env = TradingEnv(df=frame, positions=POSITIONS, trading_fees=TAKER_FEE, verbose=0)
    actions = sample_actions(env.action_space, args.seed)
    env.reset(seed=args.seed)
    seconds, resets = measure(time_single, env, actions, args)
    write_result(args, engine="gym-trading-env", accounts=1, seconds=seconds, resets=resets,
                 packages=("gym-trading-env", "gymnasium", "numpy", "pandas", "ccxt"),
                 details={"bars": len(frame), "positions": POSITIONS,
                          "action_space": str(env.action_space),
                          "observation_shape": list(env.observation_space.shape)})


if __name__ == "__main__":
    main()
