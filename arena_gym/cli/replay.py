"""``arena-gym replay``: push a recorded trade log through the exchange core and compare.

Examples::

    arena-gym replay --trades my_trades.csv --market binance-1h --out replay/
    arena-gym replay --trades trades.csv --market data/binance-usdm-season1 --timeframe 15m \\
        --mode bars --out replay-15m/
    arena-gym replay --trades trades.csv --market candles_1h.parquet --mode fills \\
        --fee-tier 2025-10-22T00:00Z,0.0004,0.00012 --checkpoints reported.csv --out replay/
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "replay",
        help="replay a recorded trade log through the simulator and compare PnL, fees and funding",
        description="Replay closed trades (CSV/Parquet/Feather with model_id, symbol, quantity, entry_time, "
                    "exit_time, entry_price, exit_price and optionally fees, maker/taker flags and recorded PnL) "
                    "through the exchange core. 'fills' mode fills at the recorded prices with fees by the recorded "
                    "maker/taker flag; 'bars' mode fills at the recorded times but at the simulator's own prices (bar "
                    "open plus slippage, taker fee). Writes per-position and per-model CSV tables, a text and HTML "
                    "summary and plots into --out.",
    )
    p.add_argument("--trades", required=True, metavar="PATH", help="trade log file (.csv, .parquet or .feather)")
    p.add_argument("--market", required=True, metavar="SPEC",
                   help="EXCHANGE-TIMEFRAME from the local cache (e.g. binance-15m, binance-1h, hyperliquid-1h), or "
                        "a long-format parquet/feather/csv file, or a folder of such files (then give --timeframe)")
    p.add_argument("--timeframe", help="bar length to use from a file or folder, e.g. 15m or 1h")
    p.add_argument("--mode", choices=("fills", "bars", "both"), default="both", help="replay mode (default both)")
    p.add_argument("--timing", choices=("next_open", "bar_open"), default="next_open",
                   help="bars mode: fill at the open after the recorded time (default, no look-ahead) or at the "
                        "open of the bar that contains it")
    p.add_argument("--fees", choices=("schedule", "recorded"), default="schedule",
                   help="fills mode: rate by the recorded maker/taker flag (default) or the recorded fee itself")
    p.add_argument("--fee-tier", action="append", default=[], metavar="START,TAKER,MAKER",
                   help="fee rates from START (UTC) on, e.g. 2025-10-22T00:00Z,0.0004,0.00012 (repeatable), added to "
                        "the fee_schedule of --rules (--rules alpha-arena-s1 has the contest's); before the first "
                        "tier the contract fees of --rules apply")
    p.add_argument("--rules", default="hyperliquid", help="exchange preset for contract specs, fees and engine rules "
                                                          "(default hyperliquid)")
    p.add_argument("--slippage", default="default", help="bars mode: slippage preset (none, default, conservative)")
    p.add_argument("--capital", type=float, default=10_000.0, help="starting account value (default 10000)")
    p.add_argument("--checkpoints", metavar="PATH",
                   help="CSV of reported values: model (or model_id), time and any of account_value, net_pnl, fees")
    p.add_argument("--cache-dir", help="market cache folder for EXCHANGE-TIMEFRAME markets")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the tables, summaries and plots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from arena_gym.replay import FeeTier, load_replay_market, load_trade_log, replay_trades, summary_text, write_report

    log = load_trade_log(args.trades)
    coins = sorted(log["symbol"].unique())
    since = log["entry_time"].min().floor("D") - pd.Timedelta(days=1)
    until = log["exit_time"].max().floor("D") + pd.Timedelta(days=2)
    loaded = load_replay_market(args.market, coins, timeframe=args.timeframe, since=since, until=until,
                                rules=args.rules, cache_dir=args.cache_dir)
    if loaded.missing:
        print(f"note: the market has no bars for {', '.join(loaded.missing)}: their trades are not replayed")
    for coin, source in loaded.resampled.items():
        print(f"note: {coin} bars resampled from {source} bars")
    checkpoints = None
    if args.checkpoints:
        checkpoints = pd.read_csv(args.checkpoints).rename(columns={"model_id": "model"})
    tiers = [FeeTier.parse(t) for t in args.fee_tier]
    modes = ("fills", "bars") if args.mode == "both" else (args.mode,)
    for mode in modes:
        result = replay_trades(log, loaded.market, mode, rules=args.rules, fees=args.fees, fee_tiers=tiers,
                               timing=args.timing, slippage=args.slippage, initial_capital=args.capital,
                               checkpoints=checkpoints)
        paths = write_report(result, args.out)
        print(summary_text(result))
        print(f"written: {', '.join(str(p) for p in paths.values())}\n")
    return 0
