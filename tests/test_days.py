"""Days cut from one continuous run: daily returns compound to the run's return, positions carry
across midnight, partial days are kept and stated, and flat days are their own option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym import cli
from arena_gym.env.config import EnvConfig
from arena_gym.campaigns.arena_campaign import CONTINUOUS_DIR, ArenaPlan, run_arena
from arena_gym.agents.baselines import BuyAndHold, EMAMomentum, HoldCash, RandomWeights
from arena_gym.evaluation.days import DAILY_RETURNS_NAME, compounded
from arena_gym.evaluation.runner import load_results
from arena_gym.market.synthetic import synthetic_market

WINDOW = "2025-01-10T05:00..2025-01-13T00:00"     # a partial first day (19 h), then two whole days


@pytest.fixture(scope="module")
def market():
    return synthetic_market(seed=1, n_bars=24 * 30)


@pytest.fixture(scope="module")
def daily(market, tmp_path_factory):
    out = tmp_path_factory.mktemp("daily")
    policies = [HoldCash(), BuyAndHold(), RandomWeights(), EMAMomentum()]
    summary = run_arena(market, EnvConfig(leverage_cap=2.0), policies, out,
                        ArenaPlan(seeds=(0, 1), date_windows=(WINDOW,), daily=True), progress=False, n_boot=10)
    return out, summary


def test_daily_returns_compound_to_each_contestants_continuous_return(daily):
    out, summary = daily
    returns = pd.read_csv(out / DAILY_RETURNS_NAME)
    assert len(returns) == 4 * 2 * 3 and list(returns["hours"].unique()) == [19.0, 24.0]
    assert {"return %", "start equity $", "end equity $", "fees $", "funding $"} <= set(returns.columns)
    runs = load_results(out / CONTINUOUS_DIR).set_index(["policy", "seed"])["total_return"] * 100.0
    days = compounded(returns)
    assert len(days) == len(runs) == 8
    for key, full in runs.items():
        assert days.loc[key] == pytest.approx(full, rel=1e-9, abs=1e-12), key
    # each day starts where the previous one ended
    for _, group in returns.groupby(["contestant", "seed"]):
        np.testing.assert_array_equal(group["start equity $"].to_numpy()[1:], group["end equity $"].to_numpy()[:-1])
    assert (returns["return %"] != 0).sum() > 10      # not a degenerate check: the days did move


def test_positions_carry_across_midnight(daily):
    out, _ = daily
    results = load_results(out)
    bh = results[results["policy"] == "buy_and_hold"].sort_values(["seed", "window"])
    # bought on the first day, held through the next two without a trade, fully exposed
    assert (bh["window"].to_numpy() == [0, 1, 2, 0, 1, 2]).all()
    # no trade closes on the middle day; the six positions close as the run's end trades on the last
    assert bh["n_trades"].tolist() == [0, 0, 6, 0, 0, 6] and (bh["avg_gross_leverage"] > 0.9).all()
    steps = pd.read_parquet(out / "episodes" / "buy_and_hold" / "w001-s0.steps.parquet")
    assert (steps["fills"] == 0).all() and len(steps) == 24


def test_the_partial_day_is_kept_and_stated(daily, capsys):
    out, summary = daily
    config = json.loads((out / "config.json").read_text())
    assert config["date_windows"] == ["2025-01-10T05:00..2025-01-11T00:00", "2025-01-11T00:00..2025-01-12T00:00",
                                      "2025-01-12T00:00..2025-01-13T00:00"]
    assert any("partial day (19 h)" in note for note in summary["notes"])
    assert summary["leaderboard"] is not None and len(summary["windows"]) == 3
    assert "partial day (19 h)" in (out / "report.html").read_text()


def test_eval_daily_states_the_partial_day_and_flat_days_are_their_own_option(tmp_path: Path, capsys):
    argv = ["eval", "--policy", "hold_cash", "--policy", "buy_and_hold", "--window", "2025-03-01T05:00..2025-03-03",
            "--seeds", "0", "--no-progress"]
    assert cli.main([*argv, "--daily", "--out", str(tmp_path / "d")]) == 0
    printed = capsys.readouterr().out
    assert "segment 2025-03-01T05:00..2025-03-02T00:00 UTC is a partial day (19 h)" in printed
    assert len(pd.read_csv(tmp_path / "d" / DAILY_RETURNS_NAME)) == 2 * 2
    assert cli.main([*argv, "--flat-days", "--out", str(tmp_path / "f")]) == 0
    printed = capsys.readouterr().out
    assert "partial day 2025-03-01T05:00..2025-03-02T00:00 UTC of window" in printed and "left out" in printed
    assert len(json.loads((tmp_path / "f" / "config.json").read_text())["windows"]) == 1
    assert cli.main([*argv, "--daily", "--flat-days", "--out", str(tmp_path / "x")]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_steps_that_cross_midnight_cannot_be_cut_into_days(market, tmp_path: Path):
    plan = ArenaPlan(seeds=(0,), date_windows=("2025-01-10T00:00..2025-01-12T02:00",), daily=True)
    with pytest.raises(ValueError, match="cross midnight"):
        run_arena(market, EnvConfig(bars_per_decision=5), [HoldCash()], tmp_path, plan, progress=False, n_boot=10)
