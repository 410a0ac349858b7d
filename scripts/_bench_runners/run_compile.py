"""Benchmark runner: seconds to the first step of a fresh process, with an empty numba cache
(cold: compiling) and with the cache that run left (warm), for the single and the vector env,
for the exchange kernel alone, and for two floors: ``import arena_gym.env`` (no numba) and numba
on its own (import, then one one-line function compiled or loaded from the cache); and the single
env once more at numba's optimisation level 1 (``NUMBA_OPT=1``, what the ``arena-gym`` command
asks for), the others at numba's default.

Each repeat creates a fresh, empty numba cache folder (``NUMBA_CACHE_DIR``) and runs, in fresh
interpreters, the single env (``PerpTradingEnv``: import, make, reset, first step) cold then
warm, then the vector env (``PerpVectorEnv(256)``, same steps) cold then warm, then the
exchange alone (:func:`compile_seconds`), each against its own empty folder. The time is the whole process's wall time, interpreter start-up
included. ``--steps`` and ``--warmup`` are ignored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from pathlib import Path

from _timing import runner_arguments, write_result

PROBES = {
    "single": "from arena_gym.env import PerpTradingEnv\n"
              "env = PerpTradingEnv(episode_length=2)\n"
              "env.reset(seed=0)\n"
              "env.step(env.action_space.sample())\n",
    "vector": "from arena_gym.env import PerpVectorEnv\n"
              "env = PerpVectorEnv(256, episode_length=2)\n"
              "env.reset(seed=0)\n"
              "env.step(env.action_space.sample())\n",
    "kernel": f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
              "from run_compile import compile_seconds\n"
              "compile_seconds()\n",
    # the floors under the env's figures: importing the env module (no numba), and numba on its
    # own (import, then compile or load one one-line function, the least any numba code costs)
    "import": "import arena_gym.env\n",
    "numba": "import os, pathlib, sys\n"
             "folder = pathlib.Path(os.environ['NUMBA_CACHE_DIR']) / 'probe'\n"
             "folder.mkdir(exist_ok=True)\n"
             "source = folder / 'numba_floor_probe.py'\n"
             "if not source.exists():\n"
             "    source.write_text('from numba import njit\\n@njit(cache=True)\\ndef one(x):\\n    return x + 1\\n')\n"
             "sys.path.insert(0, str(folder))\n"
             "import numba_floor_probe\n"
             "numba_floor_probe.one(1)\n",
}
# the single env once more with LLVM at optimisation level 1, as the ``arena-gym`` command runs it
PROBES["single_opt1"] = PROBES["single"]
#: numba's optimisation level per probe: numba's default (3) unless named here
OPT_LEVELS = {"single_opt1": "1"}


def compile_seconds() -> float:
    """Seconds taken to load (or compile) and run the exchange kernel once on a tiny market."""
    from arena_gym.exchange import Exchange, Orders
    from arena_gym.market import synthetic_market

    start = time.perf_counter()
    ex = Exchange(synthetic_market(n_bars=64, seed=0, symbols=("BTC",)), 1, ledger="full")
    ex.reset(0)
    ex.step(Orders.hold(1, 1))
    ex.liquidation_price()
    ex.maintenance_margin()
    return time.perf_counter() - start


def first_step_seconds(probe: str, cache_dir: str, opt_level: str | None = None) -> float:
    """Wall seconds of a fresh interpreter that imports arena-gym, makes an env, resets and steps
    it, with numba's optimisation level ``opt_level`` (``None``: numba's default)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    env.pop("NUMBA_DISABLE_JIT", None)
    env.pop("NUMBA_OPT", None)
    if opt_level is not None:
        env["NUMBA_OPT"] = opt_level
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    details = {f"{kind}_{state}_seconds": [] for kind in PROBES for state in ("cold", "warm")}
    for _ in range(args.repeats):
        for kind, probe in PROBES.items():
            with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
                details[f"{kind}_cold_seconds"].append(first_step_seconds(probe, cache, OPT_LEVELS.get(kind)))
                details[f"{kind}_warm_seconds"].append(first_step_seconds(probe, cache, OPT_LEVELS.get(kind)))
    write_result(args, engine="first-step", accounts=1, seconds=details["single_cold_seconds"],
                 resets=[0] * args.repeats, packages=("arena-gym", "numba", "numpy"), details=details)


if __name__ == "__main__":
    main()
