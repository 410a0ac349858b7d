"""``arena-gym season1``: the six recorded Alpha Arena LLMs, walk-forward PPO and the five
baselines on the contest's window, under one env, offline (see
:mod:`arena_gym.campaigns.season1_campaign`).

Example::

    arena-gym season1 --data DATA/binance-usdm --out runs/season1

Rerunning the same command resumes: the trained PPO and the finished episodes are reused.
"""

from __future__ import annotations

import argparse
import os


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "season1", help="the recorded Season 1 LLMs against walk-forward PPO and baselines on the contest window",
        description="Play the contest's trade log (six LLMs) as recorded policies, each as traded (at its recorded "
                    "prices) and on bars (filled at the next open), PPO trained only on bars before the contest (one "
                    "run per seed), and the five baselines on the contest window (2025-10-17 .. 2025-10-28 UTC) under "
                    "one env (contest rules and fees, isolated margin, $10,000, 1-hour bars); print and write the "
                    "full-window table with exposure, beta and alpha, the Bradley-Terry ranking over the UTC days of "
                    "those runs, each recorded LLM beside the contest's own net PnL with every discrepancy and the "
                    "causes of every difference, equity curves and HTML reports. Resumable.")
    p.add_argument("--data", metavar="DIR",
                   help="freqtrade folder with <COIN>_USDT_USDT-1h-futures.feather and -8h-funding_rate.feather for "
                        "BTC ETH SOL BNB XRP DOGE from 2024-01 (or a long-format parquet file); default: the "
                        "download cache (see envs/alpha-arena-s1-real.toml)")
    p.add_argument("--trades", metavar="PATH",
                   help="the contest's trade log (default: alpha-arena-s1/trades_api_union_2025-10-17_to_10-28.csv "
                        "in the folder holding --data)")
    p.add_argument("--out", default="runs/season1", help="output folder (default runs/season1)")
    p.add_argument("--timesteps", type=int, help="PPO training timesteps (default: policies/ppo-season1.toml)")
    p.add_argument("--ppo-seeds", default="0,1,2,3,4", metavar="S,S,...",
                   help="seeds PPO is trained with, one after another, each its own contestant (default 0,1,2,3,4)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from arena_gym.campaigns.season1_campaign import run_season1

    from .evaluation_options import parse_seeds

    result = run_season1(args.data, args.out, trades=args.trades, total_timesteps=args.timesteps,
                         progress=not args.no_progress, ppo_seeds=parse_seeds(args.ppo_seeds))
    print()
    print(result["text"])
    print(f"Written: {', '.join(str(p) for p in result['paths'].values())}; reports in {args.out}/full and "
          f"{args.out}/daily")
    return 0
