"""PPO hyperparameter and seed sweeps on Ray Tune (the ``ray`` extra; ``arena-gym sweep``).

A sweep file (``policies/ppo-sweep.toml``) names the PPO preset it starts from, how many
configurations to draw from its ``[space]`` (distributions over ``[ppo]`` keys), and the seeds:
every configuration is trained once per seed, so configurations are compared on the mean over
seeds and the best one comes with a model per seed. Each trial is
:func:`~arena_gym.training.ppo_training.train_ppo` on the train split, selected on the validation
split; the test split stays held out for ``arena-gym arena``.

Sweep folder ``out``:

=========================  ================================================================
``sweep.json``             the sweep file read, the configurations drawn, the splits
``trials/c<i>-s<seed>/``   each trial's training folder: ``best_model.zip`` and its config
                           JSON, ``model.zip``, ``checkpoints/``, ``validation.csv``
``tune/``                  Tune's experiment state (rerunning the command restores it)
``trials.csv``             one row per trial: configuration, seed, hyperparameters,
                           best validation mean total return, timesteps it was reached at
``configs.csv``            one row per configuration: mean and spread over its seeds
``best.json``              the best trial and the best configuration's models as policy
                           specs for ``arena-gym arena --add`` (or ``--add-sweep out``)
=========================  ================================================================

Distributions in ``[space]``: ``{ choice = [...] }``, ``{ uniform = [low, high] }``,
``{ loguniform = [low, high] }``, ``{ randint = [low, high] }`` (high excluded), or a plain
value (fixed). They are drawn with Tune's samplers from ``sample_seed``, so a sweep file names
the same configurations on every machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData
from arena_gym.preset_files import policies_dir, preset_path, read_toml

from arena_gym.evaluation.splits import Splits

#: The metric trials report and the sweep selects on (higher is better).
METRIC = "validation_mean_total_return"
SWEEP_KEYS = ("preset", "samples", "seeds", "sample_seed", "cpus_per_trial", "max_concurrent", "train", "space")
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")


def load_sweep(name_or_path: str | Path) -> dict[str, Any]:
    """A sweep file (``policies/<name>.toml`` or a path), checked, with defaults filled in."""
    path = preset_path(name_or_path, policies_dir(), "sweep file")
    data = read_toml(path)
    unknown = sorted(set(data) - set(SWEEP_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; a sweep file has {list(SWEEP_KEYS)}")
    sweep = {"preset": "ppo", "samples": 4, "seeds": [0], "sample_seed": 0, "cpus_per_trial": 1,
             "max_concurrent": 0, "train": {}, "space": {}, **data, "path": str(path)}
    if int(sweep["samples"]) < 1 or not sweep["seeds"]:
        raise ValueError(f"{path}: need samples >= 1 and at least one seed")
    for key, spec in sweep["space"].items():
        if isinstance(spec, dict) and (len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS):
            raise ValueError(f"{path}: [space] {key} = {spec}; use one of {list(DISTRIBUTIONS)}, e.g. "
                             f"{{ choice = [0.9, 0.99] }}, or a plain value")
    return sweep


def draw_configurations(space: Mapping[str, Any], samples: int, seed: int) -> list[dict[str, Any]]:
    """``samples`` hyperparameter dicts drawn from ``space`` with Tune's samplers."""
    from ray import tune

    rng = np.random.default_rng(seed)
    makers = {"choice": lambda v: tune.choice(list(v)), "uniform": lambda v: tune.uniform(*v),
              "loguniform": lambda v: tune.loguniform(*v), "randint": lambda v: tune.randint(*v)}
    out = []
    for _ in range(samples):
        drawn = {}
        for key, spec in space.items():
            if isinstance(spec, dict):
                kind, value = next(iter(spec.items()))
                drawn[key] = makers[kind](value).sample(random_state=rng)
            else:
                drawn[key] = spec
        out.append({k: v.item() if isinstance(v, np.generic) else v for k, v in drawn.items()})
    return out


def trial_folder(out_dir: Path, config_id: int, seed: int) -> Path:
    return out_dir / "trials" / f"c{config_id:02d}-s{seed}"


def _train_trial(params: dict[str, Any], *, market: MarketData, config: EnvConfig, splits: Splits,
                 preset: dict[str, Any], configurations: list[dict[str, Any]], train: dict[str, Any],
                 out_dir: str) -> None:
    """A Tune trial: train PPO with configuration ``params["config_id"]`` and ``params["seed"]``."""
    from ray import tune

    from .ppo_training import train_ppo

    config_id, seed = int(params["config_id"]), int(params["seed"])
    trial_preset = {**preset, "ppo": {**preset.get("ppo", {}), **configurations[config_id]},
                    "train": {**preset.get("train", {}), **train}}
    folder = trial_folder(Path(out_dir), config_id, seed)
    model = train_ppo(market, config, splits, folder, trial_preset, seed=seed, log=None)
    meta = json.loads(model.with_suffix(".json").read_text())
    tune.report({METRIC: float(meta["validation_mean_total_return"]),
                 "selected_at_timesteps": int(meta["selected_at_timesteps"]),
                 "train_seconds": float(meta.get("train_seconds", float("nan"))), "model": str(model)})


def run_sweep(market: MarketData, config: EnvConfig, splits: Splits, sweep: dict[str, Any], out_dir: str | Path,
              *, address: str | None = None, verbose: int = 0, progress: bool = True,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the sweep into ``out_dir`` and write its tables.

    Args:
        market, config, splits: what every trial trains on (``config`` as in ``arena-gym train``).
        sweep: :func:`load_sweep`'s result.
        address: an existing Ray cluster; default: the one joined, else a local one.
        verbose: Tune's progress display (0: none, Tune's status tables from 1) and, from 1,
            Ray's info logs.
        progress: log one line as each trial starts and finishes.
        log: receives the progress lines and the note that a sweep resumes.

    Returns:
        ``trials`` and ``configs`` frames and ``best`` (the content of ``best.json``).
    """
    from ray import tune

    from arena_gym.ray_cluster import connect
    from .ppo_training import load_policy_preset

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    configurations = _configurations(out_dir, sweep, splits)
    preset = load_policy_preset(sweep["preset"])
    connect(address, verbose=verbose > 0)
    trainable = tune.with_resources(
        tune.with_parameters(_train_trial, market=market, config=config, splits=splits, preset=preset,
                             configurations=configurations, train=dict(sweep["train"]), out_dir=str(out_dir)),
        {"cpu": float(sweep["cpus_per_trial"])})
    param_space = {"config_id": tune.grid_search(list(range(len(configurations)))),
                   "seed": tune.grid_search([int(s) for s in sweep["seeds"]])}
    experiment = out_dir / "tune"
    callbacks = [_trial_lines(log, len(configurations) * len(sweep["seeds"]))] if progress else []
    if tune.Tuner.can_restore(str(experiment)):
        log(f"Resuming the sweep in {out_dir}")
        tuner = tune.Tuner.restore(str(experiment), trainable=trainable, resume_errored=True, param_space=param_space)
    else:
        tuner = tune.Tuner(
            trainable, param_space=param_space,
            tune_config=tune.TuneConfig(metric=METRIC, mode="max",
                                        max_concurrent_trials=int(sweep["max_concurrent"]) or None,
                                        trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(name="tune", storage_path=str(out_dir), verbose=verbose, callbacks=callbacks))
    if verbose == 0:   # Tune's newer console output prints an experiment table even at verbose 0; its classic one is silent
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    grid = tuner.fit()
    return write_tables(out_dir, grid.get_dataframe(), configurations)


def _trial_lines(log: Callable[[str], None], n_trials: int) -> Any:
    """A Tune callback that logs one line as each trial starts and finishes or fails."""
    from ray import tune

    class TrialLines(tune.Callback):
        finished = 0

        def on_trial_start(self, iteration, trials, trial, **info):
            log(f"  trial {_trial_name(trial)} started")

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.finished += 1
            value = (trial.last_result or {}).get(METRIC)
            shown = f"{METRIC} {value:+.2%}" if value is not None else "no result"
            log(f"  trial {_trial_name(trial)} done: {shown} ({self.finished} of {n_trials} trials done)")

        def on_trial_error(self, iteration, trials, trial, **info):
            self.finished += 1
            log(f"  trial {_trial_name(trial)} failed ({self.finished} of {n_trials} trials done); see its folder")

    return TrialLines()


def _trial_name(trial: Any) -> str:
    return f"c{trial.config['config_id']:02d}-s{trial.config['seed']}"


def _configurations(out_dir: Path, sweep: dict[str, Any], splits: Splits) -> list[dict[str, Any]]:
    """The configurations of this sweep: drawn once, then read back from ``sweep.json``."""
    path = out_dir / "sweep.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved["sweep"] != json.loads(json.dumps(sweep)):
            raise ValueError(f"{out_dir} holds a sweep from another sweep file or settings; resume it with the "
                             f"same file, or write to another folder")
        return saved["configurations"]
    configurations = draw_configurations(sweep["space"], int(sweep["samples"]), int(sweep["sample_seed"]))
    path.write_text(json.dumps({"sweep": sweep, "configurations": configurations, "splits": splits.as_dict()},
                               indent=2, default=str))
    return configurations


def write_tables(out_dir: Path, results: Any, configurations: list[dict[str, Any]]) -> dict[str, Any]:
    """``trials.csv``, ``configs.csv`` and ``best.json`` from Tune's results frame."""
    import pandas as pd

    rows = []
    for _, r in results.iterrows():
        config_id, seed = int(r["config/config_id"]), int(r["config/seed"])
        row = {"config": config_id, "seed": seed, **configurations[config_id]}
        value = r.get(METRIC)
        row.update({METRIC: float(value) if value is not None else float("nan"),
                    "selected_at_timesteps": r.get("selected_at_timesteps"),
                    "train_seconds": r.get("train_seconds"),
                    "model": r.get("model") if isinstance(r.get("model"), str) else None})
        rows.append(row)
    trials = pd.DataFrame(rows).sort_values(["config", "seed"], ignore_index=True)
    trials.to_csv(out_dir / "trials.csv", index=False)
    done = trials[trials["model"].notna()]
    configs = (done.groupby("config")[METRIC].agg(["mean", "std", "min", "count"])
               .rename(columns=lambda c: f"{c}_{METRIC}" if c != "count" else "seeds_done")
               .sort_values(f"mean_{METRIC}", ascending=False))
    configs.to_csv(out_dir / "configs.csv")
    best: dict[str, Any] = {"metric": METRIC, "trials": len(trials), "trials_done": len(done)}
    if len(done):
        top = done.loc[done[METRIC].idxmax()]
        best["best_trial"] = {"config": int(top["config"]), "seed": int(top["seed"]), METRIC: float(top[METRIC]),
                              "spec": f"ppo-c{int(top['config'])}-s{int(top['seed'])}=ppo:{top['model']}"}
        best_config = int(configs.index[0])
        members = done[done["config"] == best_config]
        best["best_config"] = {"config": best_config, "hyperparameters": configurations[best_config],
                               f"mean_{METRIC}": float(members[METRIC].mean()),
                               "specs": [f"ppo-c{best_config}-s{int(m['seed'])}=ppo:{m['model']}"
                                         for _, m in members.iterrows()]}
    (out_dir / "best.json").write_text(json.dumps(best, indent=2))
    return {"trials": trials, "configs": configs, "best": best}


def sweep_specs(out_dir: str | Path, every_seed: bool = True) -> list[str]:
    """Policy specs from a finished sweep's ``best.json``: every seed of the best configuration,
    or only the best trial."""
    path = Path(out_dir) / "best.json"
    if not path.is_file():
        raise FileNotFoundError(f"{out_dir} holds no finished sweep (best.json is missing); run 'arena-gym sweep'")
    best = json.loads(path.read_text())
    if "best_config" not in best:
        raise ValueError(f"{out_dir}: no trial of the sweep finished")
    return list(best["best_config"]["specs"]) if every_seed else [best["best_trial"]["spec"]]
