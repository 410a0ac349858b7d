"""numba stays out of ``import arena_gym``; the kernel loads on the first exchange, from the disk cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: the benchmark runners' folder, where the kernel's compile probe lives
BENCH_RUNNERS = Path(__file__).resolve().parents[1] / "scripts" / "_bench_runners"

CHECK = """
import sys

import pytest
import arena_gym, arena_gym.env, arena_gym.exchange, arena_gym.evaluation
assert "numba" not in sys.modules, "numba imported by import arena_gym"
from arena_gym.env import PerpTradingEnv
env = PerpTradingEnv(episode_length=2)
assert "numba" in sys.modules
env.reset(seed=0)
env.step(env.action_space.sample())
"""


def test_numba_is_imported_on_first_use_of_the_exchange_not_by_import_arena_gym():
    run = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr


def test_a_cached_kernel_loads_without_the_compile_notice():
    # the first run above (or any earlier test) compiled and cached the kernel
    code = f"import sys; sys.path.insert(0, {str(BENCH_RUNNERS)!r}); from run_compile import compile_seconds; compile_seconds()"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert "compiling the exchange kernel" not in run.stderr


def test_a_cached_environment_step_loads_without_the_compile_notice():
    code = "from arena_gym.env import PerpTradingEnv; env = PerpTradingEnv(); env.reset(seed=0); env.step(env.action_space.sample())"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert "compiling" not in run.stderr, run.stderr


HAS_CACHE = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
from arena_gym.exchange.engine import has_disk_cache
import tiny
before = has_disk_cache(tiny.twice)
tiny.twice(2.0)
print(before, has_disk_cache(tiny.twice))
"""


def test_the_disk_cache_check_follows_numba(tmp_path):
    (tmp_path / "tiny.py").write_text("from numba import njit\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def check() -> str:
        run = subprocess.run([sys.executable, "-c", HAS_CACHE, str(tmp_path)], capture_output=True, text=True,
                             timeout=300, env=env, check=True)
        return run.stdout.strip()

    assert check() == "False True"          # nothing on disk, then compiled and saved
    assert check() == "True True"           # loaded from disk: nothing to announce
    (tmp_path / "tiny.py").write_text("from numba import njit\n\n@njit(cache=True)\ndef twice(x):\n    return x + x\n")
    assert check() == "False True"          # numba drops an index whose source changed: it compiles again


ANNOUNCE = """
import sys
sys.path.insert(0, sys.argv[1])
from arena_gym.exchange.engine import CompiledEntry
import tiny
first, second = CompiledEntry(tiny.twice, "tiny"), CompiledEntry(tiny.half, "tiny")
CompiledEntry(tiny.never, "tiny never called")
first.run(2.0)
second.run(2.0)
"""


def test_only_a_first_call_that_compiles_is_announced_and_once(tmp_path):
    (tmp_path / "tiny.py").write_text("from numba import njit\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n\n\n"
                                      "@njit(cache=True)\ndef half(x):\n    return x / 2\n\n\n"
                                      "@njit(cache=True)\ndef never(x):\n    return x\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def stderr() -> str:
        return subprocess.run([sys.executable, "-c", ANNOUNCE, str(tmp_path)], capture_output=True, text=True,
                              timeout=300, env=env, check=True).stderr

    first = stderr()
    assert first.count("compiling tiny (first run") == 1, first   # two entries compile: one line
    assert "never" not in first                                   # an entry never called is never announced
    assert stderr() == ""                                         # loaded from disk: nothing to say


def test_each_env_mode_checks_only_the_compiled_functions_it_runs():
    from arena_gym.env.config import EnvConfig
    from arena_gym.env.core import compiled_entry_points

    assert compiled_entry_points(EnvConfig()) == ("refresh_accounts", "step_env")
    assert compiled_entry_points(EnvConfig(), num_threads=2) == ("refresh_accounts", "step_env_threaded")
    contest = EnvConfig(action_mode="decision", observation_mode="text", house_rules=True)
    assert compiled_entry_points(contest) == ("refresh_accounts", "step_decided")   # never step_env


@pytest.mark.slow
def test_a_contest_env_on_a_fresh_cache_announces_compiling_once(tmp_path):
    code = ("import gymnasium as gym, arena_gym; env = gym.make('arena_gym/AlphaArena-v0', episode_length=2); "
            "env.reset(seed=0); env.step({})")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1200, env=env, check=True)
    assert "compiling the environment's step" in first.stderr
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env, check=True)
    assert "compiling" not in again.stderr, again.stderr


def test_every_compiled_entry_point_takes_at_most_eight_arguments():
    # entry points (called from Python) take their data in bundles; internal rules may take more
    import inspect

    from arena_gym.env import compiled
    from arena_gym.exchange import kernel

    entries = {}
    for module in (kernel, compiled):
        for name, value in vars(module).items():
            options = getattr(value, "targetoptions", None)
            if options is not None and not options.get("no_cpython_wrapper", False) and value.__module__ == module.__name__:
                entries[name] = len(inspect.signature(value.py_func).parameters)
    assert {"step_accounts", "step_env", "step_env_threaded", "step_decided", "refresh_accounts",
            "liquidation_prices"} <= set(entries), entries
    assert max(entries.values()) <= 8, entries
