"""The decision parser: the contest's real answers, and one hand case per documented rule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from arena_gym.protocol import (
    FALLBACK_REASONS,
    MAX_TEXT_FIELD_CHARS,
    CoinDecision,
    Fallback,
    ParsedDecision,
    Signal,
    fallback_counts,
    parse_decision,
)
from arena_gym.agents.response import LLMResponse, error_response

CONTEST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alpha-arena-s1"
COINS = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")
MAX_LEVERAGE = {"BTC": 40, "ETH": 25, "SOL": 20, "XRP": 20, "DOGE": 10, "BNB": 10}
FIELDS = ("quantity", "leverage", "profit_target", "stop_loss", "invalidation_condition", "confidence",
          "risk_usd", "justification")


def reasons(parsed: ParsedDecision) -> list[tuple[str | None, str]]:
    return [(f.coin, f.reason) for f in parsed.fallbacks]


def entry(coin: str = "BTC", **fields) -> dict:
    out = {"coin": coin, "signal": "buy_to_enter", "quantity": 0.5, "leverage": 10, "profit_target": 120000,
           "stop_loss": 100000, "invalidation_condition": "4h close below 100000", "confidence": 0.7,
           "risk_usd": 250, "justification": "trend"}
    out.update(fields)
    return {k: v for k, v in out.items() if v is not ...}


def parse(output, **kwargs) -> ParsedDecision:
    return parse_decision(output, COINS, MAX_LEVERAGE, **kwargs)


# ---------------------------------------------------------------------------- the contest's records
def _conversations():
    path = CONTEST / "conversations_nof1_unique.parquet"
    if not path.exists():
        pytest.skip(f"the contest's recorded conversations are not here ({path})")
    pd = pytest.importorskip("pandas")
    return pd.read_parquet(path)


def _assert_same_decision(decision: CoinDecision, expected: dict) -> None:
    assert decision.coin == expected["coin"]
    assert decision.signal == expected["signal"]
    for name in FIELDS:
        assert getattr(decision, name) == expected[name], (decision.coin, name)


@pytest.mark.shareddata
def test_all_245_recorded_answers_parse_to_the_decisions_they_hold():
    frame = _conversations()
    assert len(frame) == 245
    per_signal = {s.value: 0 for s in Signal}
    malformed = []
    for row_id, text in zip(frame["id"], frame["llm_response"]):
        stored = json.loads(text)
        parsed = parse_decision(text, COINS)  # no leverage limit: the decisions come back exactly as written
        if "failed_json_response_raw_text" in stored:
            malformed.append(row_id)
            assert parsed.invalid and reasons(parsed) == [(None, "no_decisions")]
            continue
        assert parsed.fallbacks == [], row_id
        assert list(parsed.decisions) == list(stored), row_id
        for coin, expected in stored.items():
            _assert_same_decision(parsed.decisions[coin], expected)
            per_signal[parsed.decisions[coin].signal.value] += 1
        assert parsed.decisions == parse_decision(stored, COINS).decisions  # the dict form reads the same
    assert per_signal == {"buy_to_enter": 2, "sell_to_enter": 0, "hold": 1127, "close_position": 2}
    assert malformed == ["deepseek-chat-v3.1_1761632829.692217", "deepseek-chat-v3.1_1761633389.577893",
                         "deepseek-chat-v3.1_1761652790.874685"]


@pytest.mark.shareddata
def test_the_three_malformed_raw_outputs_become_recorded_fallbacks():
    frame = _conversations().set_index("id")
    raw = {i: json.loads(frame.loc[i, "llm_response"])["failed_json_response_raw_text"] for i in (
        "deepseek-chat-v3.1_1761632829.692217", "deepseek-chat-v3.1_1761633389.577893",
        "deepseek-chat-v3.1_1761652790.874685")}

    empty = parse(raw["deepseek-chat-v3.1_1761632829.692217"])
    assert empty.invalid and reasons(empty) == [(None, "empty_output")]

    # Reasoning prose, then a list of {"COIN": {"trade_signal_args": {...}}}: all six positions held.
    listed = parse(raw["deepseek-chat-v3.1_1761633389.577893"])
    # Reasoning prose (with non-JSON brace sketches), then the object keyed by coin with the same wrapper.
    keyed = parse(raw["deepseek-chat-v3.1_1761652790.874685"])
    for parsed in (listed, keyed):
        assert not parsed.invalid
        assert reasons(parsed) == [(None, "prose_around_json")]
        assert {c: (d.signal, d.quantity) for c, d in parsed.decisions.items()} == {
            "ETH": ("hold", 5.74), "SOL": ("hold", 33.88), "XRP": ("hold", 3609.0), "BTC": ("hold", 0.12),
            "DOGE": ("hold", 27858.0), "BNB": ("hold", 5.64)}
        assert parsed.decisions["BTC"].stop_loss == 102026.675
        assert parsed.decisions["BTC"].invalidation_condition == "If the price closes below 105000 on a 3-minute candle"


@pytest.mark.shareddata
def test_the_twelve_example_answers():
    path = CONTEST / "prompts" / "llm_responses_for_examples.jsonl"
    if not path.exists():
        pytest.skip(f"the contest's example answers are not here ({path})")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert len(records) == 12
    total = 0
    for record in records:
        answer = record["llm_response"]
        for output in (answer, json.dumps(answer), "```json\n" + json.dumps(answer, indent=2) + "\n```"):
            parsed = parse(output)
            assert parsed.fallbacks == [], record["conversation_id"]
            assert list(parsed.decisions) == list(answer)
            for coin, expected in answer.items():
                _assert_same_decision(parsed.decisions[coin], expected)
        total += len(answer)
    assert total == 56


# ---------------------------------------------------------------------------- text handling
def test_reasoning_blocks_and_fences_are_removed():
    answer = json.dumps({"BTC": entry()})
    parsed = parse(f'<think>maybe {{"BTC": {json.dumps(entry(signal="sell_to_enter"))}}}</think>\n```json\n{answer}\n```')
    assert parsed.fallbacks == []
    assert parsed.decisions["BTC"].signal is Signal.BUY_TO_ENTER


def test_a_closing_tag_alone_drops_the_reasoning_before_it():
    parsed = parse('I think {"BTC": {"signal": "hold"}} is wrong.</think>' + json.dumps([entry("ETH")]))
    assert parsed.fallbacks == [] and list(parsed.decisions) == ["ETH"]


def test_an_unclosed_reasoning_block_holds_everything():
    parsed = parse('<THINKING>still deciding {"BTC": ' + json.dumps(entry()))
    assert parsed.invalid and reasons(parsed) == [(None, "unclosed_reasoning")]
    assert reasons(parse("<think>all done</think>   ")) == [(None, "empty_output")]


def test_prose_around_json_takes_the_last_answer_with_a_valid_decision():
    draft = json.dumps({"BTC": entry(signal="sell_to_enter")})
    final = json.dumps({"BTC": entry(quantity=0.25)})
    parsed = parse(f"Draft: {draft}\nNotes {{like this}} and [1].\nFinal: {final}\nThanks!")
    assert parsed.decisions["BTC"].signal is Signal.BUY_TO_ENTER and parsed.decisions["BTC"].quantity == 0.25
    assert reasons(parsed) == [(None, "prose_around_json")]
    # a later answer with no valid entry does not replace a valid one
    parsed = parse(f"{final} then {{\"BTC\": {{\"signal\": \"moon\"}}}}")
    assert parsed.decisions["BTC"].quantity == 0.25


@pytest.mark.parametrize("template", [
    "Answer {as promised: %s}",            # balanced braces around prose
    "[see the plan: %s} and so on",        # mismatched brackets
    "Notes (1] [unclosed %s",              # a bracket never closed
])
def test_json_inside_brackets_of_prose_is_found(template):
    parsed = parse(template % json.dumps({"BTC": entry()}))
    assert list(parsed.decisions) == ["BTC"]
    assert reasons(parsed) == [(None, "prose_around_json")]


def test_truncated_answer_keeps_the_entries_complete_before_the_cut():
    text = json.dumps({"BTC": entry(signal="hold"), "ETH": entry("ETH"), "SOL": entry("SOL")})
    cut = text[: text.index('"SOL"') + 30]
    parsed = parse(cut)
    assert list(parsed.decisions) == ["BTC", "ETH"] and not parsed.invalid
    assert reasons(parsed) == [(None, "truncated_json")]
    # cut inside the first entry: nothing is complete, nothing is acted on
    parsed = parse(text[: text.index('"stop_loss"')])
    assert parsed.invalid and reasons(parsed) == [(None, "truncated_json")]


def test_truncated_list_and_nested_exit_plan_are_not_half_read():
    text = json.dumps({"decisions": [entry(), entry("ETH", exit_plan={"stop_loss": 3000, "profit_target": 4000})]})
    cut = text[: text.index('"profit_target": 4000')]  # inside ETH's exit plan
    parsed = parse(cut)
    assert list(parsed.decisions) == ["BTC"] and reasons(parsed) == [(None, "truncated_json")]


def test_no_json_and_no_decisions():
    assert reasons(parse("I would buy BTC here.")) == [(None, "no_json")]
    assert reasons(parse('{"analysis": "bullish", "score": 3}')) == [(None, "no_decisions")]
    assert reasons(parse("[1, 2, 3]")) == [(None, "no_decisions")]
    assert reasons(parse("")) == [(None, "empty_output")]
    assert reasons(parse(None)) == [(None, "empty_output")]


def test_an_empty_answer_holds_everything_without_a_fallback():
    for output in ("{}", "[]", {"decisions": []}, [], {}):
        parsed = parse(output)
        assert parsed.decisions == {} and parsed.fallbacks == [] and not parsed.invalid


# ---------------------------------------------------------------------------- answer shapes
@pytest.mark.parametrize("output", [
    {"BTC": entry()},
    [entry()],
    entry(),
    {"decisions": [entry()]},
    {"decisions": {"BTC": entry()}},
    {"BTC": {"trade_signal_args": entry()}},
    [{"BTC": {"trade_signal_args": entry()}}],
    {"Decisions": [{"COIN": "BTC", "Signal": "BUY_TO_ENTER", "Quantity": 0.5, "leverage": 10,
                    "profit_target": 120000, "stop_loss": 100000, "invalidation_condition": "4h close below 100000",
                    "confidence": 0.7, "risk_usd": 250, "justification": "trend"}]},
    {"BTC": entry(profit_target=..., stop_loss=..., invalidation_condition=...,
                  exit_plan={"profit_target": 120000, "stop_loss": 100000,
                             "invalidation_condition": "4h close below 100000"})},
    [CoinDecision("BTC", Signal.BUY_TO_ENTER, 0.5, 10, 120000.0, 100000.0, "4h close below 100000", 0.7, 250.0, "trend")],
])
def test_every_answer_shape_reads_the_same_decision(output):
    parsed = parse(output)
    assert parsed.fallbacks == []
    assert parsed.decisions == {"BTC": CoinDecision("BTC", Signal.BUY_TO_ENTER, 0.5, 10, 120000.0, 100000.0,
                                                    "4h close below 100000", 0.7, 250.0, "trend")}


@pytest.mark.parametrize("name", ["btc", " BTC ", "BTC-PERP", "BTC/USDC:USDC", "BTCUSDT", "btc_usd", "BTC/USDT"])
def test_coin_names_are_normalised(name):
    parsed = parse({name: entry(coin=...)})
    assert list(parsed.decisions) == ["BTC"] and parsed.fallbacks == []
    assert list(parse([entry(coin=name)]).decisions) == ["BTC"]


def test_metadata_beside_the_entries_is_ignored_without_a_record():
    parsed = parse({"reasoning": "long BTC", "BTC": entry()})
    assert list(parsed.decisions) == ["BTC"] and parsed.fallbacks == []


def test_coins_absent_from_the_answer_hold_without_a_fallback():
    parsed = parse({"ETH": entry("ETH", signal="hold")})
    assert list(parsed.decisions) == ["ETH"] and parsed.fallbacks == []


# ---------------------------------------------------------------------------- per-coin rules
def test_unknown_duplicate_mismatched_and_malformed_entries_hold():
    parsed = parse({"PEPE": entry("PEPE"), "ETH": "buy", "SOL": entry("ETH"), "XRP": {"sig": "buy"},
                    "BNB": entry("BNB", signal="long"), "DOGE": entry("DOGE")})
    assert list(parsed.decisions) == ["DOGE"]
    assert reasons(parsed) == [(None, "unknown_coin"), ("ETH", "bad_entry"), ("SOL", "coin_mismatch"),
                               ("XRP", "bad_signal"), ("BNB", "bad_signal")]
    assert "coins: BTC, ETH, SOL, BNB, XRP, DOGE" in parsed.fallbacks[0].detail
    parsed = parse([entry(), entry("btc", signal="hold"), entry(coin=...)])
    assert parsed.decisions == {} and reasons(parsed) == [("BTC", "duplicate_coin"), (None, "unknown_coin")]


@pytest.mark.parametrize("signal", ["Buy_To_Enter", "buy to enter", "BUY-TO-ENTER", " buy_to_enter\n"])
def test_signal_spelling_is_forgiven(signal):
    assert parse({"BTC": entry(signal=signal)}).decisions["BTC"].signal is Signal.BUY_TO_ENTER


@pytest.mark.parametrize("quantity", [0, -1.5, "lots", math.nan, math.inf, True, None, ..., [1]])
def test_an_entry_without_a_positive_finite_quantity_holds(quantity):
    parsed = parse({"BTC": entry(quantity=quantity), "ETH": entry("ETH")})
    assert list(parsed.decisions) == ["ETH"]
    assert reasons(parsed) == [("BTC", "bad_quantity")]


def test_numbers_written_as_strings_are_read():
    parsed = parse({"BTC": entry(quantity="0.5", leverage="12x", stop_loss="$100,000", profit_target=" 1.2e5 ",
                                 confidence="0.7", risk_usd="250")})
    d = parsed.decisions["BTC"]
    assert parsed.fallbacks == []
    assert (d.quantity, d.leverage, d.stop_loss, d.profit_target, d.confidence, d.risk_usd) == (
        0.5, 12, 100000.0, 120000.0, 0.7, 250.0)


@pytest.mark.parametrize("leverage, expected, reason", [
    (50, 40, "leverage_clamped"),      # above BTC's 40x
    (12.7, 12, "leverage_clamped"),    # floored
    (0.5, 1, "leverage_clamped"),      # below 1
    (-3, 1, "leverage_clamped"),
    (40, 40, None),
    ("inf", None, "bad_leverage"),
    (True, None, "bad_leverage"),
    ({"x": 1}, None, "bad_leverage"),
    (..., None, None),
])
def test_leverage_rules(leverage, expected, reason):
    parsed = parse({"BTC": entry(leverage=leverage)})
    assert parsed.decisions["BTC"].leverage == expected
    assert reasons(parsed) == ([("BTC", reason)] if reason else [])


def test_leverage_is_not_clamped_above_without_limits():
    parsed = parse_decision({"BTC": entry(leverage=75)}, COINS)
    assert parsed.decisions["BTC"].leverage == 75 and parsed.fallbacks == []


def test_exit_plan_confidence_and_risk_rules():
    parsed = parse({"BTC": entry(stop_loss=-5, profit_target="soon", confidence=1.5, risk_usd=-10),
                    "ETH": entry("ETH", stop_loss=math.inf, confidence=-0.2, risk_usd=math.nan),
                    "SOL": entry("SOL", confidence="high", invalidation_condition=42, justification=None)})
    btc, eth, sol = (parsed.decisions[c] for c in ("BTC", "ETH", "SOL"))
    assert (btc.stop_loss, btc.profit_target, btc.confidence, btc.risk_usd) == (None, None, 1.0, None)
    assert (eth.stop_loss, eth.profit_target, eth.confidence, eth.risk_usd) == (None, 120000.0, 0.0, None)
    assert (sol.confidence, sol.invalidation_condition, sol.justification) == (None, "", "")
    assert reasons(parsed) == [
        ("BTC", "bad_price"), ("BTC", "bad_price"), ("BTC", "confidence_clamped"), ("BTC", "bad_field"),
        ("ETH", "bad_price"), ("ETH", "confidence_clamped"), ("ETH", "bad_field"),
        ("SOL", "bad_field"), ("SOL", "bad_field")]


def test_long_text_fields_are_truncated():
    parsed = parse({"BTC": entry(justification="x" * 10_000)})
    assert parsed.decisions["BTC"].justification == "x" * MAX_TEXT_FIELD_CHARS
    assert reasons(parsed) == [("BTC", "text_truncated")]


def test_hold_and_close_fields_are_sanitised_silently():
    parsed = parse({"BTC": entry(signal="hold", quantity=-0.73, leverage=75, stop_loss=-1, confidence=9),
                    "ETH": entry("ETH", signal="close_position", quantity="all", justification=["x"])})
    btc, eth = parsed.decisions["BTC"], parsed.decisions["ETH"]
    assert parsed.fallbacks == []
    assert (btc.quantity, btc.leverage, btc.stop_loss, btc.confidence) == (-0.73, 40, None, 1.0)
    assert (eth.signal, eth.quantity, eth.justification) == (Signal.CLOSE_POSITION, None, "")


# ---------------------------------------------------------------------------- other inputs
def test_response_objects():
    failed = parse(error_response("timeout", "request exceeded 30.0 s"))
    assert failed.invalid and reasons(failed) == [(None, "provider_error")]
    assert failed.fallbacks[0].detail == "timeout: request exceeded 30.0 s"
    ok = parse(LLMResponse(text=json.dumps({"BTC": entry()})))
    assert list(ok.decisions) == ["BTC"] and ok.fallbacks == [] and ok.raw_text.startswith('{"BTC"')


def test_bytes_and_unsupported_types():
    assert list(parse(json.dumps({"BTC": entry()}).encode()).decisions) == ["BTC"]
    assert reasons(parse(42)) == [(None, "unsupported_output")]
    assert reasons(parse({1, 2})) == [(None, "unsupported_output")]


def test_typed_decisions_are_checked_against_this_environment():
    decisions = [CoinDecision("btc", "buy_to_enter", quantity=1.0, leverage=60),
                 CoinDecision("PEPE", Signal.HOLD)]
    parsed = parse(decisions)
    assert parsed.decisions["BTC"].leverage == 40
    assert reasons(parsed) == [("BTC", "leverage_clamped"), (None, "unknown_coin")]


@pytest.mark.parametrize("kwargs, message", [
    ({"signal": "long"}, "unknown signal 'long'"),
    ({"signal": "buy_to_enter"}, "needs a finite quantity > 0"),
    ({"signal": "sell_to_enter", "quantity": -1.0}, "needs a finite quantity > 0"),
    ({"signal": "hold", "leverage": 0}, "leverage must be an integer >= 1"),
    ({"signal": "hold", "stop_loss": math.nan}, "stop_loss must be a finite price > 0"),
    ({"signal": "hold", "confidence": 1.2}, r"confidence must be in \[0, 1\]"),
    ({"signal": "hold", "justification": None}, "justification must be a string"),
])
def test_coin_decision_refuses_invalid_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CoinDecision("BTC", **kwargs)


def test_numpy_numbers_are_numbers():
    parsed = parse({"BTC": {"signal": "buy_to_enter", "quantity": np.float32(0.5), "leverage": np.int64(10)}})
    assert parsed.fallbacks == [] and (parsed.decisions["BTC"].quantity, parsed.decisions["BTC"].leverage) == (0.5, 10)
    decision = CoinDecision("BTC", "sell_to_enter", quantity=np.float64(2), leverage=np.int64(5), confidence=1)
    assert (type(decision.quantity), type(decision.leverage), type(decision.confidence)) == (float, int, float)
    assert json.dumps(decision.to_dict())


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="non-empty sequence"):
        parse_decision("{}", "BTC")
    with pytest.raises(ValueError, match="listed twice"):
        parse_decision("{}", ["BTC", "btc"])
    with pytest.raises(ValueError, match="integer >= 1"):
        parse_decision("{}", COINS, {"BTC": 0})
    with pytest.raises(ValueError, match="unknown fallback reason"):
        Fallback(None, "oops")


def test_records_and_counts():
    parsed = parse("Here: " + json.dumps({"BTC": entry(leverage=99), "PEPE": entry("PEPE")}))
    record = parsed.to_record()
    assert json.loads(json.dumps(record)) == record
    assert record["decisions"]["BTC"]["leverage"] == 40 and record["invalid"] is False
    counts = fallback_counts(parsed.fallbacks)
    assert list(counts) == list(FALLBACK_REASONS)
    assert {k: v for k, v in counts.items() if v} == {"prose_around_json": 1, "leverage_clamped": 1, "unknown_coin": 1}
