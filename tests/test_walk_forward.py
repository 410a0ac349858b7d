"""Walk-forward PPO never reads a bar at or after the training cut."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym.env.config import EnvConfig
from arena_gym.training.walk_forward import train_walk_forward, walk_forward_splits
from arena_gym.market.synthetic import synthetic_market

CUT = "2025-02-20T00:00"
TINY = {"ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16]},
        "train": {"total_timesteps": 256, "num_envs": 2, "seed": 3, "torch_threads": 1, "eval_every": 128,
                  "eval_windows": 2, "checkpoint_every": 256},
        "env": {"episode_length": 24, "action_mode": "target", "observation_mode": "numeric"}}


def altered_after(market, cut):
    """The same market with every bar at or after ``cut`` changed (prices x 1.3, other funding)."""
    i = int(np.searchsorted(market.timestamps, np.datetime64(pd.Timestamp(cut).tz_localize(None), "ns")))
    def bump(a, f):
        a = a.copy()
        a[i:] = a[i:] * f
        return a
    fields = {k: bump(getattr(market, k), 1.3) for k in ("open", "high", "low", "close")}
    fields["funding_rate"] = bump(market.funding_rate, -2.0)
    fields["volume"] = bump(market.volume, 0.5)
    return replace(market, **fields)


def test_splits_end_before_the_cut():
    market = synthetic_market(seed=2, n_bars=24 * 90)
    wf = walk_forward_splits(market, CUT, validation_days=7)
    assert wf.market.n_bars == int(np.searchsorted(market.timestamps, np.datetime64("2025-02-20")))
    assert wf.splits.validation[1] == wf.market.n_bars and wf.splits.train[1] + wf.splits.gap == wf.splits.validation[0]
    with pytest.raises(ValueError, match="not enough"):
        walk_forward_splits(market, "2025-01-05", validation_days=7)


def test_changing_bars_at_or_after_the_cut_leaves_the_model_bit_identical(tmp_path: Path):
    torch = pytest.importorskip("torch")
    from stable_baselines3 import PPO

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    market = synthetic_market(seed=2, n_bars=24 * 90)
    other = altered_after(market, CUT)
    assert not np.array_equal(market.close, other.close)
    config = EnvConfig(exchange="alpha-arena-s1", margin_mode="isolated")
    paths = [train_walk_forward(m, config, CUT, tmp_path / name, TINY, validation_days=7, log=None)
             for m, name in ((market, "a"), (other, "b"))]
    a, b = (PPO.load(p, device="cpu").policy.state_dict() for p in paths)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    lines: list[str] = []
    assert train_walk_forward(other, config, CUT, tmp_path / "a", TINY, log=lines.append) == paths[0]
    assert lines[0].startswith("reusing")
    (tmp_path / "a" / "model.zip").unlink()              # as if the training had been interrupted
    lines.clear()
    train_walk_forward(market, config, CUT, tmp_path / "a", TINY, validation_days=7, log=lines.append)
    assert lines[0].startswith("training PPO walk-forward")
