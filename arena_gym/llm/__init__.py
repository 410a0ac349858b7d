"""Deprecated: the contest protocol moved to :mod:`arena_gym.protocol` and the LLM client to
:mod:`arena_gym.agents`. This face re-exports their names for one release, with a
DeprecationWarning; its old submodules import from their new paths (see
:mod:`arena_gym.deprecated_paths`).
"""

import warnings

warnings.warn("arena_gym.llm is deprecated: import the contest protocol from arena_gym.protocol and the LLM "
              "client from arena_gym.agents", DeprecationWarning, stacklevel=2)

from arena_gym import agents as _agents, protocol as _protocol
from arena_gym.agents import *  # noqa: F401,F403
from arena_gym.protocol import *  # noqa: F401,F403

__all__ = [*_agents.__all__, *_protocol.__all__]
