"""``arena-gym demo``: the main job, offline, in a few minutes.

On the embedded synthetic market it trains a short PPO (policies/ppo.toml) on the train split,
selects it on the validation split, then plays it with the five baselines (and any LLM preset
whose provider key is set, or the local model when installed) on the same held-out test
windows and seeds, prints the leaderboard and how PPO did against random and hold-cash, and
writes the report. Run again to resume; ``--fresh`` starts over.

    arena-gym demo                    # writes runs/demo/
"""

from __future__ import annotations

import argparse

from .evaluation_options import add_llm_option


def register(subparsers) -> None:
    from .evaluation_options import add_progress_options

    p = subparsers.add_parser(
        "demo", help="train a short PPO and rank it against baselines on held-out synthetic windows",
        description="Train PPO on the synthetic market, evaluate it with the baselines (and available LLMs) on "
                    "held-out windows, print the leaderboard and write <out>/report.html. Offline; a few minutes.")
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--env", default="synthetic", help="env preset (default synthetic)")
    p.add_argument("--timesteps", type=int, help="PPO timesteps (default: policies/ppo.toml)")
    p.add_argument("--windows", type=int, default=16, help="held-out test windows (default 16)")
    p.add_argument("--seeds", default="0", help="comma-separated env seeds per window (default 0; episodes depend "
                                                "on the seed only through stochastic policies)")
    add_llm_option(p, "auto")
    p.add_argument("--fresh", action="store_true", help="delete the output folder first (retrain, replay)")
    add_progress_options(p)
    p.set_defaults(func=run)


def verdict(h2h) -> list[str]:
    """Plain sentences on how PPO did against each opponent in ``h2h`` (see ``head_to_head``)."""
    lines = []
    for row in h2h.itertuples(index=False):
        if row.episodes == 0:
            lines.append(f"  vs {row.opponent}: no shared finished episodes")
            continue
        if row.wins > row.losses and row.mean_difference > 0:
            word = "ahead of"
        elif row.losses > row.wins and row.mean_difference < 0:
            word = "behind"
        else:
            word = "level with (mixed results against)"
        lines.append(f"  vs {row.opponent}: PPO is {word} it: won {row.wins}, tied {row.ties}, lost {row.losses} of "
                     f"{row.episodes} paired episodes; mean return {row.mean_total_return:+.2%} against "
                     f"{row.opponent_mean_total_return:+.2%} (difference {100 * row.mean_difference:+.2f} percentage points per episode)")
    return lines


def run(args: argparse.Namespace) -> int:
    import shutil
    import time
    from pathlib import Path

    from arena_gym.campaigns.arena_campaign import ArenaPlan, head_to_head, ppo_against_field
    from arena_gym.agents.baselines import BASELINES
    from arena_gym.agents.policies import LOCAL_PRESET
    from arena_gym.agents.local_server import local_model_unavailable_reason
    from arena_gym.presets import load_env_preset

    from .evaluation_options import exit_code, llm_specs, parse_seeds, print_summary, progress_every

    t0 = time.perf_counter()
    every_s = progress_every(args)
    plan = ArenaPlan(split="test", n_windows=args.windows, seeds=tuple(parse_seeds(args.seeds)))
    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    market, config = load_env_preset(args.env)
    if args.llm == "auto" and local_model_unavailable_reason() is None:
        print(f"The local model is installed; add it with --llm {LOCAL_PRESET} (slow: it runs on the CPU)")
    summary = ppo_against_field(market, config, [*BASELINES, *llm_specs(args.llm)], out, plan,
                                total_timesteps=args.timesteps, title="arena-gym demo: PPO against the baselines",
                                progress=not args.no_progress, decision_lines_every_s=every_s)
    print_summary(summary)
    h2h = head_to_head(summary["ok"], "ppo", ["random", "hold_cash"])
    print("\nPPO on the held-out test windows:")
    print("\n".join(verdict(h2h)))
    print(f"\nDone in {time.perf_counter() - t0:.0f} s.")
    return exit_code(summary)
