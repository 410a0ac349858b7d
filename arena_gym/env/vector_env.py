"""`PerpVectorEnv`: many accounts stepped together by one batch exchange (a native VectorEnv).

All accounts share one read-only MarketData (no copies); each has its own window (random
starts drawn from the vector env's generator). Autoreset follows Gymnasium's modes:

* ``next_step`` (Gymnasium's default): the step after an episode ends resets that account and
  returns its first observation with reward 0 (the action for it is ignored);
* ``same_step`` (what Stable-Baselines3 expects): the account is reset within the step that
  ended it; ``info["final_obs"]`` / ``info["final_info"]`` hold the last observation and info.

In ``next_step`` mode the reset happens inside a batch step that advances every account. It is
exact: the account restarts ``bars_per_decision`` bars before its sampled start, flat, and
holds for one decision, which changes nothing (no position, no fee, no funding) and lands it on
its start bar with a fresh observation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..market.data import MarketData
from ..text_format import utc_minute
from .actions import action_space
from .config import EnvConfig
from .core import INFO_KEYS, PerpCore
from .features import observation_names
from .frame import draw_frame
from .viewer import EpisodeTrace
from .perp_env import default_market

_MODES = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP}
_MASK_KEYS = tuple(f"_{key}" for key in INFO_KEYS)


class PerpVectorEnv(VectorEnv):
    """``num_envs`` independent accounts over one market (numeric observations, RL action modes).

    The exchange ledger is off unless ``ledger`` is given (``"fills"`` or ``"full"``): recording
    every fill of many accounts costs more than the rest of the step.

    Args:
        num_envs: number of accounts.
        market: shared MarketData (default: the embedded synthetic market).
        config / params: as for :class:`~arena_gym.env.PerpTradingEnv`.
        autoreset_mode: ``"next_step"`` or ``"same_step"`` (or a Gymnasium ``AutoresetMode``).
        max_episode_steps: what ``gymnasium.make_vec`` passes for a time limit: episodes end
            after at most this many decisions (``episode_length`` is lowered to it).
        render_mode: ``None``, ``"ansi"`` (one line per account) or ``"rgb_array"`` (one picture
            per account of its episode so far, as :class:`~arena_gym.env.PerpTradingEnv` draws
            it: slow, for inspection and videos of a few accounts, not for training).
        num_threads: threads the step spreads the accounts over (numba's ``prange``; default 1).
            The threaded step is compiled on first use, only when more than one thread is asked
            for, and needs the ledger off; the results are those of one thread.
        copy: whether ``reset`` and ``step`` return observations the env never writes again
            (Gymnasium's convention, the default: the buffer the step wrote, the next step
            writing into a new one) or the env's one observation buffer itself, rewritten in
            place by the next step.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, market: MarketData | None = None, config: EnvConfig | None = None, *,
                 autoreset_mode: str | AutoresetMode = "next_step", max_episode_steps: int | None = None,
                 render_mode: str | None = None, num_threads: int = 1, copy: bool = True, **params: Any) -> None:
        config = replace(config, **params) if config is not None else EnvConfig(**params)
        if max_episode_steps is not None:
            if max_episode_steps < 1:
                raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
            config = replace(config, episode_length=min(max_episode_steps, config.episode_length or max_episode_steps))
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if isinstance(autoreset_mode, AutoresetMode):
            autoreset_mode = {mode: name for name, mode in _MODES.items()}.get(autoreset_mode, autoreset_mode)
        if config.action_mode == "decision" or config.observation_mode != "numeric":
            raise ValueError("PerpVectorEnv supports numeric observations with the 'target', 'target_leverage' or "
                             "'discrete' action modes; run text/decision policies with PerpTradingEnv")
        if autoreset_mode not in _MODES:
            raise ValueError(f"autoreset_mode must be one of {sorted(_MODES)}, got {autoreset_mode!r}")
        self.config = config
        self.num_envs = num_envs
        # a reset inside a step restarts bars_per_decision bars before the start (module docstring)
        self.core = PerpCore(market if market is not None else default_market(), num_envs, config,
                             min_start=config.bars_per_decision, default_ledger="off", num_threads=num_threads)
        self.num_threads = self.core.num_threads
        self.copy = copy
        self.market = self.core.market
        self.metadata = {**self.metadata, "autoreset_mode": _MODES[autoreset_mode]}
        self.autoreset_mode = _MODES[autoreset_mode]
        self.render_mode = render_mode
        self._traces = [EpisodeTrace() for _ in range(num_envs)] if render_mode == "rgb_array" else None
        self._same_step = autoreset_mode == "same_step"
        self.single_action_space = action_space(config.action_mode, self.market.n_assets,
                                                max_leverage=[a.max_leverage for a in self.market.assets])
        self.single_observation_space = spaces.Box(-10.0, 10.0, shape=(self.core.obs_dim,), dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._rng, _ = seeding.np_random(None)
        self._pending_reset = np.zeros(num_envs, bool)
        self._all = np.ones(num_envs, bool)

    @property
    def observation_names(self) -> tuple[str, ...]:
        """Name of each element of one account's observation (see :func:`~arena_gym.env.features.observation_names`)."""
        return observation_names(self.market.symbols, self.config.lookback)

    def render(self) -> str | tuple[np.ndarray, ...] | None:
        """``"ansi"``: one line per account (bar time, equity, gross leverage, open positions);
        ``"rgb_array"``: a tuple of ``(H, W, 3)`` uint8 pictures, one per account."""
        if self._traces is not None:
            return tuple(draw_frame(trace, self.market) for trace in self._traces)
        if self.render_mode != "ansi":
            return None
        s, m = self.core.exchange.state, self.market
        lev = self.core.info_arrays()["gross_leverage"]
        return "\n".join(f"{i:>4} {utc_minute(m.timestamps[s.bar[i]])}  equity {s.equity[i]:12.2f}  leverage {lev[i]:5.2f}x  "
                         f"positions {int(np.count_nonzero(s.size[i]))}" for i in range(self.num_envs))

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)
        self.core.reset_rows(self._all, self.core.sample_starts(self._rng, self.num_envs))
        self.core.reset_info()
        self._pending_reset[:] = False
        if self._traces is not None:
            self._update_traces(self._all, None)
        return self._handed_out(self.core.observe()), self._infos(self.core.info_arrays())

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        core = self.core
        restart = self._pending_reset
        if restart.any():
            self._restart(restart)
        obs = core.step(actions, restarted=restart)
        reward, terminated, truncated = core.reward.copy(), core.terminated.copy(), core.truncated.copy()
        info = core.info_arrays()
        done = terminated | truncated
        infos = self._infos(info)
        if self._same_step:
            if done.any():
                rows = np.nonzero(done)[0]
                final_obs = np.full(self.num_envs, None, dtype=object)
                for i in rows:
                    final_obs[i] = obs[i].copy()
                infos["final_obs"] = final_obs
                infos["_final_obs"] = done.copy()
                infos["final_info"] = self._infos({k: v.copy() for k, v in info.items()}, mask=done)
                infos["_final_info"] = done.copy()
                core.reset_rows(done, core.sample_starts(self._rng, len(rows)))
                core.observe(rows)
            self._pending_reset = np.zeros(self.num_envs, bool)
        else:
            self._pending_reset = done
        if self._traces is not None:
            self._update_traces(restart | (done & self._same_step), info["liquidated"])
        return self._handed_out(obs), reward, terminated, truncated, infos

    def _handed_out(self, obs: np.ndarray) -> np.ndarray:
        """The observations as returned: unless ``copy=False``, an array the env no longer writes
        (the buffer itself, with a new one for the next step: one allocation, no copy)."""
        return self.core.hand_out_obs() if self.copy else obs

    def _update_traces(self, started: np.ndarray, liquidated: np.ndarray | None) -> None:
        """Restart the picture of the accounts whose episode ``started``; extend the others'."""
        s = self.core.exchange.state
        for i, trace in enumerate(self._traces):
            if started[i]:
                trace.start(int(s.bar[i]), float(s.equity[i]), s.size[i], float(s.initial_capital[i]))
            else:
                trace.add(int(s.bar[i]), float(s.equity[i]), s.size[i], bool(liquidated[i]))

    def _restart(self, rows: np.ndarray) -> None:
        """Reset ``rows`` to ``bars_per_decision`` bars before a sampled start; they hold through
        the step (module docstring)."""
        starts = self.core.sample_starts(self._rng, int(rows.sum())) - self.core.k
        self.core.reset_rows(rows, starts)

    def _infos(self, arrays: dict[str, np.ndarray], mask: np.ndarray | None = None) -> dict[str, Any]:
        """Gymnasium's vector info: each key's (N,) array and, under ``_key``, which accounts it holds."""
        mask = self._all if mask is None else mask
        out = dict(arrays)
        out.update(dict.fromkeys(_MASK_KEYS, mask))
        return out
