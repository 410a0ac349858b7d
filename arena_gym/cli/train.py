"""``arena-gym train``: train PPO on the train split of an env preset, selected on validation.

Examples::

    arena-gym train                                  # synthetic market, policies/ppo.toml
    arena-gym train --env synthetic --timesteps 1000000 --seed 3 --out runs/ppo-long
"""

from __future__ import annotations

import argparse

from .evaluation_options import add_env_options, load_env


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train PPO (stable-baselines3) on an env preset",
        description="Train PPO on the train split (by time) of an env preset, validate it on fixed windows of the "
                    "validation split, and save the final and the best model with their config JSON and "
                    "checkpoints. Needs the rl extra.")
    add_env_options(p)
    p.add_argument("--preset", default="ppo", help="policy preset under policies/ or a TOML path (default ppo)")
    p.add_argument("--timesteps", type=int, help="total timesteps (default: the preset's)")
    p.add_argument("--seed", type=int, help="training seed (default: the preset's)")
    p.add_argument("--out", help="output folder (default runs/ppo-<env>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arena_gym.evaluation.arena import splits_for, with_fields
    from arena_gym.evaluation.training import load_policy_preset, train_ppo

    market, config = load_env(args)
    preset = load_policy_preset(args.preset)
    config = with_fields(config, preset.get("env", {}))
    splits = splits_for(market, config)
    out = Path(args.out or f"runs/ppo-{Path(args.env).stem}")
    print(f"Training PPO on {market.name}: train bars {splits.train}, validation bars {splits.validation} "
          f"(test bars {splits.test} held out) -> {out}")
    model = train_ppo(market, config, splits, out, preset, total_timesteps=args.timesteps, seed=args.seed)
    print(f"Best model on validation: {model}")
    return 0
