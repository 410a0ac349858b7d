"""The contest protocol: what turns market state into the contest's text and a JSON answer into
orders, whoever (or whatever) writes the answer.

* :mod:`arena_gym.protocol.prompt`: the contest-layout user prompt and the system prompt.
* :mod:`arena_gym.protocol.schema`: the JSON schema of an answer (for structured outputs).
* :mod:`arena_gym.protocol.decision`: :class:`Signal`, :class:`CoinDecision`, :class:`Fallback`,
  :class:`ParsedDecision` and the fixed set of fallback reasons.
* :mod:`arena_gym.protocol.parse`: :func:`parse_decision`, which reads any answer and never raises.
* :mod:`arena_gym.protocol.decode`: :func:`decode_decisions`, which turns decisions into
  :class:`~arena_gym.exchange.orders.Orders`.

Arrows: reads the venue, the exchange's orders and the market; the env
(:mod:`arena_gym.env.llm_io`) and the agents read it. It never calls a model.
"""

from arena_gym.protocol.decision import (
    FALLBACK_REASONS,
    WHOLE_OUTPUT_REASONS,
    CoinDecision,
    Fallback,
    ParsedDecision,
    Signal,
    fallback_counts,
)
from arena_gym.protocol.decode import decode_decisions
from arena_gym.protocol.parse import MAX_TEXT_FIELD_CHARS, parse_decision
from arena_gym.protocol.prompt import AccountView, PositionView, PromptRenderer, PromptTemplateError, render_system_prompt
from arena_gym.protocol.schema import DECISION_SIGNALS, decision_json_schema

__all__ = [
    "AccountView", "CoinDecision", "DECISION_SIGNALS", "FALLBACK_REASONS", "Fallback", "MAX_TEXT_FIELD_CHARS",
    "ParsedDecision", "PositionView", "PromptRenderer", "PromptTemplateError", "Signal", "WHOLE_OUTPUT_REASONS",
    "decision_json_schema", "decode_decisions", "fallback_counts", "parse_decision", "render_system_prompt",
]
