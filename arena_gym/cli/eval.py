"""``arena-gym eval``: play given policies on the same held-out windows and seeds, resumably.

Examples::

    arena-gym eval --policy ppo:runs/ppo-synthetic/best_model.zip --policy random --out runs/ppo-vs-random
    arena-gym eval --env alpha-arena-s1 --policy llm:gpt-5 --windows 4 --seeds 0

Rerunning the same command after an interruption plays only the episodes not yet logged.
"""

from __future__ import annotations

import argparse

from arena_gym.campaigns.arena_campaign import built_policies
from .evaluation_options import (add_env_options, add_plan_options, executor_from, exit_code, load_env, plan_from,
                                 print_summary, progress_every)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate policies on identical windows (resumable)",
        description="Play each policy on the same windows x seeds of a split of an env preset, appending each "
                    "finished episode to <out>/episodes.jsonl (an interrupted run resumes), then write the "
                    "metric tables, plots and report.html.")
    add_env_options(p)
    p.add_argument("--policy", action="append", required=True, metavar="SPEC",
                   help="a baseline name (hold_cash, buy_and_hold, random, ema_momentum, funding_carry), "
                        "ppo:<model.zip>, llm:<preset>, or LABEL=<spec>; repeatable")
    add_plan_options(p)
    p.add_argument("--retry-errors", action="store_true", help="play again the episodes logged as failed")
    p.add_argument("--out", help="evaluation folder (default runs/eval-<env>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arena_gym.campaigns.arena_campaign import run_arena

    market, config = load_env(args)
    out = Path(args.out or f"runs/eval-{Path(args.env).stem}")
    plan, every_s = plan_from(args), progress_every(args)   # a typo fails before a model server starts
    with built_policies(args.policy) as policies:
        summary = run_arena(market, config, policies, out, plan, progress=not args.no_progress,
                            concurrency=args.concurrency, n_surrogates=args.surrogates,
                            retry_errors=args.retry_errors, executor=executor_from(args, args.policy, policies),
                            decision_lines_every_s=every_s)
    print_summary(summary)
    return exit_code(summary)
