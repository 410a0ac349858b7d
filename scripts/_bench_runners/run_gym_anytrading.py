"""Benchmark runner: gym-anytrading's ``StocksEnv`` over the benchmark's BTC prices.

Runs in gym-anytrading's own virtual environment. The environment is constructed directly
(as ``gymnasium.make("stocks-v0", ...)`` would, without the wrappers that ``make`` adds), with
a window of 10 bars over the whole price file; actions are Sell (0) or Buy (1).
"""

from __future__ import annotations

import pandas as pd
from gym_anytrading.envs import StocksEnv

from _timing import measure, runner_arguments, sample_actions, time_single, write_result

WINDOW_SIZE = 10


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    bars = pd.read_csv(args.prices, parse_dates=["date"], index_col="date")
    frame = bars.rename(columns=str.capitalize)  # gym-anytrading reads the "Close" column
    env = StocksEnv(df=frame, window_size=WINDOW_SIZE, frame_bound=(WINDOW_SIZE, len(frame)))
    actions = sample_actions(env.action_space, args.seed)
    env.reset(seed=args.seed)
    seconds, resets = measure(time_single, env, actions, args)
    write_result(args, engine="gym-anytrading", accounts=1, seconds=seconds, resets=resets,
                 packages=("gym-anytrading", "gymnasium", "numpy", "pandas"),
                 details={"bars": len(frame), "window_size": WINDOW_SIZE,
                          "action_space": str(env.action_space),
                          "observation_shape": list(env.observation_space.shape)})


if __name__ == "__main__":
    main()
