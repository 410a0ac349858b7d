"""The ray extra on a real local Ray cluster (two CPUs, started once for the module): distributed
evaluation against a local run, resume after kill -9 of the driver, a Tune sweep, RLlib PPO."""

from __future__ import annotations

import json
import os

import pytest

ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'arena-gym[ray]'")

from markets import random_market  # noqa: E402
from processes import kill_once_logged  # noqa: E402

from arena_gym import cli  # noqa: E402
from arena_gym.env import EnvConfig  # noqa: E402
from arena_gym.campaigns.arena_campaign import ArenaPlan, built_policies, run_arena  # noqa: E402
from arena_gym.campaigns.distributed import RayExecutor  # noqa: E402

TABLES = ("results.csv", "metrics.csv", "metrics.json", "metrics_ci.csv", "leaderboard.csv", "leaderboard.json")


@pytest.fixture(scope="module")
def cluster():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def untrained_ppo(tmp_path_factory):
    """An SB3 PPO model file for the default numeric env (untrained: its actions are still a
    deterministic function of the observation, which is what the comparison needs)."""
    from stable_baselines3 import PPO

    from arena_gym.env.sb3 import SB3VecEnv

    market = random_market(5, n_bars=300)
    path = tmp_path_factory.mktemp("model") / "untrained.zip"
    PPO("MlpPolicy", SB3VecEnv(2, market, EnvConfig(episode_length=12, bars_per_decision=2)), n_steps=8,
        batch_size=8, seed=0, device="cpu").save(path)
    return path


def test_a_distributed_evaluation_writes_the_local_run_s_tables_byte_for_byte(cluster, untrained_ppo, tmp_path):
    market = random_market(5, n_bars=600)
    config = EnvConfig(episode_length=12, bars_per_decision=2)
    plan = ArenaPlan(n_windows=4, seeds=(0, 1))
    specs = ["hold_cash", "random", "ema_momentum", "funding_carry", f"ppo:{untrained_ppo}", "llm:mock"]
    with built_policies(specs) as policies:
        run_arena(market, config, policies, tmp_path / "local", plan, progress=False, n_boot=200)
    with built_policies(specs) as policies:
        executor = RayExecutor({p.name: spec for spec, p in zip(specs, policies)}, concurrency=2)
        run_arena(market, config, policies, tmp_path / "ray", plan, progress=False, n_boot=200, executor=executor)
    log = [json.loads(line) for line in (tmp_path / "ray" / "episodes.jsonl").read_text().splitlines()]
    assert len(log) == 6 * 4 * 2 and all(r["status"] == "ok" for r in log)
    for name in TABLES:
        local, distributed = (tmp_path / "local" / name).read_text(), (tmp_path / "ray" / name).read_text()
        # the LLM's wall-clock latency is the one measured, not computed, column
        assert _without_latency(local) == _without_latency(distributed), name
    assert (tmp_path / "local" / "leaderboard.csv").read_bytes() == (tmp_path / "ray" / "leaderboard.csv").read_bytes()
    assert "ppo" in (tmp_path / "ray" / "leaderboard.csv").read_text()


def _without_latency(text: str) -> str:
    """A table without its latency columns (wide tables) and rows (long tables)."""
    if text.lstrip().startswith("["):
        rows = [row for row in json.loads(text) if "latency" not in json.dumps(list(row.values()))]
        return json.dumps([{k: v for k, v in row.items() if "latency" not in k} for row in rows])
    header, *rows = [line.split(",") for line in text.splitlines()]
    keep = [i for i, name in enumerate(header) if "latency" not in name]
    rows = [row for row in rows if not any("latency" in cell for cell in row)]
    return "\n".join(",".join(line[i] for i in keep) for line in [header, *rows])


def test_numeric_tables_match_byte_for_byte_and_a_policy_without_spec_is_shipped_whole(cluster, tmp_path):
    from arena_gym.agents.baselines import EMAMomentum, RandomWeights
    from arena_gym.evaluation.runner import evaluate, load_results

    market = random_market(3, n_bars=200)
    config = EnvConfig(episode_length=10)
    local = evaluate([RandomWeights(), EMAMomentum()], market, config, [40, 90], [0, 3], tmp_path / "l", progress=False)
    remote = evaluate([RandomWeights(), EMAMomentum()], market, config, [40, 90], [0, 3], tmp_path / "r",
                      progress=False, executor=RayExecutor())
    assert local.to_csv() == remote.to_csv() == load_results(tmp_path / "r").to_csv()


def test_a_driver_killed_with_sigkill_resumes_without_replaying_finished_episodes(cluster, tmp_path):
    common = ["eval", "--policy", "random", "--policy", "ema_momentum", "--policy", "funding_carry",
              "--windows", "8", "--seeds", "0,1", "--no-progress", "--set", "episode_length=84"]
    assert cli.main([*common, "--out", str(tmp_path / "local")]) == 0
    distributed = [*common, "--ray-address", cluster, "--out", str(tmp_path / "cut")]
    log = tmp_path / "cut" / "episodes.jsonl"
    killed_at = kill_once_logged(distributed, log, lines=8, timeout=180)
    finished = {(r["policy"], r["window"], r["seed"]) for r in map(json.loads, log.read_text().splitlines()[:-1])}
    assert 8 <= killed_at < 48                                     # 3 policies x 8 windows x 2 seeds
    assert cli.main([*distributed]) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    keys = [(r["policy"], r["window"], r["seed"]) for r in records]
    assert len(keys) == len(set(keys)) == 48                       # nothing finished was played again
    assert finished <= set(keys)
    for name in TABLES:
        assert (tmp_path / "cut" / name).read_text() == (tmp_path / "local" / name).read_text(), name


SMALL_SWEEP = """
preset = "ppo"
samples = 2
seeds = [0]
sample_seed = 1
[train]
total_timesteps = 256
num_envs = 4
eval_every = 256
eval_windows = 2
[space]
learning_rate = { loguniform = [1e-5, 1e-3] }
n_steps = 64
batch_size = 64
n_epochs = 1
"""


def test_a_two_trial_sweep_keeps_every_trial_resumes_and_hands_its_best_to_the_arena(cluster, tmp_path, capsys):
    sweep_file = tmp_path / "small-sweep.toml"
    sweep_file.write_text(SMALL_SWEEP)
    out = tmp_path / "sweep"
    argv = ["sweep", "--sweep", str(sweep_file), "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Trials" in printed and "arena-gym arena --env synthetic --add-sweep" in printed
    import pandas as pd

    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and sorted(trials["config"]) == [0, 1] and trials["learning_rate"].nunique() == 2
    assert trials["validation_mean_total_return"].notna().all()
    for _, trial in trials.iterrows():
        folder = out / "trials" / f"c{trial['config']:02d}-s0"
        assert (folder / "best_model.zip").is_file() and (folder / "best_model.json").is_file()
        meta = json.loads((folder / "best_model.json").read_text())
        assert meta["preset"]["ppo"]["learning_rate"] == pytest.approx(trial["learning_rate"])
        assert meta["validation_mean_total_return"] == pytest.approx(trial["validation_mean_total_return"])
    best = json.loads((out / "best.json").read_text())
    assert best["best_trial"]["validation_mean_total_return"] == pytest.approx(trials["validation_mean_total_return"].max())
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("trials/*/best_model.zip")}
    assert cli.main(argv) == 0                                      # restored: nothing is trained again
    assert "Resuming the sweep" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.glob("trials/*/best_model.zip")} == stamps
    arena = ["arena", "--baselines", "hold_cash", "--add-sweep", str(out), "--windows", "2", "--seeds", "0",
             "--set", "bars_per_decision=4", "--set", "episode_length=42", "--no-progress", "--out", str(tmp_path / "a")]
    assert cli.main(arena) == 0
    results = pd.read_csv(tmp_path / "a" / "results.csv")
    assert set(results["policy"]) == {"hold_cash", f"ppo-c{best['best_config']['config']}-s0"}
    assert (results["status"] == "ok").all()


def test_rllib_ppo_trains_two_iterations_on_the_env_through_its_registration(cluster):
    import math

    from ray.rllib.algorithms.ppo import PPOConfig

    from arena_gym.rllib import RLLIB_ENV_NAME, env_creator, register_rllib_env

    with pytest.raises(ValueError, match="unknown keys"):
        env_creator({"episode_lenght": 42})
    env = env_creator({"preset": "synthetic", "episode_length": 42, "bars_per_decision": 4})
    assert env.config.episode_length == 42 and env.config.lookback == 16      # preset field kept
    assert register_rllib_env() == RLLIB_ENV_NAME
    config = (PPOConfig().environment(RLLIB_ENV_NAME, env_config={"episode_length": 42, "bars_per_decision": 4})
              .env_runners(num_env_runners=0)
              .training(train_batch_size_per_learner=256, minibatch_size=128, num_epochs=1)
              .debugging(seed=0))
    algo = config.build_algo()
    try:
        results = [algo.train() for _ in range(2)]
    finally:
        algo.stop()
    assert [r["training_iteration"] for r in results] == [1, 2]
    assert results[-1]["env_runners"]["num_env_steps_sampled_lifetime"] >= 512
    assert results[-1]["env_runners"]["num_episodes_lifetime"] >= 512 // 42                 # whole episodes ended
    assert math.isfinite(results[-1]["env_runners"]["episode_return_mean"])
