"""Date-pinned evaluation windows: parsing, daily cuts, coverage errors, and the eval command."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from arena_gym import cli
from arena_gym.env.config import EnvConfig
from arena_gym.campaigns.arena_campaign import ArenaPlan, run_arena
from arena_gym.agents.baselines import HoldCash
from arena_gym.evaluation.windows import (DateWindow, WindowError, daily_windows, left_out_notes, pinned_plan,
                                         window_times)
from arena_gym.market.synthetic import synthetic_market


@pytest.fixture(scope="module")
def market():
    return synthetic_market(seed=1, n_bars=24 * 30)       # 2025-01-01 .. 2025-01-30, hourly


def test_parse_and_daily_cut():
    w = DateWindow.parse("2025-01-05T12:00..2025-01-08")
    assert w.start == pd.Timestamp("2025-01-05T12:00", tz="UTC") and w.end == pd.Timestamp("2025-01-08", tz="UTC")
    assert [d.label for d in daily_windows([w])] == ["2025-01-06T00:00..2025-01-07T00:00",
                                                     "2025-01-07T00:00..2025-01-08T00:00"]
    for bad in ("2025-01-05", "2025-01-05..", "yesterday..today"):
        with pytest.raises(WindowError, match="window"):
            DateWindow.parse(bad)
    with pytest.raises(WindowError, match="after the start"):
        DateWindow.parse("2025-01-08..2025-01-05")


def test_the_partial_days_flat_days_leave_out_are_named():
    assert left_out_notes([DateWindow.parse("2025-01-05T12:00..2025-01-08")]) == [
        "partial day 2025-01-05T12:00..2025-01-06T00:00 UTC of window 2025-01-05T12:00..2025-01-08T00:00 left out "
        "(only whole UTC days are played)"]
    assert len(left_out_notes([DateWindow.parse("2025-01-05T05:00..2025-01-07T03:00")])) == 2
    assert left_out_notes([DateWindow.parse("2025-01-05..2025-01-07")]) == []


def test_eval_says_what_it_does_with_a_partial_day(tmp_path, capsys):
    argv = ["eval", "--policy", "hold_cash", "--window", "2025-03-01T05:00..2025-03-03", "--seeds", "0",
            "--no-progress", "--surrogates", "0"]
    assert cli.main([*argv, "--flat-days", "--out", str(tmp_path / "flat")]) == 0
    assert ("note: --flat-days: partial day 2025-03-01T05:00..2025-03-02T00:00 UTC of window "
            "2025-03-01T05:00..2025-03-03T00:00 left out" in capsys.readouterr().out)
    assert cli.main([*argv, "--daily", "--out", str(tmp_path / "daily")]) == 0
    assert "segment 2025-03-01T05:00..2025-03-02T00:00 UTC is a partial day (19 h), kept" in capsys.readouterr().out


def test_pinned_plan_starts_one_bar_before_the_first_fill(market):
    plan = pinned_plan(market, EnvConfig(bars_per_decision=2), ["2025-01-10..2025-01-12", "2025-01-20..2025-01-22"])
    assert plan.config.episode_length == 24 and plan.config.split is None
    assert [t.isoformat() for t in window_times(market, plan.starts)] == ["2025-01-10T00:00:00+00:00",
                                                                          "2025-01-20T00:00:00+00:00"]


def test_pinned_plan_says_what_the_data_lacks(market):
    with pytest.raises(WindowError, match=r"needs bars from 2024-12-.* covers 2025-01-01 00:00 \.\. 2025-01-31 00:00"):
        pinned_plan(market, EnvConfig(), ["2025-01-01T12:00..2025-01-03"])      # warm-up before the data
    with pytest.raises(WindowError, match="covers"):
        pinned_plan(market, EnvConfig(), ["2025-01-25..2025-02-03"])            # runs past the end
    with pytest.raises(WindowError, match="different lengths"):
        pinned_plan(market, EnvConfig(), ["2025-01-10..2025-01-11", "2025-01-12..2025-01-14"])
    with pytest.raises(WindowError, match="no bar opening"):
        pinned_plan(market, EnvConfig(), ["2025-01-10T00:30..2025-01-11T00:30"])


def test_run_arena_plays_the_pinned_days(market, tmp_path: Path):
    plan = ArenaPlan(seeds=(0,), date_windows=("2025-01-10..2025-01-13",), daily=True)
    summary = run_arena(market, EnvConfig(), [HoldCash()], tmp_path, plan, progress=False, n_boot=10)
    assert summary["splits"] is None and len(summary["windows"]) == 3
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["date_windows"][0] == "2025-01-10T00:00..2025-01-11T00:00" and config["env"]["episode_length"] == 24


def test_eval_command_takes_windows(tmp_path: Path, capsys):
    out = tmp_path / "eval"
    argv = ["eval", "--policy", "hold_cash", "--window", "2025-03-01..2025-03-03", "--daily", "--seeds", "0",
            "--no-progress", "--out", str(out)]
    assert cli.main(argv) == 0
    assert len(json.loads((out / "config.json").read_text())["windows"]) == 2
    assert cli.main(["eval", "--policy", "hold_cash", "--window", "2019-01-01..2019-01-02", "--out",
                     str(tmp_path / "x"), "--no-progress"]) == 2
    assert "covers 2025-01-01" in capsys.readouterr().err
    assert cli.main(["eval", "--policy", "hold_cash", "--window", "2025-03-01", "--out", str(tmp_path / "y")]) == 2
