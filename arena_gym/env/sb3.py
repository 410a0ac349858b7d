"""Stable-Baselines3 ``VecEnv`` over the batch :class:`PerpVectorEnv` (needs the ``rl`` extra).

SB3 resets finished environments within the step and expects per-environment ``info`` dicts
(here every account's, with the keys of :data:`~arena_gym.env.INFO_KEYS`, as ``DummyVecEnv``
gives them) with ``terminal_observation`` and ``TimeLimit.truncated``; the wrapped vector env therefore
runs in ``same_step`` autoreset mode. All accounts still step together, in one compiled call per
step, in one process (no subprocesses, one shared MarketData). Wrap with SB3's ``VecMonitor`` for episode
statistics.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from ..market.data import MarketData
from .config import EnvConfig
from .core import INFO_KEYS
from .vector_env import PerpVectorEnv


class SB3VecEnv(VecEnv):
    """SB3 view of a :class:`PerpVectorEnv` (built here in ``same_step`` autoreset mode).

    Args:
        num_envs: accounts stepped together.
        market, config, params: as for :class:`PerpVectorEnv`.
        num_threads: threads the step spreads the accounts over (as for :class:`PerpVectorEnv`).
    """

    def __init__(self, num_envs: int, market: MarketData | None = None, config: EnvConfig | None = None,
                 num_threads: int = 1, **params: Any) -> None:
        self.venv = PerpVectorEnv(num_envs, market, config, autoreset_mode="same_step", num_threads=num_threads,
                                  **params)
        self.render_mode = None
        super().__init__(num_envs, self.venv.single_observation_space, self.venv.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        obs, _ = self.venv.reset(seed=seed)
        self._reset_seeds()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        done = terminated | truncated
        # every account gets its info, as from DummyVecEnv; a finished one the info of its last step
        source = info["final_info"] if done.any() else info
        columns = [np.where(done, source[key], info[key]).tolist() if done.any() else info[key].tolist()
                   for key in INFO_KEYS]
        infos = [dict(zip(INFO_KEYS, values)) for values in zip(*columns)]
        for i in np.nonzero(done)[0]:
            infos[i]["terminal_observation"] = info["final_obs"][i]
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, reward.astype(np.float32), done, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.venv, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        method = getattr(self.venv, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]
