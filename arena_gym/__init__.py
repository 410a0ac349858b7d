"""arena-gym: a Gymnasium environment for leveraged perpetual-futures trading.

``import arena_gym`` registers ``arena_gym/Perp-v0`` and ``arena_gym/AlphaArena-v0`` with
Gymnasium. Heavy optional libraries (stable-baselines3, litellm, ccxt) are imported only by the
modules that need them.
"""

from . import deprecated_paths
from .registration import register_envs

__version__ = "0.1.0"

deprecated_paths.install()
register_envs()
