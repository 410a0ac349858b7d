"""``arena-gym paper``: contestants in lockstep on live bars, with simulated fills.

Example::

    arena-gym paper --env alpha-arena-s1 --exchange hyperliquid --timeframe 5m --llm gpt-5 \\
        --add ppo:runs/demo/ppo/best_model.zip --out runs/paper

The env preset gives the env settings (its ``[market]`` table is not used: the bars come from
the exchange); rerunning the same command resumes the session and catches up the bars it
missed. See :mod:`arena_gym.campaigns.paper_trading` and :mod:`arena_gym.data.live`.
"""

from __future__ import annotations

import argparse
import sys

from .evaluation_options import add_contestant_options, add_env_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "paper", help="paper-trade contestants on live bars from an exchange (simulated fills, resumable)",
        description="Poll an exchange through ccxt for closed bars, let every contestant decide at each bar close "
                    "through the same env as offline, and write the evaluation files after every bar (arena-gym "
                    "report works on the folder while it runs). No order is ever sent to the exchange.")
    add_env_options(p, default_env="alpha-arena-s1")
    p.add_argument("--exchange", default="hyperliquid", help="ccxt exchange id: hyperliquid (default), binanceusdm, "
                                                            "bybit, okx")
    p.add_argument("--timeframe", default="5m", help="bar length (default 5m)")
    p.add_argument("--coins", help="comma-separated coins (default: the env preset's assets)")
    add_contestant_options(p, all_baselines=False)
    p.add_argument("--out", default="runs/paper", help="session folder (default runs/paper)")
    p.add_argument("--history-bars", type=int, default=500, help="closed bars fetched before the first decision "
                                                                 "(default 500)")
    p.add_argument("--max-bars", type=int, help="stop after this many live bars (counting earlier runs of --out)")
    p.add_argument("--seed", type=int, default=0, help="env and policy seed (default 0)")
    p.add_argument("--grace", type=float, default=5.0, help="seconds after a bar's close before asking for it "
                                                            "(default 5)")
    p.add_argument("--connect-timeout", type=float, default=120.0,
                   help="seconds to wait for a first answer from the exchange before giving up with exit status 1 "
                        "(default 120); once reached, an outage is waited out, with a line at every retry")
    p.add_argument("--late-limit", type=float, help="seconds after a bar's close after which a missing candle is "
                                                    "filled by the gap rule (default: one bar, at least 60)")
    p.set_defaults(func=run)


def retry_waits_s(backoff) -> float:
    """Seconds one request may spend waiting between its retries (see :class:`~arena_gym.data.fetch.Backoff`)."""
    return sum(min(backoff.max_delay, backoff.base_delay * 2 ** k) for k in range(backoff.attempts - 1))


def run(args: argparse.Namespace, client=None, clock=None) -> int:
    from pathlib import Path

    from arena_gym.campaigns.paper_trading import PaperSession, policies_for
    from arena_gym.data.live import LiveFeed, VenueUnreachable

    from .evaluation_options import contestant_specs, env_config_of

    if args.max_bars is not None and args.max_bars < 1:
        raise ValueError(f"--max-bars must be >= 1, got {args.max_bars}")
    config = env_config_of(args)
    coins = args.coins or ",".join(config.assets or ())
    if not coins:
        raise ValueError(f"the env preset {args.env} names no assets; give --coins, e.g. BTC,ETH,SOL")
    specs = contestant_specs(args)
    if not specs:
        raise ValueError("no contestants: add some with --add, --llm or --baselines")
    out = Path(args.out)
    if not args.connect_timeout > 0:
        raise ValueError(f"--connect-timeout must be > 0 seconds, got {args.connect_timeout:g}")
    feed = LiveFeed(args.exchange, coins, args.timeframe, client=client, clock=clock, grace_s=args.grace,
                    late_limit_s=args.late_limit, connect_timeout_s=args.connect_timeout, log=None)
    tty = sys.stdout.isatty()

    def status(line: str) -> None:
        print(("\r" + line + "\033[K") if tty else line, end="" if tty else "\n", flush=True)

    def log(line: str) -> None:
        print(("\n" if tty else "") + line, file=sys.stderr, flush=True)

    with policies_for(specs, out) as policies:
        session = PaperSession(feed, policies, config, out, history_bars=args.history_bars, seed=args.seed,
                               status=status, log=log)
        print(f"paper session in {out}: {', '.join(p.name for p in policies)} on {feed.venue.id} "
              f"{','.join(feed.coins)} {args.timeframe} bars (simulated fills; Ctrl-C stops, rerun resumes; gives up "
              f"if {feed.venue.id} has not answered {args.connect_timeout:g} s after the first request, plus the "
              f"request under way: up to {retry_waits_s(feed.backoff):g} s of retries)", flush=True)
        try:
            summary = session.run(max_bars=args.max_bars)
        except KeyboardInterrupt:
            print("\nstopped; rerun the same command to resume")
            return 130
        except VenueUnreachable as err:
            print(f"{chr(10) if tty else ''}arena-gym paper: {err}", file=sys.stderr, flush=True)
            return 1
    if tty:
        print()
    print(f"{summary['live_bars']} live bars, {summary['events']} feed events; "
          + ", ".join(f"{name} {eq:,.2f}" for name, eq in summary["equity"].items() if eq is not None))
    print(f"arena-gym report {out}  # tables, plots and report.html")
    return 0
