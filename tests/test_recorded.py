"""Recorded policies: a trade log played back through env.step like any other policy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym.env.config import EnvConfig
from arena_gym.evaluation.recorded import (RECORDED_ENV, compare_with_log, outcome_summary, recorded_policies)
from arena_gym.evaluation.runner import EpisodeKey, evaluate, play_episode
from arena_gym.evaluation.windows import pinned_plan
from arena_gym.market import MarketData

T0 = pd.Timestamp("2025-03-01", tz="UTC")


def flat_market(n: int = 120) -> MarketData:
    """BTC at 100,000 and ETH at 4,000, rising 10 per bar (BTC) and 1 per bar (ETH), 1h bars."""
    ts = pd.date_range(T0 - pd.Timedelta(hours=60), periods=n, freq="h")
    frames = {}
    for coin, p0, step in (("BTC", 100_000.0, 10.0), ("ETH", 4_000.0, 1.0)):
        price = p0 + step * np.arange(n)
        frames[coin] = pd.DataFrame({"open": price, "high": price, "low": price, "close": price, "volume": 1e12},
                                    index=ts)
    return MarketData.from_frames(frames, rules="alpha-arena-s1")


def config() -> EnvConfig:
    return EnvConfig(exchange="alpha-arena-s1", margin_mode="isolated", slippage="none", **RECORDED_ENV)


def log_frame(rows) -> pd.DataFrame:
    cols = ["model_id", "symbol", "quantity", "entry_time", "exit_time", "entry_price", "exit_price"]
    return pd.DataFrame(rows, columns=cols)


def at(hours: float) -> str:
    return (T0 + pd.Timedelta(minutes=round(hours * 60))).isoformat()


def play(log, leverage=10.0, window=("2025-03-01T00:00..2025-03-02T00:00",), capital=10_000.0):
    market = flat_market()
    plan = pinned_plan(market, replace(config(), initial_capital=capital), list(window))
    out = []
    for policy in recorded_policies(log, leverage=leverage):
        metrics, steps, trades = play_episode(policy, market, plan.config, EpisodeKey(policy.name, 0, plan.starts[0], 0))
        out.append((policy, metrics, trades))
    return out


def test_positions_open_at_the_next_open_and_close_at_the_recorded_exit():
    log = log_frame([["m", "BTC", 0.1, at(2.5), at(5.2), 100_610.0, 100_640.0],
                     ["m", "ETH", -2.0, at(3.1), at(7.9), 4_063.0, 4_067.0]])
    (policy, metrics, trades), = play(log)
    out = policy.outcomes().set_index("symbol")
    assert list(out["status"]) == ["closed", "closed"]
    assert out.loc["BTC", "fill_time"] == T0 + pd.Timedelta(hours=3)          # decided at 03:00, the open of bar 3
    assert out.loc["BTC", "close_time"] == T0 + pd.Timedelta(hours=6)
    btc = trades.set_index("symbol").loc["BTC"]
    # opens at the 03:00 open 100,630, closes at the 06:00 open 100,660; taker 4.5 bp on both fills
    assert btc["entry_price"] == pytest.approx(100_630.0) and btc["exit_price"] == pytest.approx(100_660.0)
    assert btc["gross_pnl"] == pytest.approx(0.1 * 30.0)
    assert btc["fees"] == pytest.approx(0.1 * (100_630.0 + 100_660.0) * 0.00045)
    eth = trades.set_index("symbol").loc["ETH"]
    assert eth["gross_pnl"] == pytest.approx(-2.0 * (4_068.0 - 4_064.0)) and eth["leverage"] == 10
    compared = compare_with_log(policy.outcomes(), trades).set_index("symbol")
    assert compared.loc["BTC", "sim_net"] == pytest.approx(btc["gross_pnl"] - btc["fees"])


def test_refused_scaled_and_deferred_positions_are_reported_not_dropped():
    log = log_frame([
        ["m", "BTC", 5.0, at(1.2), at(2.2), 100_600.0, 100_610.0],      # 500k notional at 10x on 10k: scaled
        ["m", "ETH", 1.0, at(4.1), at(4.2), 4_064.0, 4_064.0],          # opened and closed in one bar: exit waits
        ["m", "ETH", 1.0, at(4.5), at(9.0), 4_064.0, 4_069.0],          # entry behind that exit: deferred
        ["m", "BTC", 0.01, at(-20.0), at(-10.0), 100_400.0, 100_500.0],  # before the window
        ["m", "BTC", 0.01, at(30.0), at(31.0), 100_900.0, 100_910.0],   # after the window
    ])
    (policy, _, _), = play(log)
    out = policy.outcomes().sort_values("entry_time").reset_index(drop=True)
    assert list(out["status"]) == ["before_window", "closed", "closed", "closed", "after_window"]
    assert out.loc[1, "scaled"] and 0 < out.loc[1, "sim_size"] < 1.0
    first_eth, second_eth = out.loc[2], out.loc[3]
    assert first_eth["close_time"] == T0 + pd.Timedelta(hours=6)        # one bar after its entry fill
    assert second_eth["fill_time"] == T0 + pd.Timedelta(hours=7) and second_eth["deferred"] >= 1
    summary = outcome_summary(policy.outcomes()).loc["m"]
    assert summary["positions"] == 5 and summary["scaled"] == 1 and summary["before_window"] == 1


def test_a_position_the_margin_refuses_is_counted_with_its_reason():
    # $0.50 of collateral at 10x buys $5 of BTC, below the $10 minimum order: refused
    (policy, _, _), = play(log_frame([["m", "BTC", 100.0, at(1.5), at(3.0), 100_610.0, 100_630.0]]), capital=0.5)
    out = policy.outcomes().iloc[0]
    assert out["status"] == "refused" and out["reason"].startswith("margin")


def test_recorded_policies_run_in_the_harness(tmp_path: Path):
    log = log_frame([["a", "BTC", 0.1, at(2.5), at(5.2), 100_610.0, 100_640.0],
                     ["b", "ETH", -2.0, at(3.1), at(7.9), 4_063.0, 4_067.0]])
    market = flat_market()
    plan = pinned_plan(market, config(), ["2025-03-01T00:00..2025-03-01T12:00", "2025-03-01T12:00..2025-03-02T00:00"])
    results = evaluate(recorded_policies(log), market, plan.config, list(plan.starts), [0], tmp_path, progress=False)
    assert set(results["policy"]) == {"a", "b"} and (results["status"] == "ok").all()
    assert results.loc[(results["policy"] == "a") & (results["window"] == 0), "n_trades"].item() == 1


# ---------------------------------------------------------------------- the real contest
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.shareddata
def test_contest_log_replayed_as_policies_matches_the_recorded_pnl_within_the_bars_mode_error():
    """Each recorded LLM, played through env.step on Binance 1h bars under the contest preset,
    ends within its bars-mode replay error budget (the sum over its positions of the absolute
    per-position error of ``arena-gym replay --mode bars``) of the contest's net PnL."""
    from arena_gym.evaluation.season1 import CONTEST_LEVERAGE, contest_log
    from arena_gym.replay import replay_trades

    trades_csv = SHARED / "alpha-arena-s1" / "trades_api_union_2025-10-17_to_10-28.csv"
    data = SHARED / "binance-usdm"
    if not trades_csv.exists() or not data.is_dir():
        pytest.skip(f"real contest data ({trades_csv.parent}, {data}) is absent")
    log = contest_log(trades_csv)
    market = MarketData.from_freqtrade(data, ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE"], "1h", quote="USDT",
                                       rules="alpha-arena-s1").slice(15_000, 16_500)
    plan = pinned_plan(market, replace(config(), slippage="default"), ["2025-10-17T00:00..2025-10-28T08:00"])
    bars = replay_trades(log, market, "bars", rules="alpha-arena-s1")
    budget = bars.positions.assign(a=bars.positions["err_net"].abs()).groupby("model")["a"].sum()
    errors = []
    for policy in recorded_policies(log, leverage=CONTEST_LEVERAGE):
        _, _, trades = play_episode(policy, market, plan.config, EpisodeKey(policy.name, 0, plan.starts[0], 0))
        compared = compare_with_log(policy.outcomes(), trades)
        assert compared["sim_net"].notna().all()
        assert (policy.outcomes()["status"] == "closed").mean() > 0.9
        total_error = abs(compared["sim_net"].sum() - compared["rec_net"].sum())
        assert total_error <= budget[policy.name], (policy.name, total_error, budget[policy.name])
        errors.append(compared["err_net"].abs())
    per_position = pd.concat(errors)
    assert per_position.median() < 2 * bars.positions["err_net"].abs().median()      # measured $38 vs $24
    assert per_position.quantile(0.9) < 2 * bars.positions["err_net"].abs().quantile(0.9)   # $284 vs $223


def test_a_recorded_account_is_a_policy_spec(tmp_path: Path):
    from arena_gym.evaluation.policies import policy_from_spec

    path = tmp_path / "my_trades.csv"
    log_frame([["paper", "BTC", 0.1, at(2.5), at(5.2), 100_610.0, 100_640.0]]).to_csv(path, index=False)
    policy = policy_from_spec(f"mine=recorded:{path}#paper")
    assert policy.name == "mine" and len(policy.outcomes()) == 1
    with pytest.raises(ValueError, match="no account"):
        policy_from_spec(f"recorded:{path}#other")
    with pytest.raises(ValueError, match="expected recorded"):
        policy_from_spec(f"recorded:{path}")
