"""Benchmark runner: the floor, a Gymnasium environment whose step does nothing.

Its speed is the cost of the step loop itself (a Python call, tuple packing and the action
lookup), which no environment written in Python can beat.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from _timing import measure, runner_arguments, sample_actions, time_single, write_result


class NullEnv(gym.Env):
    """One-element observation, three discrete actions, no reward, episodes never end."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._observation = np.zeros(1, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return self._observation, {}

    def step(self, action):
        return self._observation, 0.0, False, False, {}


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    env = NullEnv()
    actions = sample_actions(env.action_space, args.seed)
    env.reset(seed=args.seed)
    seconds, resets = measure(time_single, env, actions, args)
    write_result(args, engine="floor", accounts=1, seconds=seconds, resets=resets,
                 packages=("gymnasium", "numpy"), details={"action_space": str(env.action_space)})


if __name__ == "__main__":
    main()
