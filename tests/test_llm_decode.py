"""Decoding contest decisions into target orders, against hand-computed arrays."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from arena_gym.exchange.orders import OrderFlag
from arena_gym.protocol import CoinDecision, Fallback, ParsedDecision, Signal, decode_decisions, parse_decision

CONTEST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alpha-arena-s1"
SYMBOLS = ("BTC", "ETH", "SOL")
POSITIONS = np.array([0.5, -2.0, 0.0])  # long 0.5 BTC, short 2 ETH, flat SOL
NAN = math.nan


def decided(*decisions: CoinDecision, fallbacks: list[Fallback] | None = None) -> ParsedDecision:
    return ParsedDecision({d.coin: d for d in decisions}, list(fallbacks or []), "")


def decode(parsed: ParsedDecision, *, house_rules: bool = False, default_leverage=3.0, positions=POSITIONS):
    return decode_decisions(parsed, SYMBOLS, positions, house_rules=house_rules, default_leverage=default_leverage)


def assert_orders(orders, size, leverage, stop_loss, take_profit):
    assert orders.shape == (1, 3)
    np.testing.assert_array_equal(orders.size, [size])
    np.testing.assert_array_equal(orders.leverage, [leverage])
    np.testing.assert_array_equal(orders.stop_loss, [stop_loss])
    np.testing.assert_array_equal(orders.take_profit, [take_profit])


def test_hold_changes_nothing():
    orders, flags, fallbacks = decode(decided(*(CoinDecision(s, Signal.HOLD, quantity=9.0, stop_loss=1.0) for s in SYMBOLS)))
    assert_orders(orders, [NAN] * 3, [NAN] * 3, [NAN] * 3, [NAN] * 3)
    np.testing.assert_array_equal(flags, [[0, 0, 0]])
    assert fallbacks == []


def test_close_position_closes_fully_whatever_the_quantity():
    parsed = decided(CoinDecision("BTC", Signal.CLOSE_POSITION, quantity=0.1),
                     CoinDecision("ETH", Signal.CLOSE_POSITION, quantity=2.0),
                     CoinDecision("SOL", Signal.CLOSE_POSITION))
    for house_rules in (False, True):
        orders, flags, fallbacks = decode(parsed, house_rules=house_rules)
        assert_orders(orders, [0.0, 0.0, NAN], [NAN] * 3, [NAN] * 3, [NAN] * 3)
        np.testing.assert_array_equal(flags, [[0, 0, 0]])
        assert [(f.coin, f.reason) for f in fallbacks] == [("SOL", "nothing_to_close")]


def test_entries_on_a_flat_coin_carry_leverage_and_exit_plan():
    buy = decided(CoinDecision("SOL", Signal.BUY_TO_ENTER, quantity=10.0, leverage=5, profit_target=150.0, stop_loss=100.0))
    sell = decided(CoinDecision("SOL", Signal.SELL_TO_ENTER, quantity=10.0, leverage=5, profit_target=100.0, stop_loss=150.0))
    for house_rules in (False, True):
        orders, flags, fallbacks = decode(buy, house_rules=house_rules)
        assert_orders(orders, [NAN, NAN, 10.0], [NAN, NAN, 5.0], [NAN, NAN, 100.0], [NAN, NAN, 150.0])
        assert not flags.any() and fallbacks == []
        orders, _, _ = decode(sell, house_rules=house_rules)
        assert_orders(orders, [NAN, NAN, -10.0], [NAN, NAN, 5.0], [NAN, NAN, 150.0], [NAN, NAN, 100.0])


def test_without_house_rules_entries_add_to_a_position_or_flip_it():
    parsed = decided(CoinDecision("BTC", Signal.BUY_TO_ENTER, quantity=0.25),   # long 0.5 -> 0.75
                     CoinDecision("ETH", Signal.BUY_TO_ENTER, quantity=1.0))    # short 2 -> long 1
    orders, flags, fallbacks = decode(parsed)
    assert_orders(orders, [0.75, 1.0, NAN], [3.0, 3.0, NAN], [NAN] * 3, [NAN] * 3)
    assert not flags.any() and fallbacks == []
    parsed = decided(CoinDecision("BTC", Signal.SELL_TO_ENTER, quantity=0.2),   # long 0.5 -> short 0.2
                     CoinDecision("ETH", Signal.SELL_TO_ENTER, quantity=1.5))   # short 2 -> short 3.5
    orders, _, _ = decode(parsed)
    np.testing.assert_array_equal(orders.size, [[-0.2, -3.5, NAN]])


def test_house_rules_refuse_entries_while_a_position_is_open():
    parsed = decided(CoinDecision("BTC", Signal.BUY_TO_ENTER, quantity=0.25, leverage=10),
                     CoinDecision("ETH", Signal.BUY_TO_ENTER, quantity=1.0),
                     CoinDecision("SOL", Signal.SELL_TO_ENTER, quantity=4.0))
    orders, flags, fallbacks = decode(parsed, house_rules=True)
    assert_orders(orders, [NAN, NAN, -4.0], [NAN, NAN, 3.0], [NAN] * 3, [NAN] * 3)
    np.testing.assert_array_equal(flags, [[int(OrderFlag.HOUSE_RULE), int(OrderFlag.HOUSE_RULE), 0]])
    assert [(f.coin, f.reason) for f in fallbacks] == [("BTC", "house_rule"), ("ETH", "house_rule")]
    assert "while a long of 0.5 is open" in fallbacks[0].detail
    assert "while a short of 2 is open" in fallbacks[1].detail


def test_default_leverage_scalar_array_and_nan():
    parsed = decided(CoinDecision("BTC", Signal.BUY_TO_ENTER, quantity=1.0),
                     CoinDecision("SOL", Signal.BUY_TO_ENTER, quantity=1.0, leverage=7))
    orders, _, _ = decode(parsed, default_leverage=np.array([2.0, 4.0, 6.0]))
    np.testing.assert_array_equal(orders.leverage, [[2.0, NAN, 7.0]])
    orders, _, _ = decode(parsed, default_leverage=NAN)
    np.testing.assert_array_equal(orders.leverage, [[NAN, NAN, 7.0]])
    with pytest.raises(ValueError, match="default_leverage"):
        decode(parsed, default_leverage=np.ones(2))


def test_parser_fallbacks_come_first_and_a_clamped_leverage_is_flagged():
    text = "Answer: " + json.dumps({"BTC": {"signal": "buy_to_enter", "quantity": 0.1, "leverage": 60},
                                    "ETH": {"signal": "hold"}})
    parsed = parse_decision(text, SYMBOLS, {"BTC": 40, "ETH": 25, "SOL": 20})
    orders, flags, fallbacks = decode(parsed, positions=np.zeros(3))
    assert_orders(orders, [0.1, NAN, NAN], [40.0, NAN, NAN], [NAN] * 3, [NAN] * 3)
    np.testing.assert_array_equal(flags, [[int(OrderFlag.LEVERAGE_CLAMPED), 0, 0]])
    assert [f.reason for f in fallbacks] == ["prose_around_json", "leverage_clamped"]


def test_a_provider_error_decodes_to_hold_with_its_fallback():
    parsed = parse_decision(None, SYMBOLS)
    orders, flags, fallbacks = decode(parsed)
    assert np.isnan(orders.size).all() and not flags.any()
    assert [f.reason for f in fallbacks] == ["empty_output"]


def test_decisions_for_other_symbols_are_recorded_not_decoded():
    parsed = decided(CoinDecision("DOGE", Signal.BUY_TO_ENTER, quantity=100.0))
    orders, flags, fallbacks = decode(parsed)
    assert np.isnan(orders.size).all()
    assert [(f.coin, f.reason) for f in fallbacks] == [(None, "unknown_coin")]
    assert fallbacks[0].detail == "DOGE is not traded here; symbols: BTC, ETH, SOL"


def test_shape_errors_are_explained():
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        decode(decided(), positions=np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        decode(decided(), positions=np.array([0.0, NAN, 0.0]))


@pytest.mark.shareddata
def test_the_contest_answers_decode_against_the_positions_their_prompts_showed():
    answers, positions = CONTEST / "conversations_nof1_unique.parquet", CONTEST / "prompt_open_positions.csv"
    if not (answers.exists() and positions.exists()):
        pytest.skip(f"the contest's recorded conversations and positions are not here ({CONTEST})")
    pd = pytest.importorskip("pandas")
    coins = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")
    frame = pd.read_parquet(answers)
    held = pd.read_csv(positions).groupby("conv_id")
    executed, reasons = {}, []
    for conversation, text in zip(frame["id"], frame["llm_response"]):
        size = np.zeros(len(coins))
        for symbol, quantity in held.get_group(conversation)[["symbol", "quantity"]].itertuples(index=False):
            size[coins.index(symbol)] = quantity
        parsed = parse_decision(text, coins)
        orders, flags, fallbacks = decode_decisions(parsed, coins, size, house_rules=True, default_leverage=NAN)
        reasons += [f.reason for f in fallbacks]
        assert not flags.any()
        acted = ~np.isnan(orders.size[0])
        if acted.any():
            executed[conversation] = {coins[a]: (orders.size[0, a], orders.leverage[0, a], orders.stop_loss[0, a],
                                                 orders.take_profit[0, a]) for a in np.flatnonzero(acted)}
    # The models kept the house rules: no entry on an open coin, no close of a flat one.
    assert reasons == ["no_decisions"] * 3
    np.testing.assert_equal(executed, {
        # short 3.03 BNB and short 11294 DOGE closed
        "gemini-2.5-pro_1761633404.302112": {"BNB": (0.0, NAN, NAN, NAN), "DOGE": (0.0, NAN, NAN, NAN)},
        # long entries on coins that were flat at the time
        "gemini-2.5-pro_1761633811.943682": {"BNB": (3.295, 10.0, 1083.6, 1241.625)},
        "gemini-2.5-pro_1761634083.348063": {"DOGE": (15778.3, 10.0, 0.192408, 0.2204675)},
    })
