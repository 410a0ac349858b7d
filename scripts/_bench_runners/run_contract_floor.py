"""Benchmark runner: the contract floor, an environment with ``PerpTradingEnv``'s step contract
and no market simulation.

Its step does what any environment with this interface must do, and nothing else: check the
target action (shape, finite values) and clip it, move to the next bar, return a fresh float32
observation of the same size (precomputed market rows plus account slots), a float reward, the
two episode flags and an ``info`` dict with the same flat scalar keys, and append a record of
the step as ``PerpTradingEnv`` does. Spaces, observation size and info keys are read off a real
``PerpTradingEnv`` built over the benchmark's market before timing.

Its speed is an upper bound for a Python environment with this interface, however fast its
simulation: the gap between this row and ``perp-env`` is the cost of the exchange itself.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from arena_gym.env import PerpTradingEnv
from arena_gym.env.core import INFO_KEYS
from arena_gym.market import MarketData

from _timing import measure, runner_arguments, sample_actions, time_single, write_result


class ContractEnv(gym.Env):
    """``PerpTradingEnv``'s spaces, observation size and info keys; the market never moves."""

    def __init__(self, reference: PerpTradingEnv, n_bars: int) -> None:
        self.observation_space = reference.observation_space
        self.action_space = reference.action_space
        self._n_assets = self.action_space.shape[0]
        core = reference.core
        rng = np.random.default_rng(0)
        self._market_rows = rng.standard_normal((n_bars, core.n_market)).astype(np.float32)
        self._account = np.zeros(core.obs_dim - core.n_market, np.float32)
        self._first_bar, self._last_bar = core.first_start, core.split_end
        self._episode_length = reference.config.episode_length
        self._info = {key: 0.0 for key in INFO_KEYS}
        self._bar = self._step = 0
        self.records: list[dict] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._bar = int(self.np_random.integers(self._first_bar, self._last_bar - self._episode_length))
        self._step = 0
        self.records = []
        return self._observe(), dict(self._info)

    def _observe(self) -> np.ndarray:
        obs = np.empty(self.observation_space.shape, np.float32)
        n_market = self._market_rows.shape[1]
        obs[:n_market] = self._market_rows[self._bar]
        obs[n_market:] = self._account
        return obs

    def step(self, action):
        weights = np.asarray(action, np.float64)
        if weights.shape != (self._n_assets,) or not np.isfinite(weights).all():
            raise ValueError(f"target actions must be {self._n_assets} finite numbers, got {action!r}")
        np.clip(weights, -1.0, 1.0, out=weights)
        self._bar += 1
        self._step += 1
        info = dict(self._info)
        info["bar"], info["step"] = self._bar, self._step
        self.records.append({"step": self._step, "bar": self._bar, "action": weights.tolist(), "reward": 0.0,
                             "equity": info["equity"], "fees_paid": info["fees_paid"]})
        return self._observe(), 0.0, False, self._step >= self._episode_length, info


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    market = MarketData.from_parquet(args.prices)
    env = ContractEnv(PerpTradingEnv(market=market, action_mode="target"), market.n_bars)
    actions = sample_actions(env.action_space, args.seed)
    env.reset(seed=args.seed)
    seconds, resets = measure(time_single, env, actions, args)
    write_result(args, engine="contract-floor", accounts=1, seconds=seconds, resets=resets,
                 packages=("arena-gym", "gymnasium", "numpy"),
                 details={"observation_shape": list(env.observation_space.shape), "info_keys": len(INFO_KEYS)})


if __name__ == "__main__":
    main()
