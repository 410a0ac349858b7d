"""``arena-gym season1`` end to end: offline on bars written to a temporary freqtrade folder
(every machine), and on the real contest data where it is present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym import cli
from arena_gym.campaigns.season1_campaign import COINS, run_season1
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
                     "entry_commission_dollars": 0.00045 * abs(qty) * entry,
                     "exit_commission_dollars": 0.00045 * abs(qty) * exit_,
                     "realized_gross_pnl": qty * (exit_ - entry), "realized_net_pnl": qty * (exit_ - entry) - fees})
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
    recorded = {f"{m} ({e})" for m in ("model-a", "model-b") for e in ("as traded", "on bars")}
    assert set(table.index) == recorded | {"ppo-s0", "ppo-s1", "hold_cash", "buy_and_hold"}
    assert table.loc["hold_cash", "return %"] == 0.0
    assert list(table.columns[:4]) == ["kind", "execution", "return %", "Sharpe (annualized)"]
    assert table.loc["model-a (as traded)", "execution"] == "as traded" and table.loc["ppo-s0", "execution"] == ""
    versus = pd.read_csv(out / "recorded_vs_contest.csv", index_col="model")
    for column in ("contest_net_usd", "as_traded_net_usd", "on_bars_net_usd", "positions", "discrepancies",
                   "leverage_source"):
        assert column in versus.columns, column
    assert list(versus.index) == ["model-a", "model-b"] and versus.loc["model-a", "positions"] == 2
    # the log's prices are the bars' closes and its fees the taker rate: as traded is exact
    assert versus.loc["model-a", "as_traded_net_usd"] == pytest.approx(versus.loc["model-a", "contest_net_usd"])
    # no contest records beside this log: every position plays at the fallback leverage, and says so
    outcomes = pd.read_csv(out / "recorded_outcomes.csv")
    assert (outcomes["leverage_source"] == "no contest record: 10x").all()
    assert (outcomes.loc[outcomes["execution"] == "as traded", "status"] == "closed").all()
    # on bars, model-b's SOL long is liquidated during the bar of its recorded exit (which fills at
    # the next open): a discrepancy, listed with its cause and both PnLs
    disc = pd.read_csv(out / "recorded_discrepancies.csv")
    assert len(disc) == 1 and disc.loc[0, "execution"] == "on bars" and disc.loc[0, "symbol"] == "SOL"
    assert disc.loc[0, "cause"].startswith("liquidation at 10x")
    assert disc.loc[0, "contest_net_usd"] != disc.loc[0, "simulated_net_usd"]
    assert result["difference_causes"]["residual_usd"].abs().max() < 0.01
    assert result["leaderboard"] is not None and len(result["leaderboard"]) == 8
    # the days of the continuous runs: 11 whole days and 2025-10-28 00:00..08:00, compounding to the window
    assert result["facts"]["daily_windows"] == 12
    daily = pd.read_csv(out / "daily" / "daily_returns.csv")
    assert len(daily) == 8 * 12 and sorted(daily["hours"].unique()) == [8.0, 24.0]
    assert result["facts"]["daily_compounding"]["max_abs_difference_pp"] < 1e-9
    assert result["facts"]["daily_compounding"]["contestants"] == 8
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
    for name in ("season1_table.csv", "ppo_seeds.csv", "recorded_vs_contest.csv", "recorded_discrepancies.csv",
                 "recorded_difference_causes.csv", "season1.md", "report.html", "full/report.html",
                 "full/equity_curves.png", "daily/report.html", "daily/daily_returns.csv",
                 "ppo/seed-0/best_model.zip", "ppo/seed-1/best_model.zip"):
        assert (out / name).is_file(), name
    check_season_page(out / "report.html")
    # rerun: everything is reused, the tables are the same
    again = run_season1(data, out, trades=trades, ppo_preset=TINY_PPO, progress=False, n_boot=20,
                        baselines=("hold_cash", "buy_and_hold"), ppo_seeds=(0, 1), log=lambda line: None)
    pd.testing.assert_frame_equal(again["table"], table)


def check_season_page(path: Path) -> None:
    """The page is HTML with rendered tables (units in their headers) and embedded plots."""
    from html.parser import HTMLParser

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.headers, self.images, self._in_th = [], [], [], False

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self._in_th = tag == "th"
            if tag == "img":
                self.images.append(dict(attrs))

        def handle_data(self, data):
            if self._in_th:
                self.headers.append(data)

        def handle_endtag(self, tag):
            self._in_th = False if tag == "th" else self._in_th

    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    assert "pre" not in page.tags[:page.tags.index("table")]           # a rendered table comes first
    assert page.tags.count("table") >= 5
    assert len(page.images) >= 2 and all(i["src"].startswith("data:image/png;base64,") for i in page.images)
    for header in ("return %", "contest net $", "as traded $", "on bars $", "execution"):
        assert header in page.headers, header


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
    assert len(table) == 22 and set(table["execution"].fillna("")) == {"as traded", "on bars", ""}
    assert len(pd.read_csv(tmp_path / "ppo_seeds.csv")) == 5 + 3
    versus = pd.read_csv(tmp_path / "recorded_vs_contest.csv", index_col="model")
    assert (versus["as_traded_error_pct"].abs() < 2.0).all()
    check_season_page(tmp_path / "report.html")


@pytest.mark.shareddata
def test_season1_on_the_real_contest_data_fast_subset(tmp_path: Path):
    data = SHARED / "binance-usdm"
    if not (data.is_dir() and (SHARED / "alpha-arena-s1").is_dir()):
        pytest.skip(f"real data {data} or the contest records are absent")
    result = run_season1(data, tmp_path, ppo_preset=TINY_PPO, progress=False, n_boot=20, models=["grok-4"],
                         baselines=("hold_cash", "buy_and_hold"), ppo_seeds=(0,), log=lambda line: None)
    versus = result["versus_contest"].loc["grok-4"]
    assert versus["positions"] == 20 and versus["discrepancies"] == 0
    assert abs(versus["contest_net_usd"] - (-2262.05)) < 0.01
    assert abs(versus["as_traded_error_pct"]) < 2.0
    # buy_and_hold on the contest window: the equal-weight price return less its fees and funding
    # (within 0.05 pp: fill slippage and the opening fee's room in the margin), never liquidated
    check = result["facts"]["buy_and_hold_check"]
    assert abs(check["difference_pp"]) < 0.05 and result["full"]["metrics"].loc["buy_and_hold", "n_liquidations"] == 0
    assert result["facts"]["daily_compounding"]["max_abs_difference_pp"] < 1e-9


@pytest.mark.slow
def test_the_season_page_renders_in_a_headless_browser(tmp_path: Path):
    """The page, opened in headless Chromium (scripts/screenshot_report.py), draws tables and plots."""
    import shutil
    import subprocess
    import sys

    if not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no headless browser (chromium) on this machine")
    from PIL import Image

    data = write_freqtrade(tmp_path / "binance")
    trades = tiny_log(tmp_path / "trades.csv", data)
    run_season1(data, tmp_path / "season", trades=trades, ppo_preset=TINY_PPO, progress=False, n_boot=20,
                baselines=("hold_cash",), ppo_seeds=(0,), log=lambda line: None)
    png = tmp_path / "page.png"
    script = Path(__file__).resolve().parents[1] / "scripts" / "screenshot_report.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "season" / "report.html"), str(png)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    pixels = np.asarray(Image.open(png).convert("L"))
    # white page with dark text, table rules and coloured plots: far from uniform
    assert pixels.shape[1] == 1280 and pixels.std() > 10 and (pixels < 100).mean() > 0.005


def test_every_contestant_gets_its_own_colour_and_line_style():
    from arena_gym.campaigns.season1_report import contestant_styles

    models = ("claude-sonnet-4-5", "deepseek-chat-v3.1", "gemini-2.5-pro", "gpt-5", "grok-4", "qwen3-max")
    executions = {f"{m} ({e})": e for m in models for e in ("as traded", "on bars")}
    names = [*executions, "ppo", "hold_cash", "buy_and_hold", "random", "ema_momentum", "funding_carry"]
    styles = contestant_styles(names, executions)
    assert len(set(styles.values())) == len(names)
    assert styles["gpt-5 (as traded)"][0] == styles["gpt-5 (on bars)"][0]              # one colour per model
    assert {styles[f"gpt-5 ({e})"][1] for e in ("as traded", "on bars")} == {"-", "--"}
    colours = [styles[n][0] for n in names if not n.endswith("(on bars)")]
    assert len(set(map(str, colours))) == len(colours)                                  # no two models share one
