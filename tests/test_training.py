"""Time splits, evaluation windows, and a short PPO run saved with its config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from arena_gym.env import EnvConfig
from arena_gym.agents.policies import SB3Policy
from arena_gym.evaluation.splits import evaluation_windows, minimum_gap, split_config, time_splits, valid_starts
from arena_gym.training.ppo_training import load_policy_preset, train_ppo
from arena_gym.market.indicators import WARMUP_BARS
from arena_gym.market.synthetic import synthetic_market

TINY_PRESET = {
    "ppo": {"n_steps": 32, "batch_size": 64, "n_epochs": 1, "net_arch": [16], "log_std_init": -1.0},
    "train": {"num_envs": 4, "seed": 0, "eval_every": 128, "eval_windows": 2, "checkpoint_every": 128},
    "env": {"episode_length": 12, "bars_per_decision": 2},
}


def test_time_splits_by_hand():
    splits = time_splits(1000, (0.6, 0.2, 0.2), lookback=16)
    gap = 16 + WARMUP_BARS                                   # 66 bars between splits
    usable = 1000 - 2 * gap                                  # 868
    assert splits.train == (0, round(0.6 * usable)) == (0, 521)
    assert splits.validation == (521 + gap, 521 + gap + round(0.2 * usable)) == (587, 761)
    assert splits.test == (761 + gap, 1000) == (827, 1000)
    assert minimum_gap(16) == gap
    with pytest.raises(ValueError, match="shorter than lookback"):
        time_splits(1000, lookback=16, gap=10)
    with pytest.raises(ValueError, match="three positive shares"):
        time_splits(1000, (0.5, 0.5, 0.5))


def test_windows_are_seeded_distinct_and_stay_inside_their_split():
    market = synthetic_market(n_bars=1500, seed=2)
    config = EnvConfig(episode_length=24, bars_per_decision=2)
    splits = time_splits(market.n_bars, lookback=config.lookback)
    test = split_config(config, splits, "test")
    windows = evaluation_windows(market, test, 10, seed=4)
    assert windows == evaluation_windows(market, test, 10, seed=4)
    assert windows != evaluation_windows(market, test, 10, seed=5)
    assert len(set(windows)) == 10 and windows == sorted(windows)
    first, last = valid_starts(market, test)
    assert first == splits.test[0] + config.lookback - 1            # the lookback window starts in the split
    assert first <= windows[0] and windows[-1] + 24 * 2 <= splits.test[1] - 1 and last == splits.test[1] - 1 - 48
    with pytest.raises(ValueError, match="only"):
        evaluation_windows(market, test, last - first + 2)


def test_short_ppo_run_saves_models_checkpoints_and_config(tmp_path):
    market = synthetic_market(n_bars=1500, seed=1)
    splits = time_splits(market.n_bars)
    best = train_ppo(market, EnvConfig(), splits, tmp_path, TINY_PRESET, total_timesteps=256, log=None)
    assert best == tmp_path / "best_model.zip" and best.is_file() and (tmp_path / "model.zip").is_file()
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.zip")) == ["ppo_128_steps.zip",
                                                                                "ppo_256_steps.zip"]
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["algorithm"] == "PPO" and meta["total_timesteps"] == 256
    assert meta["policy_env"]["bars_per_decision"] == 2 and meta["env"]["episode_length"] == 12
    assert meta["splits"]["train"][1] + meta["splits"]["gap"] == meta["splits"]["validation"][0]
    assert [v["timesteps"] for v in meta["validation"]] == [128, 256]
    best_meta = json.loads((tmp_path / "best_model.json").read_text())
    returns = [v["mean_total_return"] for v in meta["validation"]]
    assert best_meta["validation_mean_total_return"] == max(returns)
    policy = SB3Policy.load(best)
    assert policy.env_overrides["bars_per_decision"] == 2
    obs = np.zeros(policy.model.observation_space.shape, np.float32)
    action = policy.act(obs, {})
    assert action.shape == (6,) and np.all(np.abs(action) <= 1)
    np.testing.assert_array_equal(action, policy.act(obs, {}))           # deterministic


def test_missing_presets_and_model_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no policy preset 'ppo-huge'.*ppo"):
        load_policy_preset("ppo-huge")
    (tmp_path / "other.zip").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="no model file .*model.zip; model files in .*other.zip"):
        SB3Policy.load(tmp_path / "model.zip")


def test_hyperparameter_overrides_and_tensorboard_logs(tmp_path):
    market = synthetic_market(n_bars=1500, seed=1)
    splits = time_splits(market.n_bars)
    best = train_ppo(market, EnvConfig(), splits, tmp_path / "run", TINY_PRESET, total_timesteps=256, log=None,
                     ppo_overrides={"learning_rate": 1e-3, "net_arch": [8]}, tensorboard_log=tmp_path / "tb")
    model = SB3Policy.load(best).model
    assert model.learning_rate == 1e-3
    assert [layer.out_features for layer in model.policy.mlp_extractor.policy_net if hasattr(layer, "out_features")] == [8]
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    meta = json.loads((tmp_path / "run" / "best_model.json").read_text())
    assert meta["ppo_overrides"] == {"learning_rate": 1e-3, "net_arch": [8]}
    with pytest.raises(ValueError, match="bogus"):
        train_ppo(market, EnvConfig(), splits, tmp_path / "bad", TINY_PRESET, total_timesteps=256, log=None,
                  ppo_overrides={"bogus": 1})
