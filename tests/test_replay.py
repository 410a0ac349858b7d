"""Replaying recorded trades through the exchange core.

Hand-made: a two-coin hourly market with known opens and two funding settlements, and a trade
log whose every number is checked by hand below. Real data (marked ``shareddata``): the 269
recorded trades of the contest on the Binance bars of the same days.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym.cli import replay as replay_cli
from arena_gym.market import MarketData
from arena_gym.replay import (FeeTier, TradeLogError, error_distribution, load_replay_market, load_trade_log,
                              replay_trades)

TAKER, MAKER = 0.00045, 0.00015          # Hyperliquid base tier (the market's contract fees)
T0 = pd.Timestamp("2025-01-01", tz="UTC")


def at(hours: float) -> float:
    """Epoch seconds ``hours`` after T0 (the log's time format)."""
    return (T0 + pd.Timedelta(hours=hours)).timestamp()


def tiny_market() -> MarketData:
    """BTC bar t: open 100+t, high 102+t, low 99+t, close 101+t; ETH bar t: open 50-t, high 51-t,
    low 48-t, close 49-t. Funding: BTC +0.001 at 03:00, ETH -0.002 at 04:00."""
    dates = pd.date_range(T0, periods=10, freq="1h")
    t = np.arange(10.0)
    btc = pd.DataFrame({"date": dates, "open": 100 + t, "high": 102 + t, "low": 99 + t, "close": 101 + t,
                        "volume": 1e6})
    eth = pd.DataFrame({"date": dates, "open": 50 - t, "high": 51 - t, "low": 48 - t, "close": 49 - t, "volume": 1e6})
    funding = {"BTC": pd.Series([0.001], index=[dates[3]]), "ETH": pd.Series([-0.002], index=[dates[4]])}
    return MarketData.from_frames({"BTC": btc, "ETH": eth}, funding, rules="hyperliquid", bar="1h", name="tiny")


def row(model, symbol, qty, t_in, p_in, t_out, p_out, maker_out=False):
    fee_in = abs(qty) * p_in * TAKER
    fee_out = abs(qty) * p_out * (MAKER if maker_out else TAKER)
    gross = qty * (p_out - p_in)
    return {"model_id": model, "symbol": symbol, "quantity": qty, "side": "long" if qty > 0 else "short",
            "entry_time": at(t_in), "exit_time": at(t_out), "entry_price": p_in, "exit_price": p_out,
            "entry_commission_dollars": fee_in, "exit_commission_dollars": fee_out, "entry_crossed": True,
            "exit_crossed": not maker_out, "realized_gross_pnl": gross, "realized_net_pnl": gross - fee_in - fee_out}


def tiny_log() -> pd.DataFrame:
    return pd.DataFrame([
        row("alpha", "BTC", 2.0, 1.5, 100.5, 4 + 1 / 6, 105.0, maker_out=True),       # 0: one position, maker exit
        row("alpha", "ETH", -1.0, 1 + 1 / 6, 49.2, 5 + 1 / 12, 45.0),                 # 1: split short ...
        row("alpha", "ETH", -1.0, 2 + 1 / 3, 48.1, 5 + 1 / 12, 45.0),                 # 2: ... sharing one exit
        row("beta", "BTC", -1.0, 6 + 1 / 6, 106.2, 6 + 2 / 3, 106.0),                 # 3: in and out in one bar
        row("beta", "ETH", 1.0, 2 + 1 / 12, 48.5, 4 + 1 / 3, 47.0),                   # 4: exit at 04:20 ...
        row("beta", "ETH", 2.0, 4 + 2 / 3, 46.8, 7 + 1 / 6, 43.5),                    # 5: ... re-entry at 04:40
        row("gamma", "BTC", 1.0, 1 + 1 / 12, 100.2, 3.5, 104.0),                     # 6: two entries in one bar,
        row("gamma", "BTC", 1.0, 1 + 5 / 6, 100.8, 3.5, 104.0),                      # 7: one shared exit
    ])


def position(result, model, symbol, first_row):
    p = result.positions
    first = p["rows"].str.split("+").str[0] == str(first_row)
    return p[(p["model"] == model) & (p["symbol"] == symbol) & first].iloc[0]


# ---------------------------------------------------------------------- trade log
def test_load_names_missing_columns():
    with pytest.raises(TradeLogError, match=r"lacks columns \['exit_price'\].*it has"):
        load_trade_log(tiny_log().drop(columns=["exit_price"]))


def test_load_rejects_contradicting_side_and_exit_before_entry():
    bad = tiny_log()
    bad.loc[0, "quantity"] = -2.0            # signed quantities (the log has shorts) must agree with side
    with pytest.raises(TradeLogError, match="contradicts side"):
        load_trade_log(bad)
    bad = tiny_log()
    bad.loc[0, "exit_time"] = at(0.5)
    with pytest.raises(TradeLogError, match="exit_time is before entry_time"):
        load_trade_log(bad)


def test_unsigned_quantity_is_signed_by_side_and_split_rows_pair():
    raw = tiny_log()
    raw["quantity"] = raw["quantity"].abs()
    log = load_trade_log(raw)
    np.testing.assert_array_equal(log["quantity"], [2, -1, -1, -1, 1, 2, 1, 1])
    assert log.loc[1, "position"] == log.loc[2, "position"]          # overlapping rows: one position
    assert log.loc[4, "position"] != log.loc[5, "position"]          # consecutive, not overlapping
    assert log.loc[6, "position"] == log.loc[7, "position"]
    assert log["position"].nunique() == 6
    assert log.loc[0, "exit_maker"] and not log.loc[0, "entry_maker"]


def test_overlapping_long_and_short_rows_are_refused():
    raw = pd.DataFrame([row("a", "BTC", 1.0, 1, 100, 5, 101), row("a", "BTC", -1.0, 2, 100, 3, 101)])
    with pytest.raises(TradeLogError, match="overlaps an open position on the other side"):
        load_trade_log(raw)


# ---------------------------------------------------------------------- fills mode
def test_fills_mode_reproduces_hand_computed_pnl_fees_and_funding():
    r = replay_trades(tiny_log(), tiny_market(), "fills")
    assert r.flags == {k: 0 for k in r.flags}
    assert len(r.skipped) == 0

    btc = position(r, "alpha", "BTC", 0)
    assert btc["sim_gross"] == pytest.approx(2 * (105.0 - 100.5))
    assert btc["sim_fees"] == pytest.approx(2 * 100.5 * TAKER + 2 * 105.0 * MAKER)
    # held over the 03:00 settlement (open 103); entry at 01:30 after the 01:00 open, exit at 04:10
    assert btc["sim_funding"] == pytest.approx(2 * 103 * 0.001)

    eth = position(r, "alpha", "ETH", 1)
    assert eth["rows"] == "1+2" and eth["n_rows"] == 2
    assert eth["sim_gross"] == pytest.approx((49.2 - 45.0) + (48.1 - 45.0))
    assert eth["sim_fees"] == pytest.approx((49.2 + 48.1 + 2 * 45.0) * TAKER)
    assert eth["sim_funding"] == pytest.approx(-2 * 46 * -0.002)     # the short pays a negative rate
    assert eth["rec_net"] == pytest.approx(eth["sim_net"])

    quick = position(r, "beta", "BTC", 3)                               # in and out within the 06:00 bar
    assert quick["deferred_fills"] == 1
    assert quick["sim_exit_bar"] == T0 + pd.Timedelta(hours=7)
    assert quick["sim_net"] == pytest.approx(0.2 - (106.2 + 106.0) * TAKER)

    # exit at 04:20 and re-entry at 04:40, inside the bar of the 04:00 ETH settlement: the position
    # that was open at 04:00 receives it (a long, negative rate), the new one does not
    first = position(r, "beta", "ETH", 4)
    assert first["sim_funding"] == pytest.approx(1 * 46 * -0.002)
    second = position(r, "beta", "ETH", 5)
    assert second["deferred_fills"] == 0
    assert second["sim_entry_bar"] == T0 + pd.Timedelta(hours=4)
    assert second["sim_funding"] == 0.0
    assert r.deferred == 1

    merged = position(r, "gamma", "BTC", 6)                              # two entries of one bar: one fill
    assert merged["rows"] == "6+7" and merged["deferred_fills"] == 0
    assert merged["sim_entry_price"] == pytest.approx(100.5)
    assert merged["sim_gross"] == pytest.approx(2 * 104.0 - 100.2 - 100.8)
    assert merged["sim_funding"] == pytest.approx(2 * 103 * 0.001)

    models = r.models.set_index("model")
    assert models.loc["alpha", "net_err_pct"] == pytest.approx(0.0, abs=1e-9)
    assert models.loc["beta", "fees_err_pct"] == pytest.approx(0.0, abs=1e-9)
    assert models.loc["alpha", "sim_funding"] == pytest.approx(0.206 + 0.184)


def test_fee_tiers_and_recorded_fees():
    log = tiny_log()
    tier = FeeTier.parse("2025-01-01T03:00Z,0.0004,0.0001")
    r = replay_trades(log, tiny_market(), "fills", fee_tiers=[tier])
    btc = position(r, "alpha", "BTC", 0)
    assert btc["sim_fees"] == pytest.approx(2 * 100.5 * TAKER + 2 * 105.0 * 0.0001)   # exit after the tier starts
    assert r.legs["fee_mismatch"].sum() == 10  # the 10 legs from 03:00 on were recorded at the base tier
    recorded = replay_trades(log, tiny_market(), "fills", fees="recorded", fee_tiers=[tier])
    assert recorded.models["fees_err_pct"].abs().max() == pytest.approx(0.0, abs=1e-9)


def test_checkpoints_compare_closed_positions_and_account_value():
    cps = pd.DataFrame({"model": ["alpha", "alpha"], "time": [T0 + pd.Timedelta(hours=4, minutes=30),
                                                              T0 + pd.Timedelta(hours=9)],
                        "net_pnl": [8.0, np.nan], "account_value": [np.nan, 10_020.0]})
    r = replay_trades(tiny_log(), tiny_market(), "fills", checkpoints=cps)
    first, last = r.checkpoints.iloc[0], r.checkpoints.iloc[1]
    btc_net = 9.0 - 2 * 100.5 * TAKER - 2 * 105.0 * MAKER                 # only the BTC position closed by 04:30
    assert first["sim_net_pnl"] == pytest.approx(btc_net)
    eth_net = 7.3 - (49.2 + 48.1 + 90.0) * TAKER
    assert last["sim_account_value"] == pytest.approx(10_000 + btc_net + eth_net - 0.206 - 0.184)
    assert last["err_account_value"] == pytest.approx(last["sim_account_value"] - 10_020.0)


# ---------------------------------------------------------------------- bars mode
def test_bars_mode_fills_at_the_next_open_with_taker_fees():
    r = replay_trades(tiny_log(), tiny_market(), "bars", slippage="none")
    btc = position(r, "alpha", "BTC", 0)
    assert (btc["sim_entry_price"], btc["sim_exit_price"]) == (102.0, 105.0)   # opens of 02:00 and 05:00
    assert btc["sim_fees"] == pytest.approx(2 * (102 + 105) * TAKER)
    assert btc["sim_funding"] == pytest.approx(2 * 103 * 0.001)
    assert btc["err_entry_bp"] == pytest.approx(1e4 * (102 / 100.5 - 1))
    assert btc["err_net"] == pytest.approx(btc["sim_net"] - btc["rec_net"])
    early = replay_trades(tiny_log(), tiny_market(), "bars", slippage="none", timing="bar_open")
    btc = position(early, "alpha", "BTC", 0)
    assert (btc["sim_entry_price"], btc["sim_exit_price"]) == (101.0, 104.0)   # opens of 01:00 and 04:00
    dist = error_distribution(r)
    assert set(dist["quantity"]) >= {"net PnL error ($)", "fee error ($)", "funding charged ($, not recorded)"}


def test_trades_outside_the_market_are_skipped_with_a_reason():
    log = tiny_log()
    log.loc[3, "symbol"] = "SOL"
    r = replay_trades(log, tiny_market(), "fills")
    assert list(r.skipped["row"]) == [3] and r.skipped["reason"].iloc[0] == "coin not in the market"
    assert r.models.set_index("model").loc["beta", "rows_skipped"] == 1
    edges = replay_trades(tiny_log(), tiny_market().slice(2, 8), "fills")    # bars 02:00 .. 07:00
    assert sorted(edges.skipped["row"]) == [0, 1, 2, 4, 5, 6, 7]             # a fill in the first or last bar
    assert set(edges.skipped["reason"]) == {"in the market's first bar or before it",
                                            "in the market's last bar or after it"}
    assert list(edges.positions["rows"]) == ["3"]                             # its exit deferred into the last bar


# ---------------------------------------------------------------------- files and command line
def test_cli_writes_tables_summary_and_plots(tmp_path: Path):
    tiny_log().to_csv(tmp_path / "trades.csv", index=False)
    m = tiny_market()
    frames = [m.frame(s).reset_index().assign(coin=s) for s in m.symbols]
    market_dir = tmp_path / "market"
    market_dir.mkdir()
    pd.concat(frames)[["coin", "date", "open", "high", "low", "close", "volume"]].to_parquet(
        market_dir / "candles_1h.parquet")
    funding = pd.concat(f.loc[f["funding_rate"] != 0, ["coin", "date", "funding_rate"]] for f in frames)
    funding.to_parquet(market_dir / "funding_8h.parquet")
    loaded = load_replay_market(market_dir, ["BTC", "ETH"], timeframe="1h")
    np.testing.assert_array_equal(loaded.market.funding_rate, m.funding_rate)

    import argparse
    parser = argparse.ArgumentParser()
    replay_cli.register(parser.add_subparsers())
    out = tmp_path / "out"
    args = parser.parse_args(["replay", "--trades", str(tmp_path / "trades.csv"), "--market", str(market_dir),
                              "--timeframe", "1h", "--out", str(out)])
    assert args.func(args) == 0
    for mode in ("fills", "bars"):
        for name in ("positions.csv", "models.csv", "summary.txt", "summary.html", "pnl.png", "scatter.png"):
            assert (out / f"{mode}_{name}").stat().st_size > 0
    models = pd.read_csv(out / "fills_models.csv")
    assert models["net_err_pct"].abs().max() < 1e-9


def test_report_without_matplotlib_still_writes_tables(tmp_path: Path, monkeypatch):
    from arena_gym.replay import replay_report as report

    real = report.importlib.util.find_spec
    monkeypatch.setattr(report.importlib.util, "find_spec", lambda name: None if name == "matplotlib" else real(name))
    paths = report.write_report(replay_trades(tiny_log(), tiny_market(), "fills"), tmp_path)
    assert "pnl_plot" not in paths and not (tmp_path / "fills_pnl.png").exists()
    assert report.PLOTS_SKIPPED in paths["summary"].read_text()
    assert len(pd.read_csv(paths["positions"])) == 6


def test_folder_market_needs_a_timeframe(tmp_path: Path):
    with pytest.raises(ValueError, match="--timeframe"):
        load_replay_market(tmp_path, ["BTC"])


# ---------------------------------------------------------------------- the real contest
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CONTEST_TRADES = SHARED / "alpha-arena-s1" / "trades_api_union_2025-10-17_to_10-28.csv"
SEASON = SHARED / "binance-usdm-season1"
#: Every account's commissions drop to Hyperliquid's next volume tier on this day.
CONTEST_TIER = FeeTier.parse("2025-10-22T00:00Z,0.0004,0.00012")


@pytest.fixture(scope="module")
def contest():
    if not CONTEST_TRADES.exists() or not SEASON.is_dir():
        pytest.skip(f"real contest data {CONTEST_TRADES.parent} or {SEASON} is absent (it sits beside the project "
                    "only on data-equipped machines)")
    log = load_trade_log(CONTEST_TRADES)
    coins = sorted(log["symbol"].unique())
    markets = {tf: load_replay_market(SEASON, coins, timeframe=tf, since="2025-10-16", until="2025-10-30")
               for tf in ("15m", "1h")}
    return log, markets


@pytest.mark.shareddata
def test_contest_fills_mode_matches_recorded_pnl_and_fees(contest):
    log, markets = contest
    assert len(log) == 269 and log["position"].nunique() == 263
    r = replay_trades(log, markets["1h"].market, "fills", fee_tiers=[CONTEST_TIER])
    assert r.flags == {k: 0 for k in r.flags} and len(r.skipped) == 0
    m = r.models.set_index("model")
    assert len(m) == 6
    np.testing.assert_allclose(m["sim_gross"], m["rec_gross"], rtol=1e-9)      # prices and sizes exact
    assert (m["net_err_pct"].abs() < 2.0).all(), m["net_err_pct"]
    # fees: the flag's rate reproduces every fill except the few whose commission shows a mix of
    # maker and taker partial fills; with those at their recorded fee every model is within 1%
    mismatch = r.legs[r.legs["fee_mismatch"]]
    assert len(mismatch) <= 5
    explained = mismatch.groupby("model").apply(lambda x: (x["schedule_fee"] - x["rec_fee"]).sum())
    corrected = m["sim_fees"] - explained.reindex(m.index).fillna(0.0)
    assert ((corrected / m["rec_fees"] - 1).abs() < 0.01).all()
    assert (m.loc[m["fee_mismatch_fills"] == 0, "fees_err_pct"].abs() < 1.0).all()


@pytest.mark.shareddata
@pytest.mark.parametrize("timeframe", ["15m", "1h"])
def test_contest_bars_mode_error_distribution(contest, timeframe):
    log, markets = contest
    loaded = markets[timeframe]
    r = replay_trades(log, loaded.market, "bars")
    assert r.flags == {k: 0 for k in r.flags}
    if timeframe == "15m":                       # BNB has no 15m bars; SOL comes from 5m bars
        assert loaded.missing == ["BNB"] and loaded.resampled == {"SOL": "5m"}
        assert set(r.skipped["symbol"]) == {"BNB"} and len(r.skipped) == (log["symbol"] == "BNB").sum()
    dist = error_distribution(r).set_index("quantity")
    net_bp = dist.loc["net PnL error (bp of entry notional)"]
    assert 2.0 < net_bp["median"] < 100.0 and net_bp["p90"] >= net_bp["median"]
    assert np.isfinite(r.positions["sim_funding"]).all()
    # all simulated fills are taker at the base tier: fees can only exceed the recorded ones
    assert r.positions["sim_fees"].sum() > r.positions["rec_fees"].sum()


@pytest.mark.shareddata
def test_contest_replay_on_the_cached_market_matches_the_season_files(contest, tmp_path: Path):
    """``--market binance-1h`` reads the local cache; filled from another copy of the Binance
    bars, it must give the same replay as the season files."""
    from arena_gym.data import import_freqtrade

    log, markets = contest
    folder = SHARED / "binance-usdm"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent")
    import_freqtrade(folder, "binanceusdm", coins=",".join(sorted(log["symbol"].unique())), timeframes="1h",
                     cache_dir=tmp_path)
    cached = load_replay_market("binance-1h", sorted(log["symbol"].unique()), since="2025-10-16",
                                until="2025-10-30", cache_dir=tmp_path)
    a = replay_trades(log, cached.market, "bars").models.set_index("model")
    b = replay_trades(log, markets["1h"].market, "bars").models.set_index("model")
    np.testing.assert_allclose(a[["sim_net", "sim_fees", "sim_funding"]], b[["sim_net", "sim_fees", "sim_funding"]],
                               rtol=1e-9)
