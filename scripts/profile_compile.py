"""Where a cold first step's compile time goes: numba's compile seconds per compiled function.

Usage (from the repository root, in the project's environment)::

    python scripts/profile_compile.py                  # PerpTradingEnv, numba's optimisation level
    python scripts/profile_compile.py --env vector     # PerpVectorEnv(256)
    NUMBA_OPT=0 python scripts/profile_compile.py      # LLVM optimisation off: numba's own share

The script points numba at a fresh, empty cache folder (``NUMBA_CACHE_DIR``, removed at the end)
before importing anything, so everything the first step uses compiles. It then makes the env,
resets it and takes one step, listening to numba's ``numba:compile`` events. A function's
*exclusive* seconds are its compile's wall time minus that of the compiles it set off itself
(its callees'); the exclusive seconds add up to the whole compile. A function that numba
inlines into its caller (``inline="always"``) has no compile of its own: its seconds are its
caller's. ``NUMBA_OPT`` is read from the environment, as numba reads it (at level 0 numba
declines to cache the functions and warns for each; the seconds still stand).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

CACHE = tempfile.mkdtemp(prefix="numba-cache-")
os.environ["NUMBA_CACHE_DIR"] = CACHE   # before numba is imported: it reads the variable once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", choices=("single", "vector"), default="single",
                        help="PerpTradingEnv (default) or PerpVectorEnv(256)")
    parser.add_argument("--top", type=int, default=20, help="functions listed, slowest first (default 20)")
    args = parser.parse_args()

    began = time.perf_counter()
    from numba.core import event

    exclusive: dict[str, float] = {}
    open_compiles: list[list] = []   # [name, start, seconds of the compiles it set off]

    class CompileTimes(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            open_compiles.append([ev.data["dispatcher"].py_func.__name__, time.perf_counter(), 0.0])

        def on_end(self, ev: event.Event) -> None:
            name, start, nested = open_compiles.pop()
            took = time.perf_counter() - start
            exclusive[name] = exclusive.get(name, 0.0) + took - nested
            if open_compiles:
                open_compiles[-1][2] += took

    event.register("numba:compile", CompileTimes())
    from arena_gym.env import PerpTradingEnv, PerpVectorEnv

    imported = time.perf_counter()
    env = PerpTradingEnv(episode_length=2) if args.env == "single" else PerpVectorEnv(256, episode_length=2)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    stepped = time.perf_counter()
    shutil.rmtree(CACHE, ignore_errors=True)

    level = os.environ.get("NUMBA_OPT", "numba's default")
    print(f"{type(env).__name__}, NUMBA_OPT {level}: imports {imported - began:.2f} s, make + reset + first step "
          f"{stepped - imported:.2f} s, of which compiling {sum(exclusive.values()):.2f} s "
          f"({len(exclusive)} functions)")
    for name, seconds in sorted(exclusive.items(), key=lambda item: -item[1])[:args.top]:
        print(f"  {name:30s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
