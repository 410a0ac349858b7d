"""The vector env's threaded step (``num_threads``) and the compiled entry points' one-signature lock."""

from __future__ import annotations

import numpy as np
import pytest

from arena_gym.env import PerpVectorEnv
from arena_gym.exchange.engine import CompiledEntry
from arena_gym.market import synthetic_market


@pytest.fixture(scope="module")
def market():
    return synthetic_market(n_bars=600, seed=3)


def run(market, num_threads: int, steps: int = 40) -> list[tuple]:
    env = PerpVectorEnv(16, market, num_threads=num_threads, episode_length=12, autoreset_mode="same_step")
    obs, _ = env.reset(seed=7)
    actions = np.random.default_rng(11).uniform(-1.5, 1.5, size=(steps, 16, market.n_assets)).astype(np.float32)
    out = [(obs,)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        out.append((obs, reward, terminated, truncated, info["equity"], info["fills"], info["gross_leverage"],
                    info["orders_scaled_by_margin"]))
    return out


def test_two_threads_give_the_numbers_of_one(market):
    one, two = run(market, 1), run(market, 2)
    for step_one, step_two in zip(one, two):
        for x, y in zip(step_one, step_two):
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12)
    assert any(s[2].any() or s[3].any() for s in one[1:])     # episodes ended and restarted within the run


def test_threads_need_the_ledger_off_and_a_positive_count(market):
    with pytest.raises(ValueError, match="ledger"):
        PerpVectorEnv(4, market, num_threads=2, ledger="fills", episode_length=12)
    with pytest.raises(ValueError, match="num_threads"):
        PerpVectorEnv(4, market, num_threads=0, episode_length=12)


def test_the_observation_is_a_copy_unless_asked_otherwise(market):
    env = PerpVectorEnv(4, market, episode_length=12)
    first, _ = env.reset(seed=0)
    kept = first.copy()
    env.step(env.action_space.sample())
    np.testing.assert_array_equal(first, kept)
    shared = PerpVectorEnv(4, market, copy=False, episode_length=12)
    obs, _ = shared.reset(seed=0)
    again = shared.step(shared.action_space.sample())[0]
    assert again is obs


@pytest.mark.skipif(not hasattr(__import__("arena_gym.exchange.kernel").exchange.kernel.maintenance_margins,
                                "disable_compile"), reason="numba's JIT is disabled: nothing is compiled")
def test_an_entry_point_refuses_a_second_signature_instead_of_compiling_it():
    from numba import njit

    from arena_gym.exchange import kernel

    dispatcher = njit(**kernel.JIT_ENTRY)(kernel.maintenance_margins.py_func)   # a dispatcher of its own
    pos = np.zeros((9, 2, 3))
    tiers = np.zeros((3, 3, 1))
    tiers[1] = 0.01
    entry = CompiledEntry(dispatcher)
    out = np.empty((2, 3))
    entry.run(pos, tiers, np.ones((2, 3)), out)
    signatures = list(dispatcher.signatures)
    with pytest.raises(TypeError):
        entry.run(pos, tiers, np.ones((3, 2)).T, out)        # same values, Fortran layout
    readonly = np.ones((2, 3))
    readonly.setflags(write=False)
    with pytest.raises(TypeError):
        entry.run(pos, tiers, readonly, out)
    assert list(dispatcher.signatures) == signatures
