"""``arena-gym arena``: every baseline, plus the policies you name, on one env preset.

Examples::

    arena-gym arena                                   # the five baselines on the synthetic market
    arena-gym arena --add ppo:runs/ppo-synthetic/best_model.zip --llm auto --out runs/arena
"""

from __future__ import annotations

import argparse

from arena_gym.campaigns.arena_campaign import built_policies

from .evaluation_options import (add_contestant_options, add_env_options, add_plan_options, contestant_specs,
                                 executor_from, exit_code, load_env, plan_from, print_summary, progress_every)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "arena", help="rank baselines, trained models and LLMs on one env preset",
        description="Evaluate a set of policies on the same windows x seeds of an env preset (resumable), print "
                    "the Bradley-Terry leaderboard and write the report.")
    add_env_options(p)
    add_contestant_options(p, all_baselines=True, sweeps=True)
    add_plan_options(p)
    p.add_argument("--out", help="evaluation folder (default runs/arena-<env>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arena_gym.campaigns.arena_campaign import run_arena

    market, config = load_env(args)
    specs = contestant_specs(args)
    if not specs:
        raise ValueError("no policies: name baselines with --baselines or add some with --add / --llm")
    out = Path(args.out or f"runs/arena-{Path(args.env).stem}")
    plan, every_s = plan_from(args), progress_every(args)   # a typo fails before a model server starts
    with built_policies(specs) as policies:
        summary = run_arena(market, config, policies, out, plan, progress=not args.no_progress,
                            concurrency=args.concurrency, n_surrogates=args.surrogates,
                            executor=executor_from(args, specs, policies), decision_lines_every_s=every_s)
    print_summary(summary)
    return exit_code(summary)
