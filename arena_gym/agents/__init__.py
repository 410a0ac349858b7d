"""Agents: the :class:`~arena_gym.agents.policies.Policy` protocol and every policy that follows it.

* :mod:`arena_gym.agents.policies`: the protocol, :class:`CallablePolicy`, :class:`SB3Policy`
  (a trained PPO model loaded from its zip) and :class:`LLMTrader` (an LLM as a contestant).
* :mod:`arena_gym.agents.baselines`: the reference strategies (hold cash, buy and hold, random, ...).
* :mod:`arena_gym.agents.recorded`: the positions of a contest trade log played back as a policy.
* :mod:`arena_gym.agents.llm_policy`: :class:`LLMPolicy` on litellm (retries, budget, cost ledger,
  record/replay cache), with :mod:`~arena_gym.agents.budget`, :mod:`~arena_gym.agents.response_cache`,
  :mod:`~arena_gym.agents.response`, model :mod:`~arena_gym.agents.profiles` (``policies/llm/``) and
  the opt-in local model (:mod:`arena_gym.agents.local_server`). litellm is imported only when a
  model is called.

Arrows: reads the contest protocol (prompt, schema), the env's recorded fills and the replay's
trade log; evaluation, training and the campaigns read it. This face imports the LLM client's
names and the protocol's adapters; the baselines and recorded policies are imported from their
modules.
"""

from arena_gym.agents.budget import Budget
from arena_gym.agents.llm_policy import Backoff, LLMConfigurationError, LLMPolicy, arun_many, run_many
from arena_gym.agents.local_server import LocalModelServer
from arena_gym.agents.policies import CallablePolicy, LLMTrader, Policy, SB3Policy
from arena_gym.agents.profiles import ModelProfile, Price, available_profiles, load_profile
from arena_gym.agents.response import ERROR_CODES, LLMResponse
from arena_gym.agents.response_cache import ResponseCache, request_key

__all__ = [
    "Backoff", "Budget", "CallablePolicy", "ERROR_CODES", "LLMConfigurationError", "LLMPolicy", "LLMResponse",
    "LLMTrader", "LocalModelServer", "ModelProfile", "Policy", "Price", "ResponseCache", "SB3Policy",
    "arun_many", "available_profiles", "load_profile", "request_key", "run_many",
]
