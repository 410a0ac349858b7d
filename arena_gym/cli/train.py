"""``arena-gym train``: train PPO on the train split of an env preset, selected on validation.

Examples::

    arena-gym train                                  # synthetic market, policies/ppo.toml
    arena-gym train --env synthetic --timesteps 1000000 --seed 3 --out runs/ppo-long
    arena-gym train --ppo learning_rate=3e-4 --ppo n_steps=128 --tensorboard runs/tb   # tensorboard --logdir runs/tb
"""

from __future__ import annotations

import argparse

from .evaluation_options import add_env_options, load_env, parse_fields


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
    p.add_argument("--ppo", action="append", default=[], metavar="NAME=VALUE",
                   help="override a PPO hyperparameter of the preset's [ppo] table, e.g. --ppo learning_rate=3e-4 "
                        "--ppo net_arch=[128,128] (value read as JSON, else as text); repeatable")
    p.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR (view: tensorboard --logdir DIR)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", help="output folder (default runs/ppo-<env>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arena_gym.campaigns.arena_campaign import splits_for, with_fields
    from arena_gym.training.ppo_training import load_policy_preset, train_ppo

    overrides = parse_fields(args.ppo, option="--ppo")
    market, config = load_env(args)
    preset = load_policy_preset(args.preset)
    config = with_fields(config, preset.get("env", {}))
    splits = splits_for(market, config)
    out = Path(args.out or f"runs/ppo-{Path(args.env).stem}")
    print(f"Training PPO on {market.name}: train bars {splits.train}, validation bars {splits.validation} "
          f"(test bars {splits.test} held out) -> {out}")
    model = train_ppo(market, config, splits, out, preset, total_timesteps=args.timesteps, seed=args.seed,
                      ppo_overrides=overrides, tensorboard_log=args.tensorboard, progress_bar=not args.no_progress)
    print(f"Best model on validation: {model}")
    return 0
