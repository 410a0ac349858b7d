"""numba stays out of ``import arena_gym``; the kernel loads on the first exchange, from the disk cache."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
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
    code = "from arena_gym.exchange.engine import compile_seconds; compile_seconds()"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert "compiling the exchange kernel" not in run.stderr


def test_a_cached_environment_step_loads_without_the_compile_notice():
    code = "from arena_gym.env import PerpTradingEnv; env = PerpTradingEnv(); env.reset(seed=0); env.step(env.action_space.sample())"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert "compiling" not in run.stderr, run.stderr
