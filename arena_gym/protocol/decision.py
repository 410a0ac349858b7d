"""The contest's per-coin trading decision, and the record of every repair made to read one.

An LLM policy answers each step with one decision per coin in the Alpha Arena layout::

    {"BTC": {"coin": "BTC", "signal": "buy_to_enter", "quantity": 0.12, "leverage": 10,
             "profit_target": 118000, "stop_loss": 105000,
             "invalidation_condition": "4h close below 105000", "confidence": 0.7,
             "risk_usd": 250, "justification": "..."}}

:func:`arena_gym.protocol.parse.parse_decision` reads such answers into a :class:`ParsedDecision`,
and :func:`arena_gym.protocol.decode.decode_decisions` turns that into the environment's
:class:`~arena_gym.exchange.orders.Orders`. Whatever had to be dropped, clamped or refused on
the way is listed as :class:`Fallback` records with a reason from :data:`FALLBACK_REASONS`.

Units: quantities in coins, prices and ``risk_usd`` in the quote currency (USDC on
Hyperliquid), leverage an integer multiple, confidence a fraction in [0, 1]. A field the
answer did not give (or that was dropped) is ``None``.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable


class Signal(str, Enum):
    """The four contest signals. Compares equal to its string value (``Signal.HOLD == "hold"``)."""

    BUY_TO_ENTER = "buy_to_enter"        # open or add to a long of ``quantity`` coins
    SELL_TO_ENTER = "sell_to_enter"      # open or add to a short of ``quantity`` coins
    HOLD = "hold"                        # change nothing
    CLOSE_POSITION = "close_position"    # close the whole position

    @property
    def is_entry(self) -> bool:
        """True for the two signals that open (or add to) a position."""
        return self in (Signal.BUY_TO_ENTER, Signal.SELL_TO_ENTER)


@dataclass(frozen=True)
class CoinDecision:
    """One coin's decision. Always valid: the constructor raises ``ValueError`` naming the bad
    field (the parser, which must never raise, only builds decisions it has checked).

    Attributes:
        coin: the coin's symbol as the environment names it, e.g. ``"BTC"``.
        signal: a :class:`Signal` (a plain string such as ``"hold"`` is converted).
        quantity: coins. For entries: the positive number of coins to buy or sell. For ``hold``
            and ``close_position`` the contest asks for the full current size; it is kept as
            written (some models write a short as a negative size) and never acted upon.
        leverage: integer leverage (>= 1) for the position an entry opens.
        profit_target: take-profit trigger price, quote currency.
        stop_loss: stop-loss trigger price, quote currency.
        invalidation_condition: the model's own free-text exit condition.
        confidence: the model's stated confidence, in [0, 1].
        risk_usd: the model's stated risk (loss at the stop), quote currency.
        justification: the model's one-line reason.
    """

    coin: str
    signal: Signal
    quantity: float | None = None
    leverage: int | None = None
    profit_target: float | None = None
    stop_loss: float | None = None
    invalidation_condition: str = ""
    confidence: float | None = None
    risk_usd: float | None = None
    justification: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.coin, str) or not self.coin:
            raise ValueError(f"coin must be a non-empty string, got {self.coin!r}")
        if not isinstance(self.signal, Signal):
            try:
                object.__setattr__(self, "signal", Signal(self.signal))
            except ValueError:
                valid = ", ".join(s.value for s in Signal)
                raise ValueError(f"unknown signal {self.signal!r} for {self.coin}; valid signals: {valid}") from None
        if self.signal.is_entry and not _is_number(self.quantity, lower=0.0, strict=True):
            raise ValueError(f"{self.coin}: {self.signal.value} needs a finite quantity > 0 (coins), "
                             f"got {self.quantity!r}")
        checks = {
            "quantity": (_is_number(self.quantity), "a finite number"),
            "profit_target": (_is_number(self.profit_target, lower=0.0, strict=True), "a finite price > 0"),
            "stop_loss": (_is_number(self.stop_loss, lower=0.0, strict=True), "a finite price > 0"),
            "confidence": (_is_number(self.confidence, lower=0.0) and self.confidence <= 1.0, "in [0, 1]"),
            "risk_usd": (_is_number(self.risk_usd, lower=0.0), "a finite amount >= 0"),
        }
        for name, (ok, rule) in checks.items():
            value = getattr(self, name)
            if value is not None:
                if not ok:
                    raise ValueError(f"{self.coin}: {name} must be {rule} or None, got {value!r}")
                object.__setattr__(self, name, float(value))
        if self.leverage is not None:
            whole = _is_number(self.leverage, lower=1.0) and float(self.leverage).is_integer()
            if not whole:
                raise ValueError(f"{self.coin}: leverage must be an integer >= 1 or None, got {self.leverage!r}")
            object.__setattr__(self, "leverage", int(self.leverage))
        for name in ("invalidation_condition", "justification"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{self.coin}: {name} must be a string, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        """The decision in the contest's JSON layout; fields that are ``None`` are left out."""
        out: dict[str, Any] = {"coin": self.coin, "signal": self.signal.value}
        for name in ("quantity", "leverage", "profit_target", "stop_loss"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["invalidation_condition"] = self.invalidation_condition
        for name in ("confidence", "risk_usd"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["justification"] = self.justification
        return out


def _is_number(value: Any, *, lower: float = -math.inf, strict: bool = False) -> bool:
    """True for a finite real number (not a bool) above ``lower`` (or equal to it unless ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        x = float(value)
    except OverflowError:
        return False
    return math.isfinite(x) and (x > lower if strict else x >= lower)


#: Every reason a :class:`Fallback` can carry, with what was done. Whole-output reasons have
#: ``coin=None``; per-coin reasons name the coin when it is known.
FALLBACK_REASONS: dict[str, str] = {
    # the output as a whole
    "provider_error": "the model call failed (the detail holds the error); every coin holds",
    "empty_output": "the output was empty, or held nothing but reasoning; every coin holds",
    "unclosed_reasoning": "the output ended inside a reasoning block (cut off?); every coin holds",
    "unsupported_output": "the output was of a type the parser does not read; every coin holds",
    "no_json": "no JSON object or array could be read from the text; every coin holds",
    "no_decisions": "JSON was found but held no per-coin decision; every coin holds",
    "truncated_json": "the JSON answer was cut off: entries complete before the cut are kept, the rest hold",
    "prose_around_json": "text outside the JSON answer was ignored (the decisions were kept)",
    "repaired_json": "the answer was near-JSON (trailing commas, single quotes, Python literals, comments): "
                     "read after repair, complete entries only",
    "parser_error": "an unexpected failure inside the parser; every coin holds",
    # one entry
    "unknown_coin": "an entry for a coin this environment does not trade was ignored",
    "duplicate_coin": "a coin had more than one entry: the coin holds",
    "coin_mismatch": "an entry keyed by one coin names another in its 'coin' field: the coin holds",
    "bad_entry": "an entry was not a JSON object: the coin holds",
    "bad_signal": "the signal was missing or not one of the four signals: the coin holds",
    "bad_quantity": "an entry's quantity was missing, not a number, not finite or <= 0: the coin holds",
    "bad_leverage": "an entry's leverage was not a finite number: dropped (the default leverage applies)",
    "leverage_clamped": "an entry's leverage was above the coin's maximum or below 1 (clamped), "
                        "or not an integer (floored)",
    "bad_price": "an entry's profit_target or stop_loss was not a finite positive price: dropped",
    "confidence_clamped": "an entry's confidence was outside [0, 1]: clamped",
    "bad_field": "an entry's confidence, risk_usd or text field had the wrong type or was not finite: dropped",
    "text_truncated": "an entry's text field was longer than the limit: truncated",
    # decoding against the account
    "house_rule": "an entry on a coin with an open position was refused (house rules): the coin holds",
    "nothing_to_close": "close_position on a coin with no open position: nothing to do",
}

#: Longest :attr:`Fallback.detail`, in characters.
MAX_DETAIL_CHARS = 240

#: Reasons that concern the output as a whole (their records have ``coin=None``).
WHOLE_OUTPUT_REASONS = frozenset({
    "provider_error", "empty_output", "unclosed_reasoning", "unsupported_output", "no_json",
    "no_decisions", "truncated_json", "prose_around_json", "repaired_json", "parser_error",
})


@dataclass(frozen=True)
class Fallback:
    """One repair made while reading or decoding a decision.

    Attributes:
        coin: the coin concerned, or ``None`` for the output as a whole (or an entry whose coin
            could not be read; the detail then quotes it).
        reason: a code from :data:`FALLBACK_REASONS`.
        detail: a short human-readable account (values seen, what was done), at most
            :data:`MAX_DETAIL_CHARS` characters (longer text is cut).
    """

    coin: str | None
    reason: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.reason not in FALLBACK_REASONS:
            raise ValueError(f"unknown fallback reason {self.reason!r}; known reasons: {', '.join(FALLBACK_REASONS)}")
        if len(self.detail) > MAX_DETAIL_CHARS:
            object.__setattr__(self, "detail", self.detail[: MAX_DETAIL_CHARS - 3] + "...")

    def to_dict(self) -> dict[str, Any]:
        return {"coin": self.coin, "reason": self.reason, "detail": self.detail}


@dataclass
class ParsedDecision:
    """What could be read from one LLM answer.

    Attributes:
        decisions: the valid entries by coin, in the answer's order. Coins the answer does not
            mention hold (that is the default, not a fallback).
        fallbacks: every repair made, in the order it was made.
        raw_text: the text that was read (for a dict or list answer: its compact JSON form).
    """

    decisions: dict[str, CoinDecision] = field(default_factory=dict)
    fallbacks: list[Fallback] = field(default_factory=list)
    raw_text: str = ""

    @property
    def invalid(self) -> bool:
        """True when the output as a whole failed: nothing could be read from it and a fallback
        says why. An answer that validly says nothing (``{}``) is not invalid."""
        return not self.decisions and bool(self.fallbacks)

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable summary for a step's record (the raw text is left out)."""
        return {
            "decisions": {coin: d.to_dict() for coin, d in self.decisions.items()},
            "fallbacks": [f.to_dict() for f in self.fallbacks],
            "invalid": self.invalid,
        }


def fallback_counts(fallbacks: Iterable[Fallback]) -> dict[str, int]:
    """Counts of each reason in :data:`FALLBACK_REASONS` (zeros included), in that order."""
    seen = Counter(f.reason for f in fallbacks)
    return {reason: seen[reason] for reason in FALLBACK_REASONS}
