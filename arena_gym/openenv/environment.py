"""The contest env as an OpenEnv ``Environment``: ``reset`` / ``step`` / ``state`` over one account.

:class:`ArenaEnvironment` wraps one :class:`~arena_gym.env.PerpTradingEnv` built from an env
preset (default ``alpha-arena-s1``: the contest's prompt as observation, its JSON decision as
action). ``step`` hands the raw answer to ``env.step``, so the parsing, the fallbacks and the
fills are exactly those of ``gymnasium.make`` with the same seed and answers. It is used
in-process (GRPO rewards, tests) and served by :mod:`arena_gym.openenv.server`, one instance
per session.

Misuse raises :class:`EpisodeError` before anything changes, so a bad request leaves the
episode as it was: ``step`` before ``reset``, ``step`` after the episode ended, any call after
:meth:`close` (the server closes a session it ends for idleness).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from typing import Any

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata

from arena_gym.env.config import EnvConfig
from arena_gym.env.perp_env import PerpTradingEnv
from arena_gym.market.data import MarketData

from .models import ArenaObservation, ArenaState, TradeAction

#: The env preset served by default.
DEFAULT_PRESET = "alpha-arena-s1"

_loaded: dict[str, tuple[MarketData, EnvConfig]] = {}
_loaded_lock = threading.Lock()


class EpisodeError(RuntimeError):
    """A request the episode cannot take in its current state (the message says what to send)."""


def preset_market(preset: str) -> tuple[MarketData, EnvConfig]:
    """The market and config of an env preset, loaded once per process and shared read-only."""
    from arena_gym.presets import load_env_preset

    with _loaded_lock:
        if preset not in _loaded:
            _loaded[preset] = load_env_preset(preset)
        return _loaded[preset]


def episode_config(preset: str = DEFAULT_PRESET,
                   overrides: dict[str, Any] | None = None) -> tuple[MarketData, EnvConfig]:
    """The preset's market and its config with ``overrides`` (EnvConfig fields) applied.

    Raises:
        ValueError: for an unknown field, or a preset whose action mode is not ``decision``
            (the served action is a text answer).
    """
    from arena_gym.presets import env_config

    market, config = preset_market(preset)
    if overrides:
        env_config(dict(overrides), "env overrides")  # names an unknown field
        config = replace(config, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    if config.action_mode != "decision" or config.observation_mode != "text":
        raise ValueError(f"env preset {preset!r} has action_mode={config.action_mode!r}, observation_mode="
                         f"{config.observation_mode!r}; serving it needs 'decision' and 'text' (e.g. alpha-arena-s1)")
    return market, config


class ArenaEnvironment(Environment[TradeAction, ArenaObservation, ArenaState]):
    """One account of an env preset behind OpenEnv's interface (see the module docstring).

    Args:
        preset: env preset name or TOML path (its market is loaded once per process).
        overrides: :class:`~arena_gym.env.EnvConfig` fields replacing the preset's, e.g.
            ``{"assets": ["BTC"], "episode_length": 4, "split": [0, 2000]}``.
    """

    SUPPORTS_CONCURRENT_SESSIONS = True  # each instance owns its env; the market is read-only

    def __init__(self, preset: str = DEFAULT_PRESET, overrides: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.preset = preset
        market, config = episode_config(preset, overrides)
        self.env = PerpTradingEnv(market, config)
        self._state = ArenaState()
        self._closed = False
        self._last: dict[str, Any] | None = None

    # ------------------------------------------------------------------ OpenEnv API
    def reset(self, seed: int | None = None, episode_id: str | None = None, start: int | str | None = None,
              **kwargs: Any) -> ArenaObservation:
        """Start an episode. ``seed`` draws the window (as ``env.reset(seed=...)``); ``start`` (a
        bar index or UTC time) pins it instead."""
        self._check_open()
        if kwargs:
            raise EpisodeError(f"reset takes seed, episode_id and start; unknown: {', '.join(sorted(kwargs))}")
        options = None if start is None else {"start": start}
        prompt, info = self.env.reset(seed=seed, options=options)
        self._state = ArenaState(episode_id=episode_id or str(uuid.uuid4()), step_count=0, seed=seed,
                                 start_bar=int(info["bar"]), done=False, equity=float(info["equity"]),
                                 total_return=0.0)
        return self._observation(prompt, None, info, False, False, system=True)

    def step(self, action: TradeAction, timeout_s: float | None = None, **kwargs: Any) -> ArenaObservation:
        """Play one decision: the answer goes to ``env.step`` as text."""
        self._check_open()
        if self._state.start_bar is None:
            raise EpisodeError("no episode yet: send reset first")
        if self._state.done:
            raise EpisodeError(f"the episode is over after {self._state.step_count} decisions: send reset to start "
                               f"another")
        if not isinstance(action, TradeAction):
            raise EpisodeError(f"step takes a TradeAction (the answer text), got {type(action).__name__}")
        prompt, reward, terminated, truncated, info = self.env.step(action.text)
        s = self._state
        s.step_count += 1
        s.done = bool(terminated or truncated)
        s.equity = float(info["equity"])
        s.total_return = s.equity / self.env.config.initial_capital - 1.0
        s.invalid_answers += int(info["invalid_output"])
        s.fallbacks += int(info["decision_fallbacks"])
        return self._observation(prompt, float(reward), info, bool(terminated), bool(truncated))

    @property
    def state(self) -> ArenaState:
        self._check_open()
        return self._state.model_copy()

    def get_metadata(self) -> EnvironmentMetadata:
        c = self.env.config
        return EnvironmentMetadata(
            name=f"arena-gym:{self.preset}",
            description=(f"Leveraged perpetual futures ({', '.join(self.env.market.symbols)}), "
                         f"{c.episode_length} decisions per episode; the action is the model's answer text "
                         f"(the contest's JSON decision), the observation the contest prompt."),
            version=_version())

    def close(self) -> None:
        """End this instance: later calls raise :class:`EpisodeError`."""
        self._closed = True

    # ------------------------------------------------------------------ helpers
    @property
    def system_prompt(self) -> str:
        return self.env.system_prompt

    def _check_open(self) -> None:
        if self._closed:
            raise EpisodeError("this session has ended (closed, or idle for longer than the server allows): "
                               "open a new one")

    def _observation(self, prompt: str, reward: float | None, info: dict[str, Any], terminated: bool,
                     truncated: bool, system: bool = False) -> ArenaObservation:
        initial = float(self.env.config.initial_capital)
        bar = int(info["bar"])
        return ArenaObservation(
            prompt=prompt, system_prompt=self.env.system_prompt if system else None, step=int(info["step"]), bar=bar,
            time=str(self.env.market.timestamps[bar]), equity=float(info["equity"]), initial_capital=initial,
            total_return=float(info["equity"]) / initial - 1.0, fees_paid=float(info["fees_paid"]),
            funding_paid=float(info["funding_paid"]), decision_fallbacks=int(info["decision_fallbacks"]),
            invalid_output=bool(info["invalid_output"]), terminated=terminated, truncated=truncated,
            done=terminated or truncated, reward=reward)


def _version() -> str:
    import arena_gym

    return getattr(arena_gym, "__version__", "0")
