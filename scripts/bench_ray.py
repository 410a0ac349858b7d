"""Evaluation throughput in this process and on Ray, Ray's cost per task, and what a cluster
would give for an LLM study and a PPO sweep (the ``ray`` extra).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_ray.py [--windows 12] [--seeds 0,1]

Measured here, in one run:

* episodes per second of the same plan (numeric baselines on the synthetic preset, one week
  of hourly decisions each) played by the local runner (before and after the Ray runs, so that
  the spread shows the machine's noise) and by Ray with 1 and 2 worker CPUs (a fresh local
  cluster each; its start-up time is printed apart, not counted);
* Ray's round trip per task: many empty tasks, and the extra seconds per episode of a
  one-worker Ray run over the local run (object store, scheduling, results back);
* the CPU seconds of one LLM episode of the contest preset (litellm's offline mock model, 408
  decisions: prompt rendering, parsing, stepping; no model latency);
* PPO training speed (timesteps per second on one CPU, the preset's settings).

Then the projection for ``--nodes`` nodes of ``--cores-per-node`` CPUs: the LLM study
(``--llms`` x ``--llm-windows`` x ``--llm-seeds`` contest episodes at ``--llm-latency`` seconds
per call, ``--concurrency`` calls in flight per provider) and a ``--trials``-trial PPO sweep of
the preset's ``total_timesteps``. The arithmetic is printed with the figures.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def plan(args):
    from arena_gym.campaigns.arena_campaign import ArenaPlan, splits_for
    from arena_gym.evaluation.splits import evaluation_windows, split_config
    from arena_gym.presets import load_env_preset

    market, config = load_env_preset("synthetic")
    splits = splits_for(market, config, ArenaPlan())
    eval_config = split_config(config, splits, "test")
    windows = evaluation_windows(market, eval_config, args.windows, seed=0)
    return market, eval_config, windows


def timed_evaluation(market, config, windows, seeds, executor=None) -> tuple[float, int]:
    from arena_gym.campaigns.arena_campaign import built_policies
    from arena_gym.evaluation.runner import evaluate

    specs = ["random", "ema_momentum", "buy_and_hold", "funding_carry"]
    with built_policies(specs) as policies, tempfile.TemporaryDirectory() as folder:
        if executor is not None:
            executor.specs = {p.name: s for s, p in zip(specs, policies)}
        t0 = time.perf_counter()
        results = evaluate(policies, market, config, windows, seeds, folder, progress=False, executor=executor)
        seconds = time.perf_counter() - t0
    assert (results["status"] == "ok").all(), results["error"].dropna().unique()
    return seconds, len(results)


def ray_run(num_cpus: int, market, config, windows, seeds, n_empty: int) -> dict[str, float]:
    import ray

    from arena_gym.campaigns.distributed import RayExecutor

    t0 = time.perf_counter()
    ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="ERROR")
    startup = time.perf_counter() - t0
    try:
        @ray.remote(num_cpus=1)
        def empty(i: int) -> int:
            return i

        ray.get([empty.remote(i) for i in range(4 * num_cpus)])  # workers up before timing
        t0 = time.perf_counter()
        ray.get([empty.remote(i) for i in range(n_empty)])
        per_task = (time.perf_counter() - t0) / n_empty
        timed_evaluation(market, config, windows[:1], seeds[:1], RayExecutor())  # workers import arena-gym
        seconds, n = timed_evaluation(market, config, windows, seeds, RayExecutor())
    finally:
        ray.shutdown()
    return {"startup": startup, "per_empty_task": per_task, "seconds": seconds, "episodes": n}


def llm_episode_cpu_seconds() -> float:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from arena_gym.campaigns.arena_campaign import built_policies
    from arena_gym.evaluation.runner import EpisodeKey, play_episode
    from arena_gym.presets import load_env_preset

    market, config = load_env_preset("alpha-arena-s1")
    with built_policies(["llm:mock"]) as (policy,):
        t0 = time.perf_counter()
        play_episode(policy, market, config, EpisodeKey("llm:mock", 0, 200, 0))
        return time.perf_counter() - t0


def ppo_timesteps_per_second(timesteps: int) -> tuple[float, int]:
    from arena_gym.campaigns.arena_campaign import splits_for, with_fields
    from arena_gym.training.ppo_training import load_policy_preset, train_ppo
    from arena_gym.presets import load_env_preset

    market, config = load_env_preset("synthetic")
    preset = load_policy_preset("ppo")
    config = with_fields(config, preset["env"])
    preset["train"] = {**preset["train"], "eval_every": timesteps, "checkpoint_every": timesteps}
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        train_ppo(market, config, splits_for(market, config), folder, preset, total_timesteps=timesteps, log=None)
        seconds = time.perf_counter() - t0
    return timesteps / seconds, int(preset["train"]["total_timesteps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--empty-tasks", type=int, default=2000)
    parser.add_argument("--ppo-timesteps", type=int, default=32_768)
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--cores-per-node", type=int, default=16)
    parser.add_argument("--llms", type=int, default=6)
    parser.add_argument("--llm-windows", type=int, default=100)
    parser.add_argument("--llm-seeds", type=int, default=5)
    parser.add_argument("--llm-latency", type=float, default=10.0, help="seconds per LLM call (assumed)")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight per provider")
    parser.add_argument("--trials", type=int, default=64)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    market, config, windows = plan(args)

    load_before = os.getloadavg()[0]
    timed_evaluation(market, config, windows[:1], seeds[:1])  # imports and caches warm
    local_first, n = timed_evaluation(market, config, windows, seeds)
    ray1 = ray_run(1, market, config, windows, seeds, args.empty_tasks)
    ray2 = ray_run(2, market, config, windows, seeds, args.empty_tasks)
    local_last, _ = timed_evaluation(market, config, windows, seeds)  # before and after: the spread is noise
    local_s = (local_first + local_last) / 2
    print(f"Evaluation: {n} episodes ({len(windows)} windows x {len(seeds)} seeds x 4 baselines, "
          f"{config.episode_length} decisions each) on {os.cpu_count()} cores; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("| runner | episodes/s | seconds | vs local (mean of both) |\n|---|---:|---:|---:|")
    for label, seconds in (("local (one process), first", local_first), ("Ray, 1 worker CPU", ray1["seconds"]),
                           ("Ray, 2 worker CPUs", ray2["seconds"]), ("local (one process), last", local_last)):
        print(f"| {label} | {n / seconds:,.2f} | {seconds:.2f} | {local_s / seconds:.2f}x |")
    overhead = (ray1["seconds"] - local_s) / n
    print(f"Ray start-up (local cluster, not counted above): {ray1['startup']:.1f} s (1 CPU), "
          f"{ray2['startup']:.1f} s (2 CPUs)")
    print(f"Round trip of an empty task: {ray1['per_empty_task'] * 1e3:.2f} ms (1 worker), "
          f"{ray2['per_empty_task'] * 1e3:.2f} ms (2 workers); extra seconds per episode, Ray 1 worker over local: "
          f"{overhead * 1e3:.1f} ms ({overhead / (local_s / n):.0%} of a {local_s / n * 1e3:.1f} ms episode)")

    llm_cpu = llm_episode_cpu_seconds()
    rate, preset_steps = ppo_timesteps_per_second(args.ppo_timesteps)
    trial_s = preset_steps / rate
    print(f"\nOne contest LLM episode (408 decisions, offline mock model): {llm_cpu:.1f} CPU s "
          f"({llm_cpu / 408 * 1e3:.1f} ms per decision besides the model's latency)")
    print(f"PPO training (preset, one CPU): {rate:,.0f} timesteps/s; a {preset_steps:,}-timestep trial takes "
          f"{trial_s:.0f} s")

    cpus = args.nodes * args.cores_per_node
    episodes = args.llms * args.llm_windows * args.llm_seeds
    in_flight = args.llms * args.concurrency
    calls = episodes * 408
    rounds = math.ceil(episodes / in_flight)
    wall = rounds * 408 * (args.llm_latency + llm_cpu / 408)
    cpu_busy = in_flight * (llm_cpu / 408) / (args.llm_latency + llm_cpu / 408)
    print(f"\nProjection, {args.nodes} nodes x {args.cores_per_node} CPUs = {cpus} CPUs:")
    print(f"* LLM study: {args.llms} LLMs x {args.llm_windows} windows x {args.llm_seeds} seeds = {episodes:,} "
          f"episodes x 408 decisions = {calls:,} calls. At most {args.concurrency} episodes in flight per provider "
          f"-> {in_flight} at once -> {rounds} rounds x 408 decisions x ({args.llm_latency:.0f} s latency + "
          f"{llm_cpu / 408 * 1e3:.0f} ms CPU) = {wall / 3600:,.1f} h. Those {in_flight} episodes keep "
          f"{cpu_busy:.2f} CPUs busy: one node is enough, and {args.nodes} nodes give the same "
          f"{wall / 3600:,.1f} h; only a higher per-provider concurrency (the providers' rate limits) shortens it. "
          f"The {cpus} CPUs could feed {cpus * in_flight / cpu_busy:,.0f} episodes in flight; with all "
          f"{episodes:,} in flight at once the study takes 408 x {args.llm_latency:.0f} s = "
          f"{408 * (args.llm_latency + llm_cpu / 408) / 3600:.1f} h.")
    local_sweep = math.ceil(args.trials / (os.cpu_count() or 1)) * trial_s
    cluster_sweep = math.ceil(args.trials / cpus) * trial_s
    print(f"* PPO sweep: {args.trials} trials x {trial_s:.0f} s each, one CPU per trial: on this machine "
          f"ceil({args.trials}/{os.cpu_count()}) x {trial_s:.0f} s = {local_sweep / 3600:.1f} h; on {cpus} CPUs "
          f"ceil({args.trials}/{cpus}) x {trial_s:.0f} s = {cluster_sweep / 60:.1f} min plus Ray start-up "
          f"({ray2['startup']:.0f} s here) and the trials' imports.")


if __name__ == "__main__":
    main()
