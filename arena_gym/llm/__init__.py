"""LLM policies' side of the environment: contest decisions, their parser and their decoder.

* :mod:`arena_gym.llm.decision`: :class:`Signal`, :class:`CoinDecision`, :class:`Fallback`,
  :class:`ParsedDecision` and the fixed set of fallback reasons.
* :mod:`arena_gym.llm.parse`: :func:`parse_decision`, which reads any model output and never raises.
* :mod:`arena_gym.llm.decode`: :func:`decode_decisions`, which turns decisions into
  :class:`~arena_gym.exchange.orders.Orders`.
* :mod:`arena_gym.llm.prompt`: the contest-layout user prompt and the system prompt.
* :mod:`arena_gym.llm.policy`: :class:`LLMPolicy` on litellm (retries, budget, cost ledger,
  record/replay cache), with model profiles in ``policies/llm/`` and the opt-in local model
  (:mod:`arena_gym.llm.local_server`). litellm is imported only when a model is called.
"""

from arena_gym.llm.decision import (
    FALLBACK_REASONS,
    WHOLE_OUTPUT_REASONS,
    CoinDecision,
    Fallback,
    ParsedDecision,
    Signal,
    fallback_counts,
)
from arena_gym.llm.budget import Budget
from arena_gym.llm.cache import ResponseCache, request_key
from arena_gym.llm.decode import decode_decisions
from arena_gym.llm.local_server import LocalModelServer
from arena_gym.llm.parse import MAX_TEXT_FIELD_CHARS, parse_decision
from arena_gym.llm.policy import Backoff, LLMConfigurationError, LLMPolicy, arun_many, run_many
from arena_gym.llm.profiles import ModelProfile, Price, available_profiles, load_profile
from arena_gym.llm.prompt import AccountView, PositionView, PromptRenderer, PromptTemplateError, render_system_prompt
from arena_gym.llm.response import ERROR_CODES, LLMResponse
from arena_gym.llm.schema import DECISION_SIGNALS, decision_json_schema

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
