"""Gymnasium environments over the batch exchange core."""

from .config import EnvConfig
from .core import INFO_KEYS, Position
from .perp_env import PerpTradingEnv
from .vector_env import PerpVectorEnv

__all__ = ["EnvConfig", "INFO_KEYS", "PerpTradingEnv", "PerpVectorEnv", "Position"]
