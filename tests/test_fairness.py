"""One evaluation, one env configuration: a policy trained under other settings moves the
field for everyone (and the tables say so) or is refused with a way to run it; never mixed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arena_gym.env.config import EnvConfig
from arena_gym.campaigns.arena_campaign import ArenaPlan, run_arena, shared_config
from arena_gym.agents.baselines import make_baseline
from arena_gym.agents.policies import CallablePolicy

from markets import random_market

TARGET = {"action_mode": "target", "observation_mode": "numeric"}


def trained_like(name: str, **fields) -> CallablePolicy:
    """A stand-in for a model saved with ``fields`` (as SB3Policy carries its training env)."""
    return CallablePolicy(lambda obs, info: np.zeros(3, np.float32), name=name, env_overrides={**TARGET, **fields})


def test_a_trained_policys_fields_move_for_the_whole_field():
    config = EnvConfig(episode_length=12, leverage_cap=3.0, deadband=0.02)
    policies = [trained_like("ppo", bars_per_decision=4, leverage_cap=1.0, deadband=0.05, lookback=8),
                make_baseline("random")]
    moved_config, moved = shared_config(policies, config)
    assert (moved_config.bars_per_decision, moved_config.leverage_cap, moved_config.deadband) == (4, 1.0, 0.05)
    assert moved_config.lookback == config.lookback  # an interface field stays the policy's own
    assert moved == {"bars_per_decision": {"from": 1, "to": 4, "for": ["ppo"]},
                     "leverage_cap": {"from": 3.0, "to": 1.0, "for": ["ppo"]},
                     "deadband": {"from": 0.02, "to": 0.05, "for": ["ppo"]},
                     "episode_length": {"from": 12, "to": 3, "for": ["ppo"]}}  # the same 12 hours
    assert moved_config.episode_length == 3


def test_policies_needing_different_settings_are_refused_with_how_to_run_them():
    policies = [trained_like("fast", bars_per_decision=1), trained_like("slow", bars_per_decision=4)]
    with pytest.raises(ValueError, match=r"cannot play one evaluation.*fast needs bars_per_decision=1.*"
                                         r"slow needs bars_per_decision=4.*--set bars_per_decision="):
        shared_config(policies, EnvConfig())


def test_every_episode_is_played_under_the_stated_config(tmp_path):
    market = random_market(0, n_bars=900)
    config = EnvConfig(episode_length=24, leverage_cap=3.0)
    policies = [trained_like("ppo", bars_per_decision=2, leverage_cap=1.0), make_baseline("random"),
                make_baseline("buy_and_hold")]
    summary = run_arena(market, config, policies, tmp_path, ArenaPlan(n_windows=3, seeds=(0,)), progress=False,
                        n_boot=50)
    plan = json.loads((tmp_path / "config.json").read_text())
    assert plan["env"]["bars_per_decision"] == 2 and plan["env"]["leverage_cap"] == 1.0
    assert set(plan["moved_fields"]) == {"bars_per_decision", "leverage_cap", "episode_length"}
    steps = pd.read_parquet(tmp_path / "steps.parquet")
    for _, episode in steps.groupby(["policy", "window", "seed"]):  # 12 decisions of 2 bars for everyone
        assert len(episode) == 12 and (np.diff(episode["bar"]) == 2).all()
    line = summary["env_line"]
    assert "a decision every 2 bar(s)" in line and "leverage_cap 1.0" in line
    assert "bars_per_decision 1 -> 2 (for ppo)" in line and "leverage_cap 3.0 -> 1.0 (for ppo)" in line
    assert "leverage_cap 3.0 -&gt; 1.0" in summary["paths"]["html"].read_text()
