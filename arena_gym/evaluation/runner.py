"""Play every policy on the same windows and seeds, appending each finished episode to a log so
that an interrupted evaluation resumes where it stopped.

Layout of an evaluation folder ``out_dir``:

=================================  ===========================================================
``config.json``                    the plan: market, env config, windows, seeds, policies, extras
``episodes.jsonl``                 one line per finished episode: ``policy``, ``window`` (index),
                                   ``start`` (bar), ``seed``, ``status`` (``ok``/``error``),
                                   ``error``, ``seconds`` and ``metrics``
``episodes/<policy>/w<i>-s<seed>``  ``.steps.parquet`` (per-step records) and ``.trades.parquet``
=================================  ===========================================================

An episode is identified by ``(policy, window, seed)``. Its files are written first and its log
line last (flushed and fsynced), so a killed run loses at most the episodes in flight; a torn last
line is dropped on the next start. Resuming reads the log, skips what is done, and plays the rest;
because every episode is a pure function of (market, config, policy, start, seed), the final
table equals that of an uninterrupted run.

Each episode gets a fresh :class:`~arena_gym.env.PerpTradingEnv` reset with ``seed`` at the
window's start bar; the policy is reset with a seed derived from ``(seed, start)``. A policy that
raises gets that episode recorded as an error, and the others go on. Policies with a coroutine
``aact`` (LLMs) play their episodes concurrently across windows, at most ``concurrency`` at once.

Who plays the episodes is an *executor*: an object with ``run(policies, todo, market, config,
deliver)`` that plays the episode keys of ``todo`` (policy name -> keys still to play) and calls
``deliver(key, seconds, outcome, error)`` as each one finishes, in any order. The runner writes
the files and the log line of each delivered episode. :class:`LocalExecutor` (the default) plays
in this process; :class:`~arena_gym.campaigns.distributed.RayExecutor` on a Ray cluster.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from arena_gym.env import PerpTradingEnv
from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData

from .metrics import episode_metrics, exposure_from_positions
from .progress import DEFAULT_EVERY_S, DecisionProgress, answers_text_prompts

LOG_NAME = "episodes.jsonl"
CONFIG_NAME = "config.json"
EPISODES_DIR = "episodes"
#: Parts of ``config.json`` that must match when an evaluation is resumed.
PLAN_KEYS = ("market", "env", "windows", "seeds")


@dataclass(frozen=True)
class EpisodeKey:
    """One unit of work: ``policy`` on window number ``window`` (start bar ``start``) with ``seed``."""

    policy: str
    window: int
    start: int
    seed: int

    @property
    def ident(self) -> tuple[str, int, int]:
        return self.policy, self.window, self.seed


def policy_slug(name: str) -> str:
    """A file-name-safe form of a policy name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def episode_stem(out_dir: Path, key: EpisodeKey) -> Path:
    return out_dir / EPISODES_DIR / policy_slug(key.policy) / f"w{key.window:03d}-s{key.seed}"


def policy_seed(seed: int, start: int) -> int:
    """The seed a policy is reset with for the episode ``(seed, start)``."""
    return int(np.random.SeedSequence([int(seed), int(start)]).generate_state(1)[0])


def market_summary(market: MarketData) -> dict[str, Any]:
    return {"name": market.name, "n_bars": market.n_bars, "symbols": list(market.symbols),
            "first_bar": str(pd.Timestamp(market.timestamps[0], tz="UTC")),
            "last_bar": str(pd.Timestamp(market.timestamps[-1], tz="UTC")),
            "bar_seconds": market.bar_seconds}


# ---------------------------------------------------------------------- one episode
class EpisodeRecorder:
    """Collects one episode's per-step records, equity curve, exposure and LLM call statistics."""

    def __init__(self, env: PerpTradingEnv, info: dict[str, Any]) -> None:
        self.env = env
        self.symbols = env.market.symbols
        self.equity = [float(info["equity"])]
        self.rows: list[dict[str, Any]] = []
        self.notional: list[np.ndarray] = []
        self.llm: dict[str, Any] | None = None

    def record(self, action: Any, reward: float, info: dict[str, Any]) -> None:
        state = self.env.account  # size (coins) and mark per asset, one row
        notional = state.size[0] * state.mark[0]
        self.notional.append(notional)
        self.equity.append(float(info["equity"]))
        bar = int(info["bar"])
        row = {"step": int(info["step"]), "bar": bar, "time": self.env.market.timestamps[bar], "equity": info["equity"],
               "reward": float(reward), "gross_leverage": info["gross_leverage"], "fees_paid": info["fees_paid"],
               "funding_paid": info["funding_paid"], "fills": info["fills"], "liquidations": info["liquidations"]}
        row.update({f"pos_{s}": float(v) for s, v in zip(self.symbols, notional)})
        if isinstance(action, np.ndarray) and action.shape == (len(self.symbols),):
            row.update({f"act_{s}": float(v) for s, v in zip(self.symbols, action)})
        if hasattr(action, "prompt_tokens"):
            self._record_llm(action, info, row)
        self.rows.append(row)

    def _record_llm(self, response: Any, info: dict[str, Any], row: dict[str, Any]) -> None:
        if self.llm is None:
            self.llm = {"n_decisions": 0, "n_invalid": 0, "prompt_tokens": 0, "completion_tokens": 0,
                        "cost_usd": 0.0, "latency_s": []}
        invalid = bool(info.get("invalid_output", getattr(response, "error", None) is not None))
        llm = self.llm
        llm["n_decisions"] += 1
        llm["n_invalid"] += int(invalid)
        llm["prompt_tokens"] += int(response.prompt_tokens)
        llm["completion_tokens"] += int(response.completion_tokens)
        cost = getattr(response, "cost_usd", None)
        llm["cost_usd"] = float("nan") if cost is None else llm["cost_usd"] + float(cost)
        llm["latency_s"].append(float(response.latency_s))
        row.update({"invalid_output": invalid, "prompt_tokens": int(response.prompt_tokens),
                    "completion_tokens": int(response.completion_tokens),
                    "cost_usd": float("nan") if cost is None else float(cost), "latency_s": float(response.latency_s),
                    "error": getattr(response, "error", None)})

    def finish(self, info: dict[str, Any]) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame]:
        """(metrics, steps frame, trades frame) of the finished episode."""
        env = self.env
        trades = env.trades()
        if "episode" in trades.columns and len(trades):
            trades = trades[trades["episode"] == trades["episode"].max()].reset_index(drop=True)
        equity = np.asarray(self.equity)
        exposure = exposure_from_positions(np.asarray(self.notional), equity[1:])
        totals = {"fees_paid": info["fees_paid"], "funding_paid": info["funding_paid"],
                  "n_liquidations": info["liquidations"]}
        metrics = episode_metrics(equity, env.market.bar_seconds * env.config.bars_per_decision, trades=trades,
                                  exposure=exposure, totals=totals, llm=self.llm)
        return metrics, pd.DataFrame(self.rows), trades


def make_env_config(config: EnvConfig, policy: Any) -> EnvConfig:
    """``config`` with ``policy``'s ``env_overrides`` applied: the config of its episodes."""
    return replace(config, **dict(getattr(policy, "env_overrides", {}) or {}))


def make_env(market: MarketData, config: EnvConfig, policy: Any) -> PerpTradingEnv:
    """A fresh env for one episode of ``policy`` (its ``env_overrides`` applied). A recorded
    trade log replayed as traded gets an env built with its fill tape (the only env that fills
    at a price from inside a bar, see :mod:`arena_gym.env.recorded_fills`); no other policy does."""
    from arena_gym.agents.recorded import AS_TRADED, RecordedPolicy

    config = make_env_config(config, policy)
    if isinstance(policy, RecordedPolicy) and policy.execution == AS_TRADED:
        return PerpTradingEnv(market, config, recorded_fills=policy.fill_tape())
    return PerpTradingEnv(market, config)


def _begin(policy: Any, market: MarketData, config: EnvConfig, key: EpisodeKey):
    env = make_env(market, config, policy)
    observation, info = env.reset(seed=key.seed, options={"start": key.start})
    bind = getattr(policy, "bind", None)
    if bind is not None:
        bind(env)
    policy.reset(policy_seed(key.seed, key.start))
    return env, observation, info, EpisodeRecorder(env, info)


#: ``on_step(action, info, seconds)``: one decision of an episode, with the env's ``info`` after
#: its step and the seconds the decision and the step took (for progress lines).
OnStep = Callable[[Any, dict[str, Any], float], None]


def play_episode(policy: Any, market: MarketData, config: EnvConfig, key: EpisodeKey,
                 on_step: OnStep | None = None):
    """Play one episode with ``policy.act``; returns (metrics, steps, trades). ``on_step`` sees
    every decision (see :data:`OnStep`)."""
    env, observation, info, recorder = _begin(policy, market, config, key)
    done = False
    while not done:
        started = time.perf_counter()
        action = policy.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        recorder.record(action, reward, info)
        done = terminated or truncated
        if on_step is not None:
            on_step(action, info, time.perf_counter() - started)
    return recorder.finish(info)


async def aplay_episode(policy: Any, market: MarketData, config: EnvConfig, key: EpisodeKey,
                        on_step: OnStep | None = None):
    """:func:`play_episode` with ``await policy.aact``."""
    env, observation, info, recorder = _begin(policy, market, config, key)
    done = False
    while not done:
        started = time.perf_counter()
        action = await policy.aact(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        recorder.record(action, reward, info)
        done = terminated or truncated
        if on_step is not None:
            on_step(action, info, time.perf_counter() - started)
    return recorder.finish(info)


# ---------------------------------------------------------------------- the log
def read_log(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every complete record of ``episodes.jsonl`` (a torn last line from a kill is skipped)."""
    path = Path(out_dir) / LOG_NAME
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _repair_log(path: Path) -> None:
    """Cut a torn last line (no newline) left by a killed run, so appends start on a fresh line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def results_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per ``(policy, window, seed)`` (the last record wins), metrics as columns, sorted."""
    latest: dict[tuple, dict[str, Any]] = {}
    for rec in records:
        latest[(rec["policy"], rec["window"], rec["seed"])] = rec
    rows = [{"policy": r["policy"], "window": r["window"], "start": r["start"], "seed": r["seed"],
             "status": r["status"], "error": r.get("error"), **r.get("metrics", {})}
            for r in latest.values()]
    columns = ["policy", "window", "start", "seed", "status", "error"]
    frame = pd.DataFrame(rows, columns=None if rows else columns)
    return frame.sort_values(["policy", "window", "seed"], ignore_index=True) if rows else frame


def load_results(out_dir: str | Path) -> pd.DataFrame:
    """The results table of an evaluation folder (see :func:`results_frame`)."""
    return results_frame(read_log(out_dir))


# ---------------------------------------------------------------------- the runner
def _check_plan(out_dir: Path, plan: dict[str, Any]) -> None:
    path = out_dir / CONFIG_NAME
    if not path.is_file():
        path.write_text(json.dumps(plan, indent=2, default=str), encoding="utf-8")
        return
    old = json.loads(path.read_text(encoding="utf-8"))
    fresh = json.loads(json.dumps(plan, default=str))
    differ = [k for k in PLAN_KEYS if old.get(k) != fresh.get(k)]
    if differ:
        raise ValueError(f"{out_dir} holds an evaluation with a different {', '.join(differ)}; "
                         f"resume it with the same settings, or write to another folder (--out DIR)")
    old_policies = old.get("policies", {})
    if any(name not in old_policies for name in fresh.get("policies", {})):
        old["policies"] = {**old_policies, **fresh.get("policies", {})}
        path.write_text(json.dumps(old, indent=2, default=str), encoding="utf-8")


def evaluate(
    policies: Sequence[Any],
    market: MarketData,
    config: EnvConfig,
    windows: Sequence[int],
    seeds: Sequence[int],
    out_dir: str | Path,
    *,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
    concurrency: int = 8,
    retry_errors: bool = False,
    on_episode: Callable[[dict[str, Any]], None] | None = None,
    executor: EpisodeExecutor | None = None,
    decision_lines_every_s: float = DEFAULT_EVERY_S,
) -> pd.DataFrame:
    """Play ``policies`` x ``windows`` x ``seeds`` into ``out_dir``, resuming what is there.

    Args:
        policies: objects following :class:`~arena_gym.agents.policies.Policy`, unique names.
        market: the shared market.
        config: the env config every policy starts from (each applies its ``env_overrides``).
        windows: episode start bars (see :func:`~arena_gym.evaluation.splits.evaluation_windows`).
        seeds: env seeds; every window is played once per seed.
        out_dir: the evaluation folder (see the module docstring).
        extra: more JSON-friendly facts for ``config.json`` (e.g. the splits).
        progress: show a progress bar with ETA on stderr and, for the policies that read the text
            prompt (LLMs), decision lines (see :mod:`.progress`) when this process plays them.
        concurrency: episodes in flight at once for policies with ``aact``.
        retry_errors: play again the episodes logged as errors.
        on_episode: called with each record after it is logged.
        executor: who plays the episodes (default :class:`LocalExecutor` with ``concurrency``).
        decision_lines_every_s: least seconds between two decision lines of one policy (0: a
            line for every decision).

    Returns:
        :func:`load_results` of the folder once every episode is logged.
    """
    from tqdm.auto import tqdm

    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise ValueError(f"policy names must be unique, got {names}")
    if not windows or not seeds:
        raise ValueError("need at least one window and one seed")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = {"market": market_summary(market), "env": config.as_dict(), "windows": [int(w) for w in windows],
            "seeds": [int(s) for s in seeds],
            "policies": {p.name: {"type": type(p).__name__, "env_overrides": dict(getattr(p, "env_overrides", {}) or {})}
                         for p in policies},
            **(extra or {})}
    _check_plan(out_dir, plan)
    log = out_dir / LOG_NAME
    _repair_log(log)
    done = {(r["policy"], r["window"], r["seed"]) for r in read_log(out_dir)
            if not (retry_errors and r["status"] == "error")}
    todo: dict[str, list[EpisodeKey]] = {}
    total = 0
    for p in policies:
        keys = [EpisodeKey(p.name, i, int(start), int(seed)) for i, start in enumerate(windows) for seed in seeds]
        total += len(keys)
        todo[p.name] = [k for k in keys if k.ident not in done]
    bar = tqdm(total=total, initial=total - sum(map(len, todo.values())), desc="evaluate", unit="episode",
               disable=not progress, dynamic_ncols=True)

    def log_result(key: EpisodeKey, seconds: float, outcome: tuple | None, error: str | None) -> None:
        record = {"policy": key.policy, "window": key.window, "start": key.start, "seed": key.seed,
                  "status": "ok" if error is None else "error", "error": error, "seconds": round(seconds, 3),
                  "metrics": {}}
        if outcome is not None:
            metrics, steps, trades = outcome
            stem = episode_stem(out_dir, key)
            stem.parent.mkdir(parents=True, exist_ok=True)
            _write_parquet(steps, stem.with_name(stem.name + ".steps.parquet"))
            _write_parquet(trades, stem.with_name(stem.name + ".trades.parquet"))
            record["metrics"] = metrics
        _append(log, record)
        bar.set_postfix_str(key.policy, refresh=False)
        bar.update(1)
        if on_episode is not None:
            on_episode(record)

    if executor is None:
        decisions = None
        if progress:
            planned = {p.name: (len(todo[p.name]), make_env_config(config, p).episode_length)
                       for p in policies if answers_text_prompts(p)}
            decisions = DecisionProgress(planned, lambda line: tqdm.write(line, file=sys.stderr),
                                         every_s=decision_lines_every_s)
        executor = LocalExecutor(concurrency, decisions)
    try:
        executor.run(policies, todo, market, config, log_result)
    finally:
        bar.close()
    return load_results(out_dir)


#: ``deliver(key, seconds, outcome, error)``: one finished episode, ``outcome`` being
#: :func:`play_episode`'s (metrics, steps, trades), or ``None`` with ``error`` set.
Deliver = Callable[[EpisodeKey, float, "tuple | None", "str | None"], None]


class EpisodeExecutor(Protocol):
    """Plays the episodes :func:`evaluate` hands it (see the module docstring)."""

    def run(self, policies: Sequence[Any], todo: dict[str, list[EpisodeKey]], market: MarketData,
            config: EnvConfig, deliver: Deliver) -> None: ...


def is_async_policy(policy: Any) -> bool:
    """Whether ``policy`` has a coroutine ``aact`` (its episodes are played concurrently)."""
    return inspect.iscoroutinefunction(getattr(policy, "aact", None))


def timed_episode(policy: Any, market: MarketData, config: EnvConfig, key: EpisodeKey,
                  on_step: OnStep | None = None) -> tuple:
    """``(seconds, outcome, error)`` of one :func:`play_episode`; a raising policy gives an error."""
    t0 = time.perf_counter()
    try:
        outcome, error = play_episode(policy, market, config, key, on_step), None
    except Exception as err:  # a failing policy must not sink the others
        outcome, error = None, f"{type(err).__name__}: {err}"
    return time.perf_counter() - t0, outcome, error


async def atimed_episode(policy: Any, market: MarketData, config: EnvConfig, key: EpisodeKey,
                         on_step: OnStep | None = None) -> tuple:
    """:func:`timed_episode` with :func:`aplay_episode`."""
    t0 = time.perf_counter()
    try:
        outcome, error = await aplay_episode(policy, market, config, key, on_step), None
    except Exception as err:  # a failing policy must not sink the others
        outcome, error = None, f"{type(err).__name__}: {err}"
    return time.perf_counter() - t0, outcome, error


class LocalExecutor:
    """Plays in this process: numeric policies one episode after another, then the policies with
    ``aact`` concurrently across windows, at most ``concurrency`` episodes in flight.

    ``decisions`` (optional) is told of every decision of the policies it reports on (see
    :class:`~.progress.DecisionProgress`)."""

    def __init__(self, concurrency: int = 8, decisions: DecisionProgress | None = None) -> None:
        self.concurrency = concurrency
        self.decisions = decisions

    def on_step(self, key: EpisodeKey) -> OnStep | None:
        """The decision hook of ``key``'s episode, or None when its policy is not reported on."""
        decisions = self.decisions
        if decisions is None or key.policy not in decisions:
            return None
        return lambda action, info, seconds: decisions.step(key.policy, key.window, key.seed, action, info, seconds)

    def run(self, policies: Sequence[Any], todo: dict[str, list[EpisodeKey]], market: MarketData,
            config: EnvConfig, deliver: Deliver) -> None:
        concurrent = [p for p in policies if is_async_policy(p)]
        for p in policies:
            if p in concurrent:
                continue
            for key in todo[p.name]:
                deliver(key, *timed_episode(p, market, config, key, self.on_step(key)))
        if any(todo[p.name] for p in concurrent):
            asyncio.run(self._play_concurrently(concurrent, todo, market, config, deliver))

    async def _play_concurrently(self, policies: Sequence[Any], todo: dict[str, list[EpisodeKey]],
                                 market: MarketData, config: EnvConfig, deliver: Deliver) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        gate = asyncio.Semaphore(self.concurrency)

        async def one(policy: Any, key: EpisodeKey) -> None:
            async with gate:
                deliver(key, *await atimed_episode(policy, market, config, key, self.on_step(key)))

        await asyncio.gather(*(one(p, key) for p in policies for key in todo[p.name]))
