"""Replay the Alpha Arena Season 1 trade log through the simulator, in both modes, and print the tables.

Usage (from the repository root, in the project's environment, with the real data folder
beside the project at ``../shared/data``)::

    python scripts/replay_contest.py                  # print the tables
    python scripts/replay_contest.py --out replay/    # also write CSV, summaries and plots

What it runs:

* ``fills`` mode on the Binance 1h market: recorded prices, fees by the recorded maker/taker
  flag at Hyperliquid's rates. The log's commissions show all six accounts moving from
  Hyperliquid's base tier (0.045 % taker / 0.015 % maker) to the next volume tier (0.040 % /
  0.012 %) at 2025-10-22 00:00 UTC; that tier change is passed as a fee tier.
* ``bars`` mode on the Binance 15m and 1h markets, each with ``next_open`` (no look-ahead) and
  ``bar_open`` timing: the simulator's own fills (bar open plus the default slippage, taker fee
  at Hyperliquid's base tier, the simulator's default), i.e. Hyperliquid contract specs and fees
  on Binance prices and funding. At 15m the Binance files have BTC, ETH, DOGE and XRP; SOL is
  resampled from 5m bars and BNB (1h and 4h only) is left out.

Reported checkpoints: the contest's own statistics (cumulative realized net PnL and fees at
2025-10-26 04:18 and 2025-10-28 06:50) and the account values the contest showed the models in
its prompts (2025-10-28 06:14 onwards).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from arena_gym.replay import (FeeTier, error_distribution, load_replay_market, load_trade_log, replay_trades,
                              write_report)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CONTEST = DATA / "alpha-arena-s1"
SEASON = DATA / "binance-usdm-season1"
TRADES = CONTEST / "trades_api_union_2025-10-17_to_10-28.csv"
#: Hyperliquid's first volume tier, which every account's commissions show from this time on.
CONTEST_FEE_TIERS = (FeeTier.parse("2025-10-22T00:00Z,0.0004,0.00012"),)


def contest_checkpoints() -> pd.DataFrame:
    """Reported realized net PnL and fees (contest statistics) and account values (prompts)."""
    stats = pd.read_csv(CONTEST / "analytics_flat_2025-10-26_10-28.csv")
    stats = pd.DataFrame({"model": stats["model_id"], "time": pd.to_datetime(stats["updated_at_utc"], utc=True),
                          "net_pnl": stats["fee_pnl_moves.overall_pnl_with_fees"],
                          "fees": stats["fee_pnl_moves.total_fees_paid"]}).drop_duplicates(["model", "net_pnl", "fees"])
    seen = pd.read_csv(CONTEST / "prompt_account_observations.csv")
    seen = pd.DataFrame({"model": seen["model_id"], "time": pd.to_datetime(seen["ts_utc"], utc=True),
                         "account_value": seen["account_value"]})
    seen = seen.sort_values("time").groupby("model", as_index=False).first()
    return pd.concat([stats, seen], ignore_index=True).sort_values(["model", "time"], ignore_index=True)


def market(timeframe: str, coins: list[str]):
    """The Binance season market at ``timeframe`` for ``coins``, and notes on what it lacks."""
    loaded = load_replay_market(SEASON, coins, timeframe=timeframe, since="2025-10-16", until="2025-10-30")
    notes = [f"{c} resampled from {s}" for c, s in loaded.resampled.items()]
    notes += [f"{c} absent" for c in loaded.missing]
    return loaded.market, notes


def venue_gap(log: pd.DataFrame) -> pd.DataFrame:
    """Recorded fill prices against Binance prices at the same instant (5m bars, open-to-close
    interpolated at the fill time): the floor under any bars-mode price error (venue basis,
    spread, interpolation). Coins with 5m bars only; + = the recorded fill was worse."""
    bars = pd.read_parquet(SEASON / "binance_usdm_5m_2025-10-01_to_2025-11-15.parquet")
    legs = pd.concat([
        pd.DataFrame({"symbol": log["symbol"], "time": log["entry_time"], "price": log["entry_price"],
                      "way": np.sign(log["quantity"])}),
        pd.DataFrame({"symbol": log["symbol"], "time": log["exit_time"], "price": log["exit_price"],
                      "way": -np.sign(log["quantity"])})])
    rows = []
    for coin, part in bars.groupby("coin"):
        part = part.sort_values("date")
        grid = pd.to_datetime(part["date"], utc=True).dt.as_unit("ns").astype("int64").to_numpy()
        mine = legs[legs["symbol"] == coin]
        t = mine["time"].dt.as_unit("ns").astype("int64").to_numpy()
        i = np.searchsorted(grid, t, side="right") - 1
        frac = (t - grid[i]) / 300e9
        at_fill = part["open"].to_numpy()[i] + (part["close"].to_numpy()[i] - part["open"].to_numpy()[i]) * frac
        gap = 1e4 * mine["way"].to_numpy() * (mine["price"].to_numpy() / at_fill - 1)
        rows.append({"coin": coin, "fills": len(gap), "median_abs_bp": np.median(np.abs(gap)), "mean_bp": gap.mean()})
    return pd.DataFrame(rows)


def show(title: str, frame: pd.DataFrame) -> None:
    print(f"\n{title}\n")
    with pd.option_context("display.width", 220, "display.max_columns", 30, "display.float_format", "{:,.2f}".format):
        print(frame.to_string(index=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="also write the reports of every run into this folder")
    args = parser.parse_args()
    if not TRADES.exists():
        raise SystemExit(f"the contest data is not at {CONTEST}")
    log = load_trade_log(TRADES)
    coins = sorted(log["symbol"].unique())
    checkpoints = contest_checkpoints()
    print(f"{len(log)} recorded trades, {log['position'].nunique()} positions "
          f"({(log.groupby('position').size() > 1).sum()} split over several rows)")

    m1h, _ = market("1h", coins)
    fills = replay_trades(log, m1h, "fills", fee_tiers=CONTEST_FEE_TIERS, checkpoints=checkpoints)
    cols = ["model", "positions", "rec_net", "sim_net", "net_err_pct", "rec_fees", "sim_fees", "fees_err_pct",
            "fee_mismatch_fills", "rec_gross", "sim_gross", "gross_err_pct", "sim_funding", "deferred_fills"]
    show("fills mode, 1h bars (recorded prices; fees by the recorded maker/taker flag, Hyperliquid tiers)",
         fills.models[cols])
    recorded = replay_trades(log, m1h, "fills", fees="recorded")
    show("fills mode with the recorded fee of every fill", recorded.models[cols[:8]])
    base = replay_trades(log, m1h, "fills")
    show("fills mode at Hyperliquid's base tier only (no tier change)", base.models[cols[:8]])
    mism = fills.legs[fills.legs["fee_mismatch"]]
    show("fills whose recorded fee disagrees with their maker/taker flag (rate = recorded fee / notional)",
         mism.assign(rate=mism["rec_fee"] / mism["notional"])[
             ["row", "model", "symbol", "leg", "time", "maker", "notional", "rec_fee", "schedule_fee", "rate"]])
    show("reported checkpoints against the fills-mode replay", fills.checkpoints)
    print("\n".join(f"- {n}" for n in fills.notes))

    show("recorded fill prices against Binance at the fill time (5m bars interpolated)", venue_gap(log))

    rows = []
    m15, _ = market("15m", coins)
    runs = [("15m", coins), ("1h", coins), ("1h", list(m15.symbols))]
    for tf, run_coins in runs:
        mk, notes = market(tf, run_coins)
        for timing in ("next_open", "bar_open"):
            for tiers in ((), CONTEST_FEE_TIERS):
                bars = replay_trades(log, mk, "bars", timing=timing, fee_tiers=tiers, checkpoints=checkpoints)
                p = bars.positions
                rows.append({
                    "bars": tf, "timing": timing, "fees": "HL tiers" if tiers else "HL base", "positions": len(p),
                    "net_med_$": p["err_net"].abs().median(), "net_p90_$": p["err_net"].abs().quantile(0.9),
                    "net_med_bp": p["err_net_bp"].abs().median(), "net_p90_bp": p["err_net_bp"].abs().quantile(0.9),
                    "net_bias_bp": p["err_net_bp"].mean(),
                    "entry_med_bp": p["err_entry_bp"].abs().median(), "exit_med_bp": p["err_exit_bp"].abs().median(),
                    "fee_med_$": p["err_fees"].abs().median(), "fee_p90_$": p["err_fees"].abs().quantile(0.9),
                    "fees_err_%": 100 * (p["sim_fees"].sum() / p["rec_fees"].sum() - 1),
                    "funding_med_$": p["sim_funding"].abs().median(),
                    "funding_p90_$": p["sim_funding"].abs().quantile(0.9),
                    "deferred": bars.deferred,
                })
                rows[-1]["market"] = "; ".join(notes) or ", ".join(mk.symbols)
                if not tiers and timing == "next_open" and run_coins is coins:
                    show(f"bars mode, {tf} bars, next_open, Hyperliquid base-tier taker fees", bars.models[cols])
                    show(f"bars mode, {tf}: distribution of absolute per-position errors", error_distribution(bars))
                    if args.out:
                        write_report(bars, args.out, prefix=f"bars_{tf}")
    show("bars mode: absolute per-position errors (median, 90th percentile; bp of entry notional)", pd.DataFrame(rows))
    if args.out:
        write_report(fills, args.out, prefix="fills_1h")
        print(f"\nreports written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
