"""Benchmark runner: seconds to load the compiled exchange kernel, cold and warm.

Each repeat runs two fresh interpreters against a fresh, empty numba cache folder
(``NUMBA_CACHE_DIR``): the first compiles the kernel and writes the cache (cold: what a user
waits on a fresh machine), the second loads it from disk (warm: every later run). Both time
``arena_gym.exchange.engine.compile_seconds`` (build an exchange, step it once, read the
liquidation prices), so import time of the package itself is left out. ``--steps`` and
``--warmup`` are ignored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from _timing import runner_arguments, write_result

PROBE = "from arena_gym.exchange.engine import compile_seconds; print(compile_seconds())"


def timed_load(cache_dir: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    env.pop("NUMBA_DISABLE_JIT", None)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    cold, warm = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
            cold.append(timed_load(cache))
            warm.append(timed_load(cache))
    write_result(args, engine="kernel-compile", accounts=1, seconds=cold, resets=[0] * len(cold),
                 packages=("arena-gym", "numba", "numpy"), details={"cold_seconds": cold, "warm_seconds": warm})


if __name__ == "__main__":
    main()
