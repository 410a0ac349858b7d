"""The evaluation runner: identical episodes for every policy, resume after a kill, isolation of
failing policies, concurrency of async policies."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pandas as pd
import pytest
from markets import random_market

from arena_gym.env import EnvConfig
from arena_gym.agents.baselines import EMAMomentum, HoldCash, RandomWeights
from arena_gym.agents.policies import CallablePolicy
from arena_gym.evaluation.runner import LOG_NAME, evaluate, load_results, read_log

CONFIG = EnvConfig(episode_length=12, bars_per_decision=2)
WINDOWS = [60, 90, 140, 200]
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def market():
    return random_market(5, n_bars=300)


def policies():
    return [HoldCash(), RandomWeights(), EMAMomentum()]


class Interrupted(Exception):
    """Stands for the process being killed after some episodes."""


def test_an_interrupted_evaluation_resumes_to_the_uninterrupted_table(market, tmp_path):
    whole = evaluate(policies(), market, CONFIG, WINDOWS, SEEDS, tmp_path / "whole", progress=False)
    assert len(whole) == 3 * 4 * 2 and (whole["status"] == "ok").all()

    def kill_after_five(record):
        if len(read_log(tmp_path / "cut")) == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        evaluate(policies(), market, CONFIG, WINDOWS, SEEDS, tmp_path / "cut", progress=False,
                 on_episode=kill_after_five)
    assert len(read_log(tmp_path / "cut")) == 5
    with open(tmp_path / "cut" / LOG_NAME, "a") as fh:     # a line torn by the kill
        fh.write('{"policy": "random", "win')
    played = []
    resumed = evaluate(policies(), market, CONFIG, WINDOWS, SEEDS, tmp_path / "cut", progress=False,
                       on_episode=played.append)
    assert len(played) == 24 - 5
    pd.testing.assert_frame_equal(resumed, whole)
    lines = (tmp_path / "cut" / LOG_NAME).read_text().splitlines()
    assert len(lines) == 24 and all(json.loads(line) for line in lines)


def test_every_policy_plays_the_same_windows_and_hold_cash_is_exactly_flat(market, tmp_path):
    results = evaluate(policies(), market, CONFIG, WINDOWS, SEEDS, tmp_path, progress=False)
    starts = results.pivot_table(index=["window", "seed"], columns="policy", values="start")
    assert (starts.nunique(axis=1) == 1).all() and sorted(set(results["start"])) == WINDOWS
    hold = results[results["policy"] == "hold_cash"]
    assert (hold["total_return"] == 0).all() and (hold["n_trades"] == 0).all() and (hold["fees_paid"] == 0).all()
    steps = pd.read_parquet(tmp_path / "episodes" / "random" / "w002-s1.steps.parquet")
    assert steps["step"].tolist() == list(range(1, 13))
    assert steps["bar"].tolist() == [140 + 2 * k for k in range(1, 13)]      # two bars per decision
    random_returns = results[results["policy"] == "random"].set_index(["window", "seed"])["total_return"]
    assert random_returns.loc[(0, 0)] != random_returns.loc[(0, 1)]          # the seed reaches the policy


def test_a_raising_policy_is_recorded_and_does_not_sink_the_others(market, tmp_path):
    def explode(observation, info):
        if info["step"] == 3:
            raise RuntimeError("model file corrupt")
        return np.zeros(3, np.float32)

    broken = CallablePolicy(explode, name="broken")
    results = evaluate([broken, HoldCash()], market, CONFIG, WINDOWS, [0], tmp_path, progress=False)
    failed = results[results["policy"] == "broken"]
    assert (failed["status"] == "error").all() and len(failed) == 4
    assert failed["error"].eq("RuntimeError: model file corrupt").all()
    assert (results[results["policy"] == "hold_cash"]["status"] == "ok").all()


def test_resuming_with_another_plan_is_refused(market, tmp_path):
    evaluate([HoldCash()], market, CONFIG, WINDOWS[:2], [0], tmp_path, progress=False)
    with pytest.raises(ValueError, match="different windows"):
        evaluate([HoldCash()], market, CONFIG, WINDOWS[:3], [0], tmp_path, progress=False)
    with pytest.raises(ValueError, match="unique"):
        evaluate([HoldCash(), HoldCash()], market, CONFIG, WINDOWS[:2], [0], tmp_path, progress=False)


class SlowAsyncEMA(EMAMomentum):
    """EMA momentum answering after a pause, like a remote model; counts episodes in flight."""

    name = "slow_ema"
    in_flight = 0
    most_in_flight = 0

    def reset(self, seed=None):
        type(self).in_flight += 1
        type(self).most_in_flight = max(type(self).most_in_flight, type(self).in_flight)

    async def aact(self, observation, info):
        await asyncio.sleep(0.002)
        action = self.act(observation, info)
        if info["step"] == CONFIG.episode_length - 1:
            type(self).in_flight -= 1
        return action


def test_async_policies_play_windows_concurrently_with_the_same_results(market, tmp_path):
    sync = evaluate([EMAMomentum()], market, CONFIG, WINDOWS, SEEDS, tmp_path / "sync", progress=False)
    concurrent = evaluate([SlowAsyncEMA()], market, CONFIG, WINDOWS, SEEDS, tmp_path / "async", progress=False,
                          concurrency=3)
    assert SlowAsyncEMA.most_in_flight == 3
    metrics = [c for c in sync.columns if c not in ("policy",)]
    pd.testing.assert_frame_equal(sync[metrics], concurrent[metrics])
    assert load_results(tmp_path / "async")["policy"].eq("slow_ema").all()
