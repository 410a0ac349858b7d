"""Gymnasium registration of the arena-gym environments (done on ``import arena_gym``).

* ``arena_gym/Perp-v0``: the numeric RL environment on the embedded synthetic market
  (any :class:`~arena_gym.env.EnvConfig` field can be passed to ``gymnasium.make``).
* ``arena_gym/AlphaArena-v0``: the contest preset: BTC, ETH, SOL, BNB, XRP, DOGE; $10,000;
  Hyperliquid rules with the contest's dated fee schedule (``alpha-arena-s1``) and isolated
  margin, as the contest's records show; the contest's text prompt as observation and its JSON
  decision as action, with its house rules.
"""

from __future__ import annotations

import gymnasium as gym

CONTEST_COINS = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")
CONTEST_KWARGS = dict(assets=CONTEST_COINS, initial_capital=10_000.0, exchange="alpha-arena-s1", margin_mode="isolated",
                      action_mode="decision", observation_mode="text", house_rules=True)


def register_envs() -> None:
    registered = gym.registry
    if "arena_gym/Perp-v0" not in registered:
        gym.register("arena_gym/Perp-v0", entry_point="arena_gym.env.perp_env:PerpTradingEnv",
                     vector_entry_point="arena_gym.env.vector_env:PerpVectorEnv", disable_env_checker=True)
    if "arena_gym/AlphaArena-v0" not in registered:
        gym.register("arena_gym/AlphaArena-v0", entry_point="arena_gym.env.perp_env:PerpTradingEnv",
                     kwargs=CONTEST_KWARGS, disable_env_checker=True)
