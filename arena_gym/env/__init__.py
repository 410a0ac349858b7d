"""Gymnasium environments over the batch exchange core.

Arrows: reads the exchange, the market, the venue and the contest protocol (text observations
and decision actions, :mod:`arena_gym.env.llm_io`); presets, agents, evaluation and everything
above read it.
"""

from .config import EnvConfig
from .core import INFO_KEYS, Position
from .perp_env import PerpTradingEnv
from .vector_env import PerpVectorEnv

__all__ = ["EnvConfig", "INFO_KEYS", "PerpTradingEnv", "PerpVectorEnv", "Position"]
