"""Memory of a long training run: Stable-Baselines3 PPO through ``make_vec_env("arena_gym/Perp-v0")``.

Usage (from the repository root, in the project's environment; set ``OMP_NUM_THREADS=1``)::

    python scripts/bench_training_memory.py                      # 1,000,000 steps, 4 envs
    python scripts/bench_training_memory.py --timesteps 200000 --n-envs 1

Trains PPO with its defaults (``MlpPolicy``) on the default ``arena_gym/Perp-v0`` (the embedded
synthetic market, episodes of 720 decisions, the single env's default ledger) and prints the
process's resident memory (RSS, MiB, read from ``/proc/self/statm``) when the run starts and at
10 %, 50 % and 100 % of its steps, with the seconds elapsed, then the change from 10 % to 100 %
(goal: within 10 %). Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import os
import time


def rss_mib() -> float:
    """Resident set size of this process in MiB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=1_000_000, help="PPO steps in all (default 1,000,000)")
    parser.add_argument("--n-envs", type=int, default=4, help="envs in make_vec_env (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.timesteps < 10 or args.n_envs < 1:
        parser.error("--timesteps must be >= 10 and --n-envs >= 1")

    import arena_gym  # noqa: F401  (registers the ids)
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    marks = {int(args.timesteps * f): f"{round(100 * f)} %" for f in (0.1, 0.5, 1.0)}
    readings: dict[str, float] = {}
    t0 = time.perf_counter()

    class MemoryMarks(BaseCallback):
        def _on_step(self) -> bool:
            for at, label in marks.items():
                if label not in readings and self.num_timesteps >= at:
                    readings[label] = rss_mib()
                    print(f"{label:>5} of the run ({self.num_timesteps:,} steps, "
                          f"{time.perf_counter() - t0:,.0f} s): RSS {readings[label]:,.1f} MiB", flush=True)
            return True

    env = make_vec_env("arena_gym/Perp-v0", n_envs=args.n_envs, seed=args.seed)
    model = PPO("MlpPolicy", env, seed=args.seed, verbose=0)
    print(f"PPO on make_vec_env('arena_gym/Perp-v0', n_envs={args.n_envs}), {args.timesteps:,} steps; "
          f"RSS at start {rss_mib():,.1f} MiB", flush=True)
    model.learn(total_timesteps=args.timesteps, callback=MemoryMarks())
    first, last = readings.get("10 %"), readings.get("100 %")
    if first and last:
        print(f"RSS change from 10 % to 100 %: {100 * (last / first - 1):+.1f} % "
              f"({time.perf_counter() - t0:,.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
