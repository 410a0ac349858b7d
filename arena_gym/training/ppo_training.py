"""Train PPO (Stable-Baselines3) on the train split, select it on the validation split.

Hyperparameters come from a policy preset, ``policies/ppo.toml``::

    [ppo]      # keyword arguments of stable_baselines3.PPO (net_arch / log_std_init go to
               # policy_kwargs)
    [train]    # total_timesteps, num_envs, seed, torch_threads, eval_every, eval_windows,
               # checkpoint_every (timesteps)
    [env]      # EnvConfig fields the model is trained and evaluated with

Training runs on :class:`~arena_gym.env.sb3.SB3VecEnv` (all accounts in one process, stepped
as one batch) wrapped in ``VecMonitor``, over the ``train`` split with random starts. Every
``eval_every`` timesteps the deterministic policy plays the same ``eval_windows`` fixed windows
of the ``validation`` split; the model with the best mean total return there is kept as
``best_model.zip``. Output folder:

==========================================  ======================================================
``model.zip`` / ``model.json``              the final model and its config
``best_model.zip`` / ``best_model.json``    the best model on validation and its config
``checkpoints/ppo_<steps>_steps.zip``       periodic checkpoints
``validation.csv``                          timesteps, mean total return, mean Sharpe per validation
==========================================  ======================================================

The config JSON holds the algorithm, the env fields the model needs at evaluation
(``policy_env``), the full env config, the splits, the market, the preset, the seed and the
library versions; :meth:`~arena_gym.agents.policies.SB3Policy.load` reads it.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData
from arena_gym.preset_files import policies_dir, preset_names, preset_path, read_toml

from arena_gym.agents.policies import SB3Policy, model_config_path
from arena_gym.evaluation.runner import EpisodeKey, market_summary, play_episode
from arena_gym.evaluation.splits import Splits, evaluation_windows, split_config

#: EnvConfig fields that shape a model's observations and actions; saved with the model and
#: applied when it is evaluated.
POLICY_ENV_FIELDS = ("assets", "lookback", "bars_per_decision", "action_mode", "observation_mode", "leverage_cap",
                     "deadband")
PRESET_TABLES = ("ppo", "train", "env")
TRAIN_KEYS = ("total_timesteps", "num_envs", "seed", "torch_threads", "eval_every", "eval_windows",
              "checkpoint_every")


def load_policy_preset(name_or_path: str | Path) -> dict[str, Any]:
    """A policy preset TOML (``policies/<name>.toml`` or a path), with its ``path`` added.

    Raises:
        FileNotFoundError: when the name matches no preset (listing those that exist) or a
            ``.toml`` path does not exist.
        ValueError: on unknown tables or ``[train]`` keys.
    """
    folder = policies_dir()
    try:
        path = preset_path(name_or_path, folder, "policy preset")
    except ValueError:
        raise FileNotFoundError(f"no policy preset {str(name_or_path)!r}; presets in {folder}: "
                                f"{', '.join(preset_names(folder)) or '(none)'}") from None
    data = read_toml(path)
    unknown = sorted(set(data) - set(PRESET_TABLES))
    if unknown:
        raise ValueError(f"{path}: unknown tables {unknown}; a PPO preset has {list(PRESET_TABLES)}")
    bad = sorted(set(data.get("train", {})) - set(TRAIN_KEYS))
    if bad:
        raise ValueError(f"{path}: unknown [train] keys {bad}; known: {list(TRAIN_KEYS)}")
    data["path"] = str(path)
    return data


def policy_env(config: EnvConfig) -> dict[str, Any]:
    """The fields of ``config`` a model depends on (:data:`POLICY_ENV_FIELDS`), JSON-friendly."""
    out = {}
    for name in POLICY_ENV_FIELDS:
        value = getattr(config, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _versions() -> dict[str, str]:
    import stable_baselines3
    import torch

    import arena_gym

    return {"stable_baselines3": stable_baselines3.__version__, "torch": torch.__version__,
            "arena_gym": getattr(arena_gym, "__version__", "unknown")}


def _save_model(model: Any, path: Path, meta: dict[str, Any]) -> Path:
    model.save(path)
    model_config_path(path).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return path


def train_ppo(
    market: MarketData,
    config: EnvConfig,
    splits: Splits,
    out_dir: str | Path,
    preset: str | Path | dict[str, Any] = "ppo",
    *,
    total_timesteps: int | None = None,
    seed: int | None = None,
    ppo_overrides: dict[str, Any] | None = None,
    tensorboard_log: str | Path | None = None,
    progress_bar: bool = False,
    log: Callable[[str], None] | None = print,
) -> Path:
    """Train PPO on ``splits.train`` and return the path of the model to evaluate.

    Args:
        market: the market to train on (the splits cut its bars).
        config: the env config; the preset's ``[env]`` table overrides its fields.
        splits: train / validation / test ranges (see :func:`~arena_gym.evaluation.splits.time_splits`).
        out_dir: folder for models, checkpoints and the validation log.
        preset: policy preset name, path, or an already loaded preset dict.
        total_timesteps: overrides ``[train].total_timesteps``.
        seed: overrides ``[train].seed``.
        ppo_overrides: keyword arguments of ``stable_baselines3.PPO`` replacing the preset's
            ``[ppo]`` values (``net_arch`` and ``log_std_init`` included), e.g. ``{"n_steps": 128}``.
        tensorboard_log: folder for TensorBoard event files (SB3's ``tensorboard_log``; needs
            the ``tensorboard`` package of the rl extra); ``None`` writes none.
        progress_bar: show SB3's progress bar (tqdm and rich, in the rl extra).
        log: receives one line per validation (``None``: silent).

    Returns:
        the path of ``best_model.zip``, the model with the best mean validation return (the
        final model is validated too, so it competes).
    """
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
    from stable_baselines3.common.vec_env import VecMonitor

    from arena_gym.env.sb3 import SB3VecEnv

    preset = preset if isinstance(preset, dict) else load_policy_preset(preset)
    hyper = {**preset.get("ppo", {}), **(ppo_overrides or {})}
    train = dict(preset.get("train", {}))
    config = replace(config, **{k: tuple(v) if isinstance(v, list) else v for k, v in preset.get("env", {}).items()})
    total = int(total_timesteps if total_timesteps is not None else train.get("total_timesteps", 100_000))
    seed = int(seed if seed is not None else train.get("seed", 0))
    num_envs = int(train.get("num_envs", 16))
    eval_every = int(train.get("eval_every", max(total // 4, 1)))
    checkpoint_every = int(train.get("checkpoint_every", max(total // 2, 1)))
    torch.set_num_threads(int(train.get("torch_threads", 1)))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    policy_kwargs = {}
    if "net_arch" in hyper:
        policy_kwargs["net_arch"] = list(hyper.pop("net_arch"))
    if "log_std_init" in hyper:
        policy_kwargs["log_std_init"] = float(hyper.pop("log_std_init"))
    train_config = replace(split_config(config, splits, "train"), start="random")
    val_config = split_config(config, splits, "validation")
    val_windows = evaluation_windows(market, val_config, int(train.get("eval_windows", 8)), seed=seed)
    venv = VecMonitor(SB3VecEnv(num_envs, market, train_config))
    venv.seed(seed)
    try:
        model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, policy_kwargs=policy_kwargs,
                    tensorboard_log=None if tensorboard_log is None else str(tensorboard_log), **hyper)
    except TypeError as err:  # an unknown hyperparameter name: say which are known
        venv.close()
        raise ValueError(f"PPO does not take these settings ({err}); see the keyword arguments of "
                         f"stable_baselines3.PPO") from None
    meta = {"algorithm": "PPO", "name": "ppo", "policy_env": policy_env(config), "env": config.as_dict(),
            "splits": splits.as_dict(), "market": market_summary(market),
            "preset": {k: v for k, v in preset.items() if k != "path"}, "preset_path": preset.get("path"),
            "seed": seed, "total_timesteps": total, "ppo_overrides": dict(ppo_overrides or {}),
            "validation_windows": val_windows, "versions": _versions()}
    history: list[dict[str, float]] = []
    best = {"return": -np.inf, "timesteps": None}

    def validate(timesteps: int) -> None:
        policy = SB3Policy(model, env_overrides=meta["policy_env"])
        results = [play_episode(policy, market, val_config, EpisodeKey("ppo", i, start, seed))[0]
                   for i, start in enumerate(val_windows)]
        mean_return = float(np.mean([r["total_return"] for r in results]))
        mean_sharpe = float(np.mean([r["sharpe"] for r in results]))
        history.append({"timesteps": timesteps, "mean_total_return": mean_return, "mean_sharpe": mean_sharpe})
        if mean_return > best["return"]:
            best.update({"return": mean_return, "timesteps": timesteps})
            _save_model(model, out_dir / "best_model.zip",
                        {**meta, "selected_at_timesteps": timesteps, "validation_mean_total_return": mean_return})
        if log is not None:
            log(f"  {timesteps:>9,d} steps: validation mean return {mean_return:+.2%}, Sharpe {mean_sharpe:+.2f} "
                f"(best {best['return']:+.2%} at {best['timesteps']:,d})")

    class Validation(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_at = eval_every

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_at and self.next_at < total:  # the end is validated after learn
                self.next_at += eval_every
                validate(self.num_timesteps)
            return True

    checkpoints = CheckpointCallback(save_freq=max(checkpoint_every // num_envs, 1),
                                     save_path=str(out_dir / "checkpoints"), name_prefix="ppo")
    t0 = time.perf_counter()
    model.learn(total_timesteps=total, callback=CallbackList([checkpoints, Validation()]), tb_log_name="ppo",
                progress_bar=progress_bar)
    meta["train_seconds"] = round(time.perf_counter() - t0, 1)
    if not history or history[-1]["timesteps"] != model.num_timesteps:
        validate(model.num_timesteps)
    meta["validation"] = history
    _save_model(model, out_dir / "model.zip", meta)
    best_meta = json.loads(model_config_path(out_dir / "best_model.zip").read_text())
    best_meta.update({"validation": history, "train_seconds": meta["train_seconds"]})
    model_config_path(out_dir / "best_model.zip").write_text(json.dumps(best_meta, indent=2, default=str))
    import pandas as pd

    pd.DataFrame(history).to_csv(out_dir / "validation.csv", index=False)
    venv.close()
    return out_dir / "best_model.zip"
