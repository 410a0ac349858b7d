"""``arena-gym sweep``: PPO hyperparameters and seeds searched in parallel on Ray Tune.

Examples::

    arena-gym sweep                                          # policies/ppo-sweep.toml, synthetic market
    arena-gym sweep --sweep my-sweep.toml --ray-address 10.0.0.5:6379 --out runs/sweep-big
    arena-gym arena --add-sweep runs/sweep-synthetic --set bars_per_decision=4 --set episode_length=42

Rerunning the same command resumes the sweep (Tune restores its experiment).
"""

from __future__ import annotations

import argparse

from .evaluation_options import add_env_options, load_env


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="search PPO hyperparameters and seeds on Ray Tune (ray extra)",
        description="Train PPO trials in parallel on Ray Tune (configurations drawn from a sweep file, each "
                    "trained once per seed on the train split), select on the validation split, keep every "
                    "trial's models and config, and write trials.csv, configs.csv and best.json. Resumable.")
    add_env_options(p)
    p.add_argument("--sweep", default="ppo-sweep",
                   help="sweep file under policies/ or a TOML path (default ppo-sweep)")
    p.add_argument("--timesteps", type=int, help="total timesteps per trial (default: the sweep file's)")
    p.add_argument("--ray-address", metavar="ADDR", help="run on the existing Ray cluster at ADDR "
                                                         "(default: a local cluster sized to this machine)")
    p.add_argument("--no-progress", action="store_true", help="no line per trial while it runs")
    p.add_argument("--verbose", action="store_true", help="Tune's status tables and Ray's info logs while it runs")
    p.add_argument("--out", help="sweep folder (default runs/sweep-<env>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from arena_gym.campaigns.arena_campaign import splits_for, with_fields
    from arena_gym.ray_cluster import import_ray
    from arena_gym.training.ppo_sweep import METRIC, load_sweep, run_sweep
    from arena_gym.training.ppo_training import load_policy_preset

    import_ray()
    sweep = load_sweep(args.sweep)
    if args.timesteps is not None:
        sweep["train"] = {**sweep["train"], "total_timesteps": args.timesteps}
    market, config = load_env(args)
    env_fields = load_policy_preset(sweep["preset"]).get("env", {})
    config = with_fields(config, env_fields)
    splits = splits_for(market, config)
    out = Path(args.out or f"runs/sweep-{Path(args.env).stem}")
    n_trials = int(sweep["samples"]) * len(sweep["seeds"])
    print(f"Sweep {sweep['path']}: {sweep['samples']} configurations x {len(sweep['seeds'])} seeds = {n_trials} "
          f"trials on {market.name} (train bars {splits.train}, selected on validation bars {splits.validation}, "
          f"test bars {splits.test} held out) -> {out}")
    result = run_sweep(market, config, splits, sweep, out, address=args.ray_address, verbose=1 if args.verbose else 0,
                       progress=not args.no_progress)
    trials = result["trials"].drop(columns=["model"])
    trials[METRIC] = 100 * trials[METRIC]
    trials = trials.rename(columns={METRIC: "validation return %", "train_seconds": "train s"})
    print(f"\nTrials (validation return %: {METRIC}, the mean total return of the best checkpoint on the validation "
          f"windows, in %):")
    print(trials.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="n/a",
                           formatters={"validation return %": lambda v: "n/a" if v != v else f"{v:+.2f}"}))
    best = result["best"]
    if "best_config" not in best:
        print("\nNo trial finished.")
        return 1
    sets = " ".join(f"--set {k}={json.dumps(v)}" for k, v in env_fields.items()
                    if k in ("bars_per_decision", "episode_length", "initial_capital"))
    print(f"\nBest configuration {best['best_config']['config']}: {best['best_config']['hyperparameters']} "
          f"(mean over seeds {best['best_config'][f'mean_{METRIC}']:+.2%})")
    print(f"Tables: {out / 'trials.csv'}, {out / 'configs.csv'}, {out / 'best.json'}")
    arena_out = out.with_name(f"{out.name}-arena")   # not the default runs/arena-<env>, which another run may hold
    print(f"Evaluate every seed of it on the test split:\n  arena-gym arena --env {args.env} --add-sweep {out} {sets} "
          f"--out {arena_out}")
    return 0
