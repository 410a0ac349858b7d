"""The decision parser never raises, and every fallback it records carries a documented reason.

Two parts: generated answers (hypothesis: JSON-like values full of wrong types, unknown coins,
NaN, infinities and enormous numbers, rendered as text and then truncated, fenced, wrapped in
reasoning or prose), and a hand-written corpus of hostile outputs with the reason each must get.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena_gym.exchange.orders import OrderFlag
from arena_gym.protocol import (
    FALLBACK_REASONS,
    MAX_TEXT_FIELD_CHARS,
    WHOLE_OUTPUT_REASONS,
    CoinDecision,
    ParsedDecision,
    decode_decisions,
    parse_decision,
)
from arena_gym.protocol.decision import MAX_DETAIL_CHARS

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

COINS = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")
MAX_LEVERAGE = {"BTC": 40, "ETH": 25, "SOL": 20, "XRP": 20, "DOGE": 10, "BNB": 10}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECODER_FLAGS = int(OrderFlag.HOUSE_RULE | OrderFlag.LEVERAGE_CLAMPED)


def check(parsed: ParsedDecision) -> ParsedDecision:
    """Every invariant a parse result must satisfy, whatever the input."""
    assert isinstance(parsed, ParsedDecision) and isinstance(parsed.raw_text, str)
    for fallback in parsed.fallbacks:
        assert fallback.reason in FALLBACK_REASONS
        assert isinstance(fallback.detail, str) and fallback.detail.strip(), fallback
        assert len(fallback.detail) <= MAX_DETAIL_CHARS
        assert fallback.coin is None or fallback.coin in COINS
        if fallback.reason in WHOLE_OUTPUT_REASONS:
            assert fallback.coin is None
    assert parsed.invalid == (not parsed.decisions and bool(parsed.fallbacks))
    for coin, decision in parsed.decisions.items():
        assert coin in COINS and isinstance(decision, CoinDecision) and decision.coin == coin
        if decision.signal.is_entry:
            assert math.isfinite(decision.quantity) and decision.quantity > 0
        if decision.leverage is not None:
            assert 1 <= decision.leverage <= MAX_LEVERAGE[coin]
        if decision.confidence is not None:
            assert 0.0 <= decision.confidence <= 1.0
        assert len(decision.justification) <= MAX_TEXT_FIELD_CHARS
        assert len(decision.invalidation_condition) <= MAX_TEXT_FIELD_CHARS
    return parsed


def check_decodes(parsed: ParsedDecision, positions: np.ndarray, house_rules: bool) -> None:
    orders, flags, fallbacks = decode_decisions(parsed, COINS, positions, house_rules=house_rules, default_leverage=5.0)
    assert orders.shape == (1, len(COINS)) and flags.shape == (1, len(COINS))
    assert not np.isinf(orders.size).any()
    assert (flags & ~DECODER_FLAGS == 0).all()
    assert fallbacks[: len(parsed.fallbacks)] == parsed.fallbacks
    assert all(f.reason in FALLBACK_REASONS and f.detail for f in fallbacks)


def reasons(parsed: ParsedDecision) -> list[str]:
    return [f.reason for f in parsed.fallbacks]


# ---------------------------------------------------------------------------- generated answers
SAFE_TEXT = st.text(alphabet=st.characters(blacklist_characters="`<", blacklist_categories=("Cs",)), max_size=20)
FIELD_NAMES = ("coin", "signal", "quantity", "leverage", "profit_target", "stop_loss", "invalidation_condition",
               "confidence", "risk_usd", "justification", "exit_plan", "trade_signal_args", "decisions")
KEYS = st.sampled_from(FIELD_NAMES + ("BTC", "eth", "SOL-PERP", "BNB/USDC:USDC", "xrpusdt", "DOGE", "PEPE", "")) | SAFE_TEXT
SCALARS = (
    st.none() | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30) | st.just(10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["buy_to_enter", "sell_to_enter", "hold", "close_position", "Buy To Enter", "long", "",
                       "10x", "$1,200", "0.5", "nan", "-inf", "x" * 3000])
    | SAFE_TEXT
)
ENTRIES = st.fixed_dictionaries(
    {"signal": st.sampled_from(["buy_to_enter", "sell_to_enter", "hold", "close_position", "short"])},
    optional={name: SCALARS for name in FIELD_NAMES if name not in ("signal", "decisions", "trade_signal_args")},
)
VALUES = st.recursive(
    SCALARS | ENTRIES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=25,
)
COIN_NAMES = st.sampled_from(["BTC", "eth", "SOL-PERP", "BNB/USDC:USDC", "xrpusdt", "DOGE", "PEPE"])
PLAUSIBLE = {
    "quantity": st.floats(min_value=1e-6, max_value=1e6) | st.floats(min_value=-10, max_value=0),
    "leverage": st.integers(min_value=-5, max_value=100) | st.floats(min_value=0, max_value=60),
    "profit_target": st.floats(min_value=-1, max_value=2e5),
    "stop_loss": st.floats(min_value=-1, max_value=2e5),
    "confidence": st.floats(min_value=-0.5, max_value=1.5),
    "risk_usd": st.floats(min_value=-100, max_value=1e4),
    "invalidation_condition": SAFE_TEXT | st.just("w" * 2500),
    "justification": SAFE_TEXT,
}
#: Entries in the contest's layout, each field usually plausible and sometimes garbage.
CONTEST_ENTRIES = st.fixed_dictionaries(
    {"signal": st.sampled_from(["buy_to_enter", "sell_to_enter", "hold", "close_position", "Sell To Enter", "short"])},
    optional={"coin": COIN_NAMES, **{name: values | SCALARS for name, values in PLAUSIBLE.items()}},
)
CONTEST_ANSWERS = (
    st.dictionaries(COIN_NAMES, CONTEST_ENTRIES | SCALARS, max_size=6)
    | st.lists(CONTEST_ENTRIES, max_size=6)
    | st.dictionaries(COIN_NAMES, CONTEST_ENTRIES.map(lambda e: {"trade_signal_args": e}), max_size=6)
    | st.lists(CONTEST_ENTRIES, max_size=6).map(lambda entries: {"decisions": entries})
)
ANSWERS = CONTEST_ANSWERS | VALUES.filter(lambda v: isinstance(v, (dict, list)))
PROSE = st.text(alphabet=st.characters(blacklist_characters='`<{}[]"', blacklist_categories=("Cs",)), max_size=60)


def render(value) -> str:
    return json.dumps(value)  # NaN and Infinity become the tokens Python's json reads back


#: Text made of the characters the scanner cares about, so brackets, strings and tags collide often.
STRUCTURAL_TEXT = st.lists(
    st.sampled_from(list('{}[]":,.-\\ \n0123456789eE') + ["NaN", "Infinity", "<think>", "</think>", "```json", "```",
                                                       '"BTC"', '"signal"', '"hold"', '"buy_to_enter"', '"quantity"']),
    max_size=120,
).map("".join)


@FUZZ
@given(text=st.text(max_size=300) | STRUCTURAL_TEXT)
def test_any_text_is_read_without_raising(text):
    check(parse_decision(text, COINS, MAX_LEVERAGE))


@FUZZ
@given(value=VALUES | CONTEST_ANSWERS, house_rules=st.booleans(),
       positions=st.lists(st.sampled_from([0.0, 1.5, -2.0, 1e-9]), min_size=6, max_size=6))
def test_any_json_like_value_is_read_and_decoded_without_raising(value, house_rules, positions):
    parsed = check(parse_decision(value, COINS, MAX_LEVERAGE))
    check_decodes(parsed, np.array(positions), house_rules)


@FUZZ
@given(value=ANSWERS)
def test_text_and_object_forms_read_the_same(value):
    from_object = check(parse_decision(value, COINS, MAX_LEVERAGE))
    from_text = check(parse_decision(render(value), COINS, MAX_LEVERAGE))
    assert from_text.decisions == from_object.decisions
    assert [(f.coin, f.reason) for f in from_text.fallbacks] == [(f.coin, f.reason) for f in from_object.fallbacks]


@FUZZ
@given(value=ANSWERS, before=PROSE, after=PROSE, fenced=st.booleans(), thought=PROSE)
def test_fences_reasoning_and_prose_do_not_change_the_decisions(value, before, after, fenced, thought):
    plain = check(parse_decision(render(value), COINS, MAX_LEVERAGE))
    body = f"```json\n{render(value)}\n```" if fenced else render(value)
    wrapped = check(parse_decision(f"<think>{thought}</think>{before}{body}{after}", COINS, MAX_LEVERAGE))
    assert wrapped.decisions == plain.decisions
    notes = [r for r in reasons(wrapped) if r != "prose_around_json"]
    assert notes == reasons(plain)
    if reasons(wrapped) != notes:
        assert (before + after).strip()


@FUZZ
@given(value=ANSWERS, data=st.data())
def test_truncated_answers_never_raise_and_say_so(value, data):
    text = render(value)
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    parsed = check(parse_decision(text[:cut], COINS, MAX_LEVERAGE))
    if parsed.decisions and cut < len(text) and "truncated_json" not in reasons(parsed):
        # only possible when the cut left a complete, shorter value (e.g. inside a trailing string)
        assert "prose_around_json" in reasons(parsed) or text[:cut].rstrip().endswith(("}", "]"))


# ---------------------------------------------------------------------------- hand-written corpus
ENTRY = '{"coin": "BTC", "signal": "buy_to_enter", "quantity": 0.1, "leverage": 10}'


class _Response:
    def __init__(self, text, error=None):
        self.text, self.error = text, error


class _Hostile:
    """An object whose attributes cannot even be looked at."""

    def __getattr__(self, name):
        raise RuntimeError(f"no {name} for you")


_cyclic: dict = {}
_cyclic["BTC"] = _cyclic
_deep_list: list = []
_node = _deep_list
for _ in range(5000):
    _node.append([])
    _node = _node[0]

CORPUS = [
    # (name, output, reasons expected in order, coins decided)
    ("empty", "", ["empty_output"], []),
    ("whitespace", " \n\t ", ["empty_output"], []),
    ("none", None, ["empty_output"], []),
    ("only a fence", "```json\n```", ["empty_output"], []),
    ("only reasoning", "<think>hmm</think>", ["empty_output"], []),
    ("unclosed reasoning", "<think>" + ENTRY, ["unclosed_reasoning"], []),
    ("prose only", "I would hold everything today.", ["no_json"], []),
    ("json scalar", "42", ["no_json"], []),
    ("python dict", "{'BTC': {'signal': 'hold'}}", ["repaired_json"], ["BTC"]),
    ("truncated first entry", '{"BTC": {"coin": "BTC", "signal": "buy_to_', ["truncated_json"], []),
    ("truncated in a string", '{"BTC": ' + ENTRY + ', "ETH": {"justification": "because', ["truncated_json"], ["BTC"]),
    ("fenced with prose", "Decision:\n```json\n{\"BTC\": " + ENTRY + "}\n```\nGood luck.", ["prose_around_json"], ["BTC"]),
    ("think then json", "<think>{\"BTC\": {\"signal\": \"sell_to_enter\"}}</think>{\"BTC\": " + ENTRY + "}", [], ["BTC"]),
    ("list of strings", '["hold", "hold"]', ["no_decisions"], []),
    ("wrong top type", '{"decisions": "none"}', ["no_decisions"], []),
    ("unknown coin", '{"PEPE": {"signal": "buy_to_enter", "quantity": 1}}', ["unknown_coin"], []),
    ("negative quantity", '{"BTC": {"signal": "buy_to_enter", "quantity": -3}}', ["bad_quantity"], []),
    ("zero quantity", '{"BTC": {"signal": "sell_to_enter", "quantity": 0}}', ["bad_quantity"], []),
    ("NaN quantity", '{"BTC": {"signal": "buy_to_enter", "quantity": NaN}}', ["bad_quantity"], []),
    ("infinite quantity", '{"BTC": {"signal": "buy_to_enter", "quantity": 1e999}}', ["bad_quantity"], []),
    ("5000-digit quantity", '{"BTC": {"signal": "buy_to_enter", "quantity": ' + "9" * 5000 + "}}", ["bad_quantity"], []),
    ("enormous finite quantity", '{"BTC": {"signal": "buy_to_enter", "quantity": 1e300, "leverage": 1e300}}',
     ["leverage_clamped"], ["BTC"]),
    ("leverage above max", '{"DOGE": {"signal": "buy_to_enter", "quantity": 100, "leverage": 50}}',
     ["leverage_clamped"], ["DOGE"]),
    ("infinite leverage", '{"BTC": {"signal": "buy_to_enter", "quantity": 1, "leverage": -Infinity}}',
     ["bad_leverage"], ["BTC"]),
    ("signal of wrong type", '{"BTC": {"signal": ["buy"], "quantity": 1}}', ["bad_signal"], []),
    ("nested garbage entry", '{"BTC": {"signal": {"a": [1, {"b": [[]]}]}}, "ETH": [[[{}]]]}',
     ["bad_signal", "bad_entry"], []),
    ("huge justification", '{"BTC": {"signal": "buy_to_enter", "quantity": 1, "justification": "' + "y" * 100_000 + '"}}',
     ["text_truncated"], ["BTC"]),
    ("huge prose", "z" * 1_000_000, ["no_json"], []),
    ("open brackets", "[" * 100_000, ["truncated_json"], []),
    ("open objects", '{"a":' * 50_000, ["truncated_json"], []),
    ("balanced deep nesting", "[" * 10_000 + "]" * 10_000, ["no_decisions"], []),
    ("mismatched brackets", '{"BTC": [}' + "]" * 100, ["no_json"], []),
    ("many reasoning tags", "<think>" * 10_000 + "</think>" * 10_000 + '{"BTC": ' + ENTRY + "}", [], ["BTC"]),
    ("stray quotes in prose", 'He said "buy" {"BTC": ' + ENTRY + '} and "sell', ["prose_around_json"], ["BTC"]),
    ("control characters", '\x00\x1b[31m{"BTC": ' + ENTRY + "}\x00", ["prose_around_json"], ["BTC"]),
    ("lone surrogate", '\ud800{"BTC": ' + ENTRY + "}", ["prose_around_json"], ["BTC"]),
    ("bytes, not utf-8", b'\xff\xfe{"BTC": ' + ENTRY.encode() + b"}", ["prose_around_json"], ["BTC"]),
    ("provider error", _Response("", "timeout: request exceeded 30.0 s"), ["provider_error"], []),
    ("response without text", _Response(None), ["empty_output"], []),
    ("cyclic dict", _cyclic, ["bad_signal"], []),
    ("deep python list", _deep_list, ["no_decisions"], []),
    ("unsupported type", 3.14, ["unsupported_output"], []),
    ("hostile object", _Hostile(), ["parser_error"], []),
]


@pytest.mark.parametrize("name, output, expected, coins", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(name, output, expected, coins):
    parsed = parse_decision(output, COINS, MAX_LEVERAGE)
    check(parsed)
    assert reasons(parsed) == expected
    assert list(parsed.decisions) == coins
    assert all(f.detail for f in parsed.fallbacks)
    check_decodes(parsed, np.zeros(len(COINS)), house_rules=True)
