"""Dated fee tiers of exchange presets: loading, the engine's fills on both sides of a switch,
the env's fee override, and the replay's use of the same schedule (hand-computed values)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym.exchange import Exchange, Orders
from arena_gym.venue import FeeTier, load_rules
from arena_gym.market import MarketData
from arena_gym.replay import replay_trades

SWITCH = datetime(2025, 10, 22, tzinfo=timezone.utc)
#: Four hourly bars: 22:00 and 23:00 on 2025-10-21 (old tier), 00:00 and 01:00 on 2025-10-22 (new tier).
T0 = pd.Timestamp("2025-10-21T22:00", tz="UTC")


def switch_market(rules) -> MarketData:
    ts = pd.date_range(T0, periods=4, freq="h")
    bars = [(100_000.0, 100_000.0, 100_000.0, 100_000.0), (100_000.0, 100_500.0, 99_800.0, 100_400.0),
            (101_000.0, 101_200.0, 100_900.0, 101_100.0), (101_100.0, 103_000.0, 101_000.0, 102_000.0)]
    frame = pd.DataFrame(bars, columns=["open", "high", "low", "close"], index=ts).assign(volume=1e9)
    return MarketData.from_frames({"BTC": frame}, rules=rules)


def test_contest_preset_extends_hyperliquid_with_the_observed_schedule():
    base, contest = load_rules("hyperliquid"), load_rules("alpha-arena-s1")
    assert contest.name == "alpha-arena-s1"
    assert contest.spec("BTC") == base.spec("BTC")                        # inherited contract specs
    assert (contest.taker_fee, contest.maker_fee) == (0.00045, 0.00015)  # before the switch
    assert contest.fee_schedule == (FeeTier(SWITCH, 0.00040, 0.00012),)
    assert contest.fee_tier_at(datetime(2025, 10, 21, 23, 59, tzinfo=timezone.utc)) is None
    assert contest.fee_tier_at(SWITCH).taker_fee == 0.00040             # inclusive start
    assert contest.with_fees(0.0, 0.0).fee_schedule == ()                # an override replaces the schedule
    assert base.fee_schedule == ()


def test_user_preset_extends_a_file_and_rejects_unordered_tiers(tmp_path: Path):
    good = tmp_path / "mine.toml"
    good.write_text('extends = "alpha-arena-s1"\nname = "mine"\n[assets.BTC]\nmax_leverage = 20\n'
                    '[[fee_schedule]]\nfrom = "2025-11-01T00:00:00Z"\ntaker_fee = 0.0003\nmaker_fee = 0.0\n')
    rules = load_rules(good)
    assert rules.spec("BTC").max_leverage == 20 and rules.spec("BTC").size_step == pytest.approx(1e-5)
    assert [t.taker_fee for t in rules.fee_schedule] == [0.0003]         # the child's list replaces the parent's
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "hyperliquid"\n[[fee_schedule]]\nfrom = 2025-11-01T00:00:00Z\ntaker_fee = 0.0003\n'
                   'maker_fee = 0.0\n[[fee_schedule]]\nfrom = 2025-10-01T00:00:00Z\ntaker_fee = 0.0004\nmaker_fee = 0.0\n')
    with pytest.raises(ValueError, match="increasing order"):
        load_rules(bad)
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\n')
    with pytest.raises(ValueError, match="loops back"):
        load_rules(loop)


def test_engine_charges_the_tier_of_the_fill_bar():
    rules = replace(load_rules("alpha-arena-s1"), take_profit_liquidity="maker")
    ex = Exchange(switch_market(rules), 1, 100_000.0, rules=rules, slippage="none")
    ex.reset(0)
    buy = Orders.hold(1, 1)
    buy.size[:] = 1.0
    ex.step(buy)                                   # fills at the 23:00 open: old tier, 4.5 bp
    assert ex.state.fees_paid[0] == pytest.approx(100_000.0 * 0.00045)
    sell = Orders.hold(1, 1)
    sell.size[:] = -1.0                            # flip at the 00:00 open: 2 BTC at 4.0 bp
    sell.take_profit[:] = 99_000.0
    ex.step(sell)
    assert ex.state.fees_paid[0] == pytest.approx(45.0 + 2 * 101_000.0 * 0.00040)
    assert ex.state.realized_pnl[0] == pytest.approx(1_000.0)
    ex.reset(0)                                    # a long whose take-profit fills at 01:00 as a maker
    buy.take_profit[:] = 102_500.0
    ex.step(buy)
    ex.step(None)
    ex.step(None)
    assert ex.state.size[0, 0] == 0.0
    assert ex.state.fees_paid[0] == pytest.approx(100_000.0 * 0.00045 + 102_500.0 * 0.00012)


def test_env_uses_the_schedule_and_its_fee_override_replaces_it():
    from arena_gym.env import PerpTradingEnv

    ts = pd.date_range(SWITCH - pd.Timedelta(hours=60), periods=64, freq="h")
    price = np.where(ts >= pd.Timestamp(SWITCH), 101_000.0, 100_000.0)
    frame = pd.DataFrame({"open": price, "high": price, "low": price, "close": price, "volume": 1e9}, index=ts)
    market = MarketData.from_frames({"BTC": frame}, rules="alpha-arena-s1")

    def first_fee(fees):
        env = PerpTradingEnv(market, exchange="alpha-arena-s1", fees=fees, episode_length=1,
                             start="2025-10-21T23:00", slippage="none", action_mode="decision")
        env.reset(seed=0)
        _, _, _, _, info = env.step('{"BTC": {"signal": "buy_to_enter", "quantity": 0.5, "leverage": 10}}')
        return info["fees_paid"]

    assert first_fee("exchange") == pytest.approx(0.5 * 101_000.0 * 0.00040)   # observes 23:00, fills at 00:00
    assert first_fee((0.001, 0.0)) == pytest.approx(0.5 * 101_000.0 * 0.001)
    assert first_fee("zero") == 0.0


def test_replay_takes_the_schedule_from_its_rules():
    log = pd.DataFrame({"model_id": ["m", "m"], "symbol": ["BTC", "BTC"], "quantity": [1.0, -1.0],
                        "entry_time": ["2025-10-21T23:10Z", "2025-10-22T00:10Z"],
                        "exit_time": ["2025-10-21T23:40Z", "2025-10-22T00:40Z"],
                        "entry_price": [100_100.0, 101_000.0], "exit_price": [100_200.0, 101_100.0],
                        "entry_crossed": [True, True], "exit_crossed": [False, True]})
    market = switch_market("alpha-arena-s1")
    r = replay_trades(log, market, "fills", rules="alpha-arena-s1")
    fees = r.positions.sort_values("entry_time")["sim_fees"].to_numpy()
    np.testing.assert_allclose(fees, [100_100.0 * 0.00045 + 100_200.0 * 0.00015,
                                      101_000.0 * 0.00040 + 101_100.0 * 0.00040])
    plain = replay_trades(log, switch_market("hyperliquid"), "fills")
    assert plain.positions["sim_fees"].max() == pytest.approx(101_000.0 * 0.00045 + 101_100.0 * 0.00045)
