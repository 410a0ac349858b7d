"""Timing loop shared by the environment benchmark runners.

Standard library only: the same file runs in the project's environment and in each
competitor's own virtual environment. A runner builds one environment, samples a pool of
random actions before any timing, steps ``warmup`` times, then times ``repeats`` runs of
``steps`` steps each with :func:`time.perf_counter`, and writes one JSON result file.

Conventions:
* a *step* is one call of ``env.step``; for a vector environment one step advances every
  account, so account-steps = steps x accounts;
* a single environment is reset (without a seed) as soon as an episode ends, and that reset
  is inside the timed loop, as it is in training; a vector environment resets its own
  accounts;
* the action pool holds :data:`ACTION_POOL` actions and is cycled.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

ACTION_POOL = 1000


def runner_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments every runner takes (``bench_env.py`` passes all of them)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--prices", type=Path, required=True, help="price file written by bench_env.py")
    parser.add_argument("--steps", type=int, required=True, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, required=True, help="untimed steps before the first repeat")
    parser.add_argument("--repeats", type=int, required=True, help="number of timed runs")
    parser.add_argument("--seed", type=int, required=True, help="seed of the first reset and of the action pool")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON result")
    return parser


def sample_actions(action_space: Any, seed: int) -> list:
    """:data:`ACTION_POOL` actions drawn from ``action_space.sample()`` after seeding it."""
    action_space.seed(seed)
    return [action_space.sample() for _ in range(ACTION_POOL)]


def time_single(env: Any, actions: Sequence, steps: int) -> tuple[float, int]:
    """Seconds taken by ``steps`` steps of a single environment, and the resets among them."""
    step, reset, pool = env.step, env.reset, len(actions)
    resets = 0
    start = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = step(actions[i % pool])
        if terminated or truncated:
            reset()
            resets += 1
    return time.perf_counter() - start, resets


def time_vector(env: Any, actions: Sequence, steps: int) -> tuple[float, int]:
    """Seconds taken by ``steps`` steps of a vector environment (it resets its own accounts).

    The second value is 0: resets inside a vector environment are not counted, so that
    counting them does not add work to the timed loop.
    """
    step, pool = env.step, len(actions)
    start = time.perf_counter()
    for i in range(steps):
        step(actions[i % pool])
    return time.perf_counter() - start, 0


def measure(
    timer: Callable[[Any, Sequence, int], tuple[float, int]],
    env: Any,
    actions: Sequence,
    args: argparse.Namespace,
) -> tuple[list[float], list[int]]:
    """Warm up, then time ``args.repeats`` runs; seconds and resets per run."""
    timer(env, actions, args.warmup)
    seconds, resets = [], []
    for _ in range(args.repeats):
        took, count = timer(env, actions, args.steps)
        seconds.append(took)
        resets.append(count)
    return seconds, resets


def write_result(
    args: argparse.Namespace,
    *,
    engine: str,
    accounts: int,
    seconds: list[float],
    resets: list[int],
    packages: Sequence[str],
    details: dict[str, Any],
) -> None:
    """Write the runner's result as JSON to ``args.out``."""
    versions = {"python": platform.python_version()}
    for name in packages:
        versions[name] = metadata.version(name)
    result = {
        "engine": engine,
        "accounts": accounts,
        "steps": args.steps,
        "warmup": args.warmup,
        "seconds": seconds,
        "resets": resets,
        "versions": versions,
        "details": details,
    }
    args.out.write_text(json.dumps(result, indent=2))
