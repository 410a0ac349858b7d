"""JSON Schema of the contest's decision, for providers' structured-output modes.

A decision is one JSON object keyed by coin symbol; each value is that coin's decision:

============================  ========  ===================================================
field                         type      meaning
============================  ========  ===================================================
``signal``                    string    one of :data:`DECISION_SIGNALS`
``coin``                      string    the coin symbol, equal to the key
``quantity``                  number    size in coins, positive; for hold and close, the
                                        full current size
``leverage``                  integer   leverage multiple, at least 1
``profit_target``             number    take-profit price (USD)
``stop_loss``                 number    stop-loss price (USD)
``invalidation_condition``    string    the condition that voids the trade idea
``confidence``                number    0 to 1
``risk_usd``                  number    USD the trade risks at its stop
``justification``             string    short reasoning; may be empty for hold
============================  ========  ===================================================

Numeric ranges are stated in descriptions rather than as ``minimum``/``maximum`` keywords,
because providers differ in which keywords their strict modes accept; the decision parser
enforces the ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arena_gym.protocol.decision import Signal

#: The four signals of the contest, in its own spelling.
DECISION_SIGNALS: tuple[str, ...] = tuple(signal.value for signal in Signal)

#: Name given to the schema in ``response_format`` (providers require one).
SCHEMA_NAME = "trading_decision"


def coin_decision_schema(coin: str | None = None) -> dict[str, Any]:
    """Schema of one coin's decision; ``coin`` pins the ``coin`` field to that symbol."""
    coin_field: dict[str, Any] = {"type": "string", "description": "coin symbol, e.g. BTC"}
    if coin is not None:
        coin_field = {"type": "string", "enum": [coin]}
    properties: dict[str, Any] = {
        "signal": {"type": "string", "enum": list(DECISION_SIGNALS)},
        "coin": coin_field,
        "quantity": {"type": "number", "description": "size in coins, positive"},
        "leverage": {"type": "integer", "description": "leverage multiple, at least 1"},
        "profit_target": {"type": "number", "description": "take-profit price in USD"},
        "stop_loss": {"type": "number", "description": "stop-loss price in USD"},
        "invalidation_condition": {"type": "string"},
        "confidence": {"type": "number", "description": "between 0 and 1"},
        "risk_usd": {"type": "number", "description": "USD at risk at the stop"},
        "justification": {"type": "string"},
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def decision_json_schema(coins: Sequence[str] | None = None) -> dict[str, Any]:
    """Schema of a whole decision.

    Args:
        coins: the tradable coin symbols. When given, the decision must hold exactly one
            entry per coin (the shape strict structured-output modes need). When ``None``,
            any coin keys are allowed, each holding a coin decision.
    """
    if coins is None:
        return {"type": "object", "additionalProperties": coin_decision_schema()}
    coins = list(coins)
    if not coins:
        raise ValueError("decision_json_schema needs at least one coin, or None for any coins")
    if len(set(coins)) != len(coins):
        raise ValueError(f"duplicate coins in {coins}")
    return {
        "type": "object",
        "properties": {coin: coin_decision_schema(coin) for coin in coins},
        "required": coins,
        "additionalProperties": False,
    }
