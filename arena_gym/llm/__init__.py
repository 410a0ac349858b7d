"""LLM policies' side of the environment: contest decisions, their parser and their decoder.

* :mod:`arena_gym.llm.decision`: :class:`Signal`, :class:`CoinDecision`, :class:`Fallback`,
  :class:`ParsedDecision` and the fixed set of fallback reasons.
* :mod:`arena_gym.llm.parse`: :func:`parse_decision`, which reads any model output and never raises.
* :mod:`arena_gym.llm.decode`: :func:`decode_decisions`, which turns decisions into
  :class:`~arena_gym.exchange.orders.Orders`.
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
from arena_gym.llm.decode import decode_decisions
from arena_gym.llm.parse import MAX_TEXT_FIELD_CHARS, parse_decision

__all__ = [
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
