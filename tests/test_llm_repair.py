"""Near-JSON answers are read after repair (json-repair), counted as ``repaired_json``; a cut-off
answer never gets a field that repair would have completed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_gym.protocol.decision import fallback_counts
from arena_gym.protocol.parse import parse_decision

COINS = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")


def reasons(parsed) -> list[str]:
    return [f.reason for f in parsed.fallbacks]


@pytest.mark.parametrize("text", [
    '{"BTC": {"signal": "buy_to_enter", "quantity": 0.5, "leverage": 10, "confidence": 0.7,},}',
    "{'BTC': {'signal': 'buy_to_enter', 'quantity': 0.5, 'leverage': 10, 'confidence': 0.7}}",
    '{"BTC": {"signal": "buy_to_enter", "quantity": 0.5, "leverage": 10, "confidence": 0.7, "x": True, "y": None}}',
    '{"BTC": {"signal": "buy_to_enter", // strong breakout\n "quantity": 0.5, "leverage": 10, "confidence": 0.7}}',
    'My decision:\n```json\n{"BTC": {"signal": "buy_to_enter", "quantity": 0.5, "leverage": 10, '
    '"confidence": 0.7,},}\n```',
])
def test_near_json_is_repaired_and_counted(text):
    parsed = parse_decision(text, COINS)
    btc = parsed.decisions["BTC"]
    assert (btc.signal.value, btc.quantity, btc.leverage, btc.confidence) == ("buy_to_enter", 0.5, 10, 0.7)
    assert "repaired_json" in reasons(parsed)
    assert fallback_counts(parsed.fallbacks)["repaired_json"] == 1


def test_strict_json_is_not_counted_as_repaired():
    parsed = parse_decision('{"BTC": {"signal": "hold"}}', COINS)
    assert parsed.fallbacks == []


def test_prose_in_brackets_is_not_repaired_into_an_answer():
    parsed = parse_decision("[see the analysis above] {'ETH': {'signal': 'close_position'}}", COINS)
    assert list(parsed.decisions) == ["ETH"] and "repaired_json" in reasons(parsed)
    assert reasons(parse_decision("I would {wait for a better entry}", COINS)) == ["no_json"]


def test_a_missing_value_is_refused_not_invented():
    parsed = parse_decision('{"BTC": {"signal": "buy_to_enter", "quantity": , "leverage": 10}}', COINS)
    assert "BTC" not in parsed.decisions and "bad_quantity" in reasons(parsed)


def test_a_cut_off_near_json_answer_keeps_only_complete_entries():
    text = ("{'BTC': {'signal': 'buy_to_enter', 'quantity': 0.5, 'leverage': 10,}, "
            "'ETH': {'signal': 'buy_to_enter', 'quantity': 2, 'leverage': 1")       # cut from 'leverage': 15
    parsed = parse_decision(text, COINS)
    assert list(parsed.decisions) == ["BTC"] and parsed.decisions["BTC"].leverage == 10
    assert {"repaired_json", "truncated_json"} <= set(reasons(parsed))


_entry = st.fixed_dictionaries({
    "signal": st.sampled_from(["buy_to_enter", "sell_to_enter", "hold", "close_position"]),
    "quantity": st.floats(0.001, 1000, allow_nan=False).map(lambda x: round(x, 4)),
    "leverage": st.integers(1, 40),
    "confidence": st.floats(0, 1).map(lambda x: round(x, 3)),
    "profit_target": st.floats(1, 200_000).map(lambda x: round(x, 2)),
    "stop_loss": st.floats(1, 200_000).map(lambda x: round(x, 2)),
})
_answers = st.dictionaries(st.sampled_from(COINS), _entry, min_size=1, max_size=6)


def _render(answer: dict, style: str) -> str:
    text = json.dumps(answer)
    if style == "single_quotes":
        return text.replace('"', "'")
    if style == "trailing_commas":
        return text.replace("}", ",}")
    if style == "comments":
        return text.replace(', "', ',  // note\n "')
    if style == "python":
        return text[:-1] + ', "flag": True, "none": None}'
    return text


@settings(max_examples=150, deadline=None)
@given(answer=_answers, style=st.sampled_from(["strict", "single_quotes", "trailing_commas", "comments", "python"]),
       cut=st.floats(0, 1))
def test_a_cut_never_yields_a_field_the_full_answer_does_not_have(answer, style, cut):
    """Any prefix of an answer parses to a subset of the full answer's decisions, each with
    exactly the full answer's values: nothing is completed by guessing."""
    text = _render(answer, style)
    full = parse_decision(text, COINS)
    assert set(full.decisions) == set(answer)
    prefix = text[: int(cut * len(text))]
    partial = parse_decision(prefix, COINS)
    for coin, decision in partial.decisions.items():
        assert decision == full.decisions[coin], (prefix, decision, full.decisions[coin])
