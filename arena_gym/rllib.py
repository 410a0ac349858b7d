"""Train on arena-gym with RLlib (the ``ray`` extra).

RLlib builds its environments from its own registry, not Gymnasium's: register the creator
once per process, then name it in the algorithm config::

    from ray.rllib.algorithms.ppo import PPOConfig
    from arena_gym.rllib import register_rllib_env

    name = register_rllib_env()                      # "arena_gym_perp"
    config = PPOConfig().environment(name, env_config={"preset": "synthetic", "episode_length": 42})
    algo = config.build_algo()
    result = algo.train()

``env_config`` is a plain dict: ``preset`` names an env preset under ``envs/`` (or a TOML path;
default: the embedded synthetic market with :class:`~arena_gym.env.EnvConfig`'s defaults), and
every other key is an ``EnvConfig`` field applied on top (``split``, ``start``,
``episode_length``, ``action_mode``, ...). RLlib may add its own keys (worker and vector
indices) through its ``EnvContext``; they are not fields and are ignored.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from arena_gym.env import PerpTradingEnv
from arena_gym.env.config import EnvConfig

#: The name :func:`register_rllib_env` registers by default.
RLLIB_ENV_NAME = "arena_gym_perp"


def env_creator(env_config: dict[str, Any] | None = None) -> PerpTradingEnv:
    """A :class:`~arena_gym.env.PerpTradingEnv` from an RLlib ``env_config`` (see the module
    docstring); an unknown key that is neither ``preset`` nor an ``EnvConfig`` field is an error."""
    settings = dict(env_config or {})
    preset = settings.pop("preset", None)
    known = {f.name for f in fields(EnvConfig)}
    unknown = sorted(k for k in settings if k not in known)
    if unknown:
        raise ValueError(f"env_config: unknown keys {unknown}; use 'preset' and EnvConfig fields")
    if preset is None:
        return PerpTradingEnv(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})
    from arena_gym.campaigns.arena_campaign import with_fields
    from arena_gym.presets import load_env_preset

    market, config = load_env_preset(preset)
    return PerpTradingEnv(market, with_fields(config, settings))


def register_rllib_env(name: str = RLLIB_ENV_NAME) -> str:
    """Register :func:`env_creator` with RLlib under ``name`` (``ray.tune.registry.register_env``)
    and return the name."""
    from ray.tune.registry import register_env

    register_env(name, env_creator)
    return name
