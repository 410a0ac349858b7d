"""``arena-gym season1`` end to end: offline on bars written to a temporary freqtrade folder
(every machine), and on the real contest data where it is present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym import cli
from arena_gym.evaluation.season1 import COINS, run_season1
from arena_gym.market.synthetic import synthetic_market

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: A PPO preset small enough for the default suite (the season's own is policies/ppo-season1.toml).
TINY_PPO = {"ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16]},
            "train": {"total_timesteps": 256, "num_envs": 2, "seed": 0, "torch_threads": 1, "eval_every": 256,
                      "eval_windows": 2, "checkpoint_every": 256},
            "env": {"bars_per_decision": 1, "episode_length": 48, "leverage_cap": 1.0, "action_mode": "target",
                    "observation_mode": "numeric"}}


def write_freqtrade(folder: Path) -> Path:
    """The synthetic market (2025) as freqtrade files named like Binance USD-M's."""
    folder.mkdir(parents=True, exist_ok=True)
    m = synthetic_market(seed=0, n_bars=8760)
    dates = pd.to_datetime(m.timestamps).tz_localize("UTC")
    for a, coin in enumerate(m.symbols):
        pd.DataFrame({"date": dates, "open": m.open[:, a], "high": m.high[:, a], "low": m.low[:, a],
                      "close": m.close[:, a], "volume": m.volume[:, a]}).to_feather(
            folder / f"{coin}_USDT_USDT-1h-futures.feather")
        every8 = np.arange(0, m.n_bars, 8)
        pd.DataFrame({"date": dates[every8], "open": 8 * m.funding_rate[every8, a], "high": 0.0, "low": 0.0,
                      "close": 0.0, "volume": 0.0}).to_feather(folder / f"{coin}_USDT_USDT-8h-funding_rate.feather")
    return folder


def tiny_log(path: Path, market_folder: Path) -> Path:
    from arena_gym.market import MarketData

    m = MarketData.from_freqtrade(market_folder, list(COINS), "1h", quote="USDT")
    ts = pd.DatetimeIndex(m.timestamps, tz="UTC")
    def price(coin, when):
        return float(m.close[ts.searchsorted(pd.Timestamp(when)), list(m.symbols).index(coin)])
    rows = []
    for model, coin, qty, t_in, t_out in (("model-a", "BTC", 0.02, "2025-10-18T03:10Z", "2025-10-20T11:40Z"),
                                          ("model-a", "ETH", -0.5, "2025-10-21T07:00Z", "2025-10-21T19:30Z"),
                                          ("model-b", "SOL", 10.0, "2025-10-19T00:20Z", "2025-10-25T02:00Z")):
        entry, exit_ = price(coin, t_in), price(coin, t_out)
        fees = 0.00045 * abs(qty) * (entry + exit_)
        rows.append({"model_id": model, "symbol": coin, "quantity": qty, "entry_time": t_in, "exit_time": t_out,
                     "entry_price": entry, "exit_price": exit_, "leverage": 1,
                     "realized_net_pnl": qty * (exit_ - entry) - fees})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_season1_runs_offline_and_resumes(tmp_path: Path, capsys):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = write_freqtrade(tmp_path / "binance")
    trades = tiny_log(tmp_path / "trades.csv", data)
    out = tmp_path / "season"
    result = run_season1(data, out, trades=trades, ppo_preset=TINY_PPO, progress=False, n_boot=20,
                         baselines=("hold_cash", "buy_and_hold"), ppo_seeds=(0, 1), log=lambda line: None)
    table = result["table"]
    assert set(table.index) == {"model-a", "model-b", "ppo-s0", "ppo-s1", "hold_cash", "buy_and_hold"}
    assert table.loc["hold_cash", "return %"] == 0.0
    assert list(table.columns[:3]) == ["kind", "return %", "Sharpe (annualized)"]
    versus = result["versus_contest"]
    # model-a's two positions close at their recorded exits; model-b's SOL long at 10x is
    # liquidated by the synthetic market's drop before its recorded exit, and reported as such
    assert list(versus.index) == ["model-a"] and versus.loc["model-a", "positions_compared"] == 2
    assert versus["within_bars_budget"].all()
    assert result["outcomes"].loc["model-b", "closed_by_exchange"] == 1
    assert result["leaderboard"] is not None and len(result["leaderboard"]) == 6
    # the days of the continuous runs: 11 whole days and 2025-10-28 00:00..08:00, compounding to the window
    assert result["facts"]["daily_windows"] == 12
    daily = pd.read_csv(out / "daily" / "daily_returns.csv")
    assert len(daily) == 6 * 12 and sorted(daily["hours"].unique()) == [8.0, 24.0]
    assert result["facts"]["daily_compounding"]["max_abs_difference_pp"] < 1e-9
    assert result["facts"]["daily_compounding"]["contestants"] == 6
    # exposure columns: hold_cash has none; buy_and_hold holds the index at about 1x
    assert table.loc["hold_cash", "peak exposure x equity"] == 0.0
    assert table.loc["buy_and_hold", "beta to EW index"] == pytest.approx(1.0, abs=0.1)
    assert table.loc["buy_and_hold", "avg exposure x equity"] == pytest.approx(1.0, abs=0.1)
    check = result["facts"]["buy_and_hold_check"]
    assert abs(check["difference_pp"]) < 0.05
    seeds = result["ppo_seeds"]
    assert list(seeds.index) == ["ppo-s0", "ppo-s1", "mean of seeds", "95 % t-interval low", "95 % t-interval high"]
    assert seeds.loc["mean of seeds", "return %"] == pytest.approx(table.loc[["ppo-s0", "ppo-s1"], "return %"].mean())
    assert seeds.loc["95 % t-interval low", "return %"] <= seeds.loc["mean of seeds", "return %"]
    for name in ("season1_table.csv", "ppo_seeds.csv", "recorded_vs_contest.csv", "season1.md", "report.html",
                 "full/report.html", "full/equity_curves.png", "daily/report.html", "daily/daily_returns.csv",
                 "ppo/seed-0/best_model.zip", "ppo/seed-1/best_model.zip"):
        assert (out / name).is_file(), name
    # rerun: everything is reused, the tables are the same
    again = run_season1(data, out, trades=trades, ppo_preset=TINY_PPO, progress=False, n_boot=20,
                        baselines=("hold_cash", "buy_and_hold"), ppo_seeds=(0, 1), log=lambda line: None)
    pd.testing.assert_frame_equal(again["table"], table)


def test_season1_says_which_files_it_needs(tmp_path: Path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["season1", "--data", str(tmp_path / "empty"), "--trades", str(tmp_path / "t.csv"),
                     "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "t.csv").write_text("model_id\n")
    assert cli.main(["season1", "--data", str(tmp_path / "empty"), "--trades", str(tmp_path / "t.csv"),
                     "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "BTC_USDT_USDT-1h-futures.feather" in err and "arena-gym download --exchange binanceusdm" in err
    assert cli.main(["season1", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "pass --trades PATH" in capsys.readouterr().err


@pytest.mark.shareddata
@pytest.mark.slow
def test_season1_on_the_real_contest_data(tmp_path: Path):
    data = SHARED / "binance-usdm"
    if not (data.is_dir() and (SHARED / "alpha-arena-s1").is_dir()):
        pytest.skip(f"real data {data} or the contest records are absent")
    assert cli.main(["season1", "--data", str(data), "--out", str(tmp_path), "--no-progress"]) == 0
    table = pd.read_csv(tmp_path / "season1_table.csv", index_col=0)
    assert len(table) == 16 and len(pd.read_csv(tmp_path / "ppo_seeds.csv")) == 5 + 3 and (pd.read_csv(tmp_path / "recorded_vs_contest.csv")["within_bars_budget"]).all()


@pytest.mark.shareddata
def test_season1_on_the_real_contest_data_fast_subset(tmp_path: Path):
    data = SHARED / "binance-usdm"
    if not (data.is_dir() and (SHARED / "alpha-arena-s1").is_dir()):
        pytest.skip(f"real data {data} or the contest records are absent")
    result = run_season1(data, tmp_path, ppo_preset=TINY_PPO, progress=False, n_boot=20, models=["grok-4"],
                         baselines=("hold_cash", "buy_and_hold"), ppo_seeds=(0,), log=lambda line: None)
    versus = result["versus_contest"].loc["grok-4"]
    assert versus["positions_compared"] == 20 and versus["within_bars_budget"]
    assert abs(versus["contest_net_pnl"] - (-2262.05)) < 0.01
    # buy_and_hold on the contest window: the equal-weight price return less its fees and funding
    # (within 0.05 pp: fill slippage and the opening fee's room in the margin), never liquidated
    check = result["facts"]["buy_and_hold_check"]
    assert abs(check["difference_pp"]) < 0.05 and result["full"]["metrics"].loc["buy_and_hold", "n_liquidations"] == 0
    assert result["facts"]["daily_compounding"]["max_abs_difference_pp"] < 1e-9
