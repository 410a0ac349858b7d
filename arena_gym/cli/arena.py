"""``arena-gym arena``: every baseline, plus the policies you name, on one env preset.

Examples::

    arena-gym arena                                   # the five baselines on the synthetic market
    arena-gym arena --add ppo:runs/ppo-synthetic/best_model.zip --llm auto --out runs/arena
"""

from __future__ import annotations

import argparse

from ..evaluation.arena import built_policies
from .evaluation_options import (add_env_options, add_plan_options, executor_from, exit_code, load_env, plan_from,
                                 print_summary, progress_every)


def register(subparsers) -> None:
    from arena_gym.evaluation.baselines import BASELINES

    p = subparsers.add_parser(
        "arena", help="rank baselines, trained models and LLMs on one env preset",
        description="Evaluate a set of policies on the same windows x seeds of an env preset (resumable), print "
                    "the Bradley-Terry leaderboard and write the report.")
    add_env_options(p)
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help=f"comma-separated baselines (default all: {','.join(BASELINES)}; '' for none)")
    p.add_argument("--add", action="append", default=[], metavar="SPEC",
                   help="another policy: ppo:<model.zip>, llm:<preset> or LABEL=<spec>; repeatable")
    p.add_argument("--add-sweep", action="append", default=[], metavar="DIR",
                   help="every seed of the best configuration of a finished 'arena-gym sweep' in DIR; repeatable")
    p.add_argument("--llm", default="none",
                   help="'auto' adds every hosted LLM preset whose provider key is set; or name presets, e.g. "
                        "gpt-5,local-smollm2 (the local model runs on the CPU); 'none' (default) adds none")
    add_plan_options(p)
    p.add_argument("--out", help="evaluation folder (default runs/arena-<env>)")
    p.set_defaults(func=run)


def llm_specs(choice: str, log=print) -> list[str]:
    """Policy specs for ``--llm``: ``none``, ``auto``, or a comma-separated list of presets.

    With ``auto``, ``log`` receives which presets were added and which were skipped and why.
    """
    if choice == "none":
        return []
    if choice == "auto":
        from arena_gym.evaluation.arena import llm_preset_status

        status = llm_preset_status(include_local=False)
        added = [name for name, reason in status.items() if reason is None]
        log(f"--llm auto: added {', '.join(added) if added else 'no LLM preset'}")
        skipped = [f"{name} ({reason})" for name, reason in status.items() if reason is not None]
        if skipped:
            log(f"  skipped: {'; '.join(skipped)}")
        return [f"llm:{name}" for name in added]
    return [f"llm:{name.strip()}" for name in choice.split(",") if name.strip()]


def sweep_specs_of(folders: list[str]) -> list[str]:
    """Policy specs of ``--add-sweep``: every seed of each sweep's best configuration."""
    if not folders:
        return []
    from arena_gym.evaluation.sweep import sweep_specs

    return [spec for folder in folders for spec in sweep_specs(folder)]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arena_gym.evaluation.arena import run_arena

    market, config = load_env(args)
    specs = [b.strip() for b in args.baselines.split(",") if b.strip()] + args.add + sweep_specs_of(args.add_sweep) \
        + llm_specs(args.llm)
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
