"""Reward functions, batch-first: ``reward(prev_equity, equity, initial_capital) -> (N,)``.

* ``log_return`` (default): ``log(equity / prev_equity)``, both floored at ``1e-6 x initial
  capital`` so that a wiped-out account gives a large finite penalty instead of ``-inf``.
* ``return``: ``equity / prev_equity - 1`` (same floor).
* ``pnl``: ``(equity - prev_equity) / initial_capital``.

The built-ins are written once, for arrays and scalars alike: the environment's compiled step
(:mod:`arena_gym.env.compiled`) runs these same functions per account. Any callable with the
batch signature may be passed as ``reward=``; the environment then calls it after each step.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
EQUITY_FLOOR = 1e-6


def log_return(prev_equity: np.ndarray, equity: np.ndarray, initial_capital: np.ndarray) -> np.ndarray:
    floor = EQUITY_FLOOR * initial_capital
    return np.log(np.maximum(equity, floor) / np.maximum(prev_equity, floor))


def simple_return(prev_equity: np.ndarray, equity: np.ndarray, initial_capital: np.ndarray) -> np.ndarray:
    floor = EQUITY_FLOOR * initial_capital
    return np.maximum(equity, floor) / np.maximum(prev_equity, floor) - 1.0


def pnl(prev_equity: np.ndarray, equity: np.ndarray, initial_capital: np.ndarray) -> np.ndarray:
    return (equity - prev_equity) / initial_capital


REWARDS: dict[str, RewardFn] = {"log_return": log_return, "return": simple_return, "pnl": pnl}


def reward_function(spec: str | RewardFn) -> RewardFn:
    if callable(spec):
        return spec
    if spec not in REWARDS:
        raise ValueError(f"unknown reward {spec!r}; available: {sorted(REWARDS)} or a callable")
    return REWARDS[spec]
