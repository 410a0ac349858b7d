"""Benchmark runner: seconds to load the compiled exchange kernel and the environment's compiled
step, cold and warm.

Each repeat runs two fresh interpreters against a fresh, empty numba cache folder
(``NUMBA_CACHE_DIR``): the first compiles and writes the cache (cold: what a user waits on a
fresh machine), the second loads it from disk (warm: every later run). Each times
``arena_gym.exchange.engine.compile_seconds`` (build an exchange, step it once, read the
liquidation prices), then, with the kernel loaded, the first ``PerpTradingEnv`` step (build,
reset, step: the environment's step on top of the kernel). Import time of the package itself is
left out. ``--steps`` and ``--warmup`` are ignored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from _timing import runner_arguments, write_result

PROBE = """
import time
from arena_gym.env import PerpTradingEnv
from arena_gym.exchange.engine import compile_seconds
kernel = compile_seconds()
start = time.perf_counter()
env = PerpTradingEnv(episode_length=2)
env.reset(seed=0)
env.step(env.action_space.sample())
print(kernel, time.perf_counter() - start)
"""


def timed_load(cache_dir: str) -> tuple[float, float]:
    """Seconds to load the kernel, then the environment's first step, in a fresh interpreter."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    env.pop("NUMBA_DISABLE_JIT", None)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    kernel, env_step = done.stdout.strip().splitlines()[-1].split()
    return float(kernel), float(env_step)


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    cold, warm = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
            cold.append(timed_load(cache))
            warm.append(timed_load(cache))
    write_result(args, engine="kernel-compile", accounts=1, seconds=[k for k, _ in cold], resets=[0] * len(cold),
                 packages=("arena-gym", "numba", "numpy"),
                 details={"cold_seconds": [k for k, _ in cold], "warm_seconds": [k for k, _ in warm],
                          "env_step_cold_seconds": [e for _, e in cold], "env_step_warm_seconds": [e for _, e in warm]})


if __name__ == "__main__":
    main()
