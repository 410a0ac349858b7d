"""Deprecated: the contest protocol moved to :mod:`arena_gym.protocol` and the LLM client to
:mod:`arena_gym.agents`. This face re-exports their names for one release, with a
DeprecationWarning; its old submodules import from their new paths (see
:mod:`arena_gym.deprecated_paths`).
"""

import warnings

warnings.warn("arena_gym.llm is deprecated: import the contest protocol from arena_gym.protocol and the LLM "
              "client from arena_gym.agents", DeprecationWarning, stacklevel=2)

from arena_gym.protocol.decision import (
    FALLBACK_REASONS,
    WHOLE_OUTPUT_REASONS,
    CoinDecision,
    Fallback,
    ParsedDecision,
    Signal,
    fallback_counts,
)
from arena_gym.agents.budget import Budget
from arena_gym.agents.response_cache import ResponseCache, request_key
from arena_gym.protocol.decode import decode_decisions
from arena_gym.agents.local_server import LocalModelServer
from arena_gym.protocol.parse import MAX_TEXT_FIELD_CHARS, parse_decision
from arena_gym.agents.llm_policy import Backoff, LLMConfigurationError, LLMPolicy, arun_many, run_many
from arena_gym.agents.profiles import ModelProfile, Price, available_profiles, load_profile
from arena_gym.protocol.prompt import AccountView, PositionView, PromptRenderer, PromptTemplateError, render_system_prompt
from arena_gym.agents.response import ERROR_CODES, LLMResponse
from arena_gym.protocol.schema import DECISION_SIGNALS, decision_json_schema

__all__ = [
    "LLMConfigurationError",
    "AccountView",
    "Backoff",
    "Budget",
    "DECISION_SIGNALS",
    "ERROR_CODES",
    "LLMPolicy",
    "LLMResponse",
    "LocalModelServer",
    "ModelProfile",
    "PositionView",
    "Price",
    "PromptRenderer",
    "PromptTemplateError",
    "ResponseCache",
    "arun_many",
    "available_profiles",
    "decision_json_schema",
    "load_profile",
    "render_system_prompt",
    "request_key",
    "run_many",
    "FALLBACK_REASONS",
    "MAX_TEXT_FIELD_CHARS",
    "WHOLE_OUTPUT_REASONS",
    "CoinDecision",
    "Fallback",
    "ParsedDecision",
    "Signal",
    "decode_decisions",
    "fallback_counts",
    "parse_decision",
]
