"""Benchmark runner: the share of wall time spent in the environment during a short SB3 PPO run.

PPO (``MlpPolicy``, SB3's defaults except ``n_steps=128``) learns for ``--steps`` x 64
account-steps through ``SB3VecEnv(64)`` wrapped in ``VecMonitor``; the time inside the vector
env's ``step_wait`` and ``reset`` is summed and divided by the whole ``learn`` call. Torch runs
on one thread. Reported per repeat: the learn seconds; the env share is in the details.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import VecMonitor  # noqa: E402

from arena_gym.env.sb3 import SB3VecEnv  # noqa: E402
from arena_gym.market import MarketData  # noqa: E402

from _timing import runner_arguments, write_result  # noqa: E402

NUM_ENVS = 64


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    torch.set_num_threads(1)
    market = MarketData.from_parquet(args.prices)
    learn_seconds, env_seconds = [], []
    for repeat in range(args.repeats):
        venv = SB3VecEnv(NUM_ENVS, market, episode_length=168, ledger="off")
        spent = [0.0]
        for name in ("step_wait", "reset"):
            inner = getattr(venv, name)

            def timed(*a, _inner=inner, **kw):
                start = time.perf_counter()
                out = _inner(*a, **kw)
                spent[0] += time.perf_counter() - start
                return out

            setattr(venv, name, timed)
        model = PPO("MlpPolicy", VecMonitor(venv), n_steps=128, batch_size=1024, seed=args.seed + repeat, verbose=0)
        start = time.perf_counter()
        model.learn(args.steps * NUM_ENVS)
        learn_seconds.append(time.perf_counter() - start)
        env_seconds.append(spent[0])
    write_result(args, engine="sb3-ppo-64", accounts=NUM_ENVS, seconds=learn_seconds, resets=[0] * args.repeats,
                 packages=("arena-gym", "stable-baselines3", "torch"),
                 details={"env_seconds": env_seconds,
                          "env_share": [e / s for e, s in zip(env_seconds, learn_seconds)]})


if __name__ == "__main__":
    main()
