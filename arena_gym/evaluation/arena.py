"""One call from an env preset and a list of policies to a finished, reported evaluation.

:func:`run_arena` cuts the market into time splits, draws the evaluation windows of one split,
plays every policy on every window and seed (resumably, see :mod:`.runner`) and writes the
report (see :mod:`.report`). :func:`ppo_against_field` trains PPO (or reuses it) and runs it
against other policies that way. :func:`available_llm_presets` lists the LLM presets that can run
here: those whose provider key is set in the environment, and the local model when its extra
is installed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData

from .report import write_report
from .runner import evaluate
from .splits import SPLIT_NAMES, Splits, evaluation_windows, split_config, time_splits

#: EnvConfig fields every policy in one evaluation must share, so that episodes are comparable.
TIMING_FIELDS = ("bars_per_decision", "episode_length", "initial_capital")


@dataclass(frozen=True)
class ArenaPlan:
    """Where and how to evaluate: split name, number of windows, env seeds and the window seed.

    ``date_windows`` (e.g. ``("2025-10-17T00:00..2025-10-28T00:00",)``) replaces the random
    windows of a split with fixed date ranges; ``daily`` cuts them into whole UTC days (see
    :mod:`.windows`).
    """

    split: str = "test"
    n_windows: int = 8
    seeds: tuple[int, ...] = (0, 1)
    window_seed: int = 0
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    date_windows: tuple[str, ...] = ()
    daily: bool = False

    def __post_init__(self) -> None:
        if self.split not in SPLIT_NAMES:
            raise ValueError(f"unknown split {self.split!r}; available: {', '.join(SPLIT_NAMES)}")
        if not self.seeds:
            raise ValueError("need at least one seed")


def check_comparable(policies: Sequence[Any], config: EnvConfig) -> None:
    """Refuse policies whose env overrides change the episode timing (:data:`TIMING_FIELDS`)."""
    for policy in policies:
        overrides = dict(getattr(policy, "env_overrides", {}) or {})
        clash = {k: v for k, v in overrides.items() if k in TIMING_FIELDS and v != getattr(config, k)}
        if clash:
            current = {k: getattr(config, k) for k in clash}
            raise ValueError(f"policy {policy.name!r} needs {clash} but the env has {current}; evaluate it "
                             f"with those settings (e.g. --set {next(iter(clash))}={next(iter(clash.values()))}) "
                             f"so that every policy plays the same episodes")


@contextlib.contextmanager
def built_policies(specs: Sequence[str], **llm_kwargs: Any) -> Iterator[list[Any]]:
    """The policies of ``specs`` (see :func:`~.policies.policy_from_spec`, which gets ``llm_kwargs``);
    those holding resources (LLM event loops, the local model server) are closed afterwards."""
    from .policies import policy_from_spec

    policies: list[Any] = []
    try:
        for spec in specs:
            policies.append(policy_from_spec(spec, **llm_kwargs))
        yield policies
    finally:
        for policy in policies:
            close = getattr(policy, "close", None)
            if close is not None:
                close()


def run_arena(
    market: MarketData,
    config: EnvConfig,
    policies: Sequence[Any],
    out_dir: str | Path,
    plan: ArenaPlan = ArenaPlan(),
    *,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
    concurrency: int = 8,
    retry_errors: bool = False,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Evaluate ``policies`` on ``plan.n_windows`` windows of ``plan.split`` (or on
    ``plan.date_windows``) and write the report.

    Returns the report's summary (``leaderboard``, ``metrics``, ``metrics_ci``, ``ok``,
    ``errors``, ``paths``) plus ``splits`` (None for date windows) and ``windows``.
    """
    check_comparable(policies, config)
    if plan.date_windows:
        from .windows import DateWindow, daily_windows, pinned_plan

        dated = [DateWindow.parse(w) for w in plan.date_windows]
        pinned = pinned_plan(market, config, daily_windows(dated) if plan.daily else dated)
        splits, eval_config, windows = None, pinned.config, list(pinned.starts)
        facts = {**pinned.as_dict(), **(extra or {})}
    else:
        splits = splits_for(market, config, plan)
        eval_config = split_config(config, splits, plan.split)
        windows = evaluation_windows(market, eval_config, plan.n_windows, seed=plan.window_seed)
        facts = {"splits": splits.as_dict(), "split": plan.split, "window_seed": plan.window_seed, **(extra or {})}
    evaluate(policies, market, eval_config, windows, list(plan.seeds), out_dir, extra=facts, progress=progress,
             concurrency=concurrency, retry_errors=retry_errors)
    summary = write_report(out_dir, title=title, n_boot=n_boot)
    summary.update({"splits": splits, "windows": windows})
    return summary


def trained_ppo(market: MarketData, config: EnvConfig, splits: Splits, folder: str | Path,
                preset: dict[str, Any], total_timesteps: int | None = None, log=print) -> Path:
    """``folder/best_model.zip``, trained on ``splits.train`` unless the folder already holds it."""
    from .training import train_ppo

    model = Path(folder) / "best_model.zip"
    if model.is_file():
        if log is not None:
            log(f"Reusing the trained PPO in {model.parent} (delete the folder to retrain)")
        return model
    if log is not None:
        log(f"Training PPO on {market.name} bars {splits.train[0]}..{splits.train[1]} (validation "
            f"{splits.validation[0]}..{splits.validation[1]}, test {splits.test[0]}..{splits.test[1]} held out)")
    return train_ppo(market, config, splits, folder, preset, total_timesteps=total_timesteps, log=log)


def ppo_against_field(
    market: MarketData,
    config: EnvConfig,
    opponents: Sequence[str],
    out_dir: str | Path,
    plan: ArenaPlan = ArenaPlan(),
    preset: dict[str, Any] | None = None,
    *,
    total_timesteps: int | None = None,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
    concurrency: int = 8,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train PPO on the train split and evaluate it, labelled ``ppo``, against ``opponents``.

    The env takes the PPO preset's ``[env]`` fields (episode timing, action and observation
    settings), so every policy plays the episodes PPO is trained for; baselines and LLMs still
    apply their own ``env_overrides`` on top. The model goes to ``out_dir/ppo`` and is reused
    when there (see :func:`trained_ppo`); the evaluation is :func:`run_arena` into ``out_dir``.

    Args:
        opponents: policy specs (see :data:`~.policies.SPEC_FORMS`), built after training and
            closed at the end.
        preset: a PPO preset as read by :func:`~.training.load_policy_preset` (default ``ppo``).
        total_timesteps: overrides the preset's ``[train] total_timesteps``.
        log: receives the progress lines.

    Returns:
        :func:`run_arena`'s summary plus ``ppo_model``, the path of the model played.
    """
    from .training import load_policy_preset

    t0 = time.perf_counter()
    preset = load_policy_preset("ppo") if preset is None else preset
    config = with_fields(config, preset.get("env", {}))
    splits = splits_for(market, config, plan)
    log("[1/3] PPO")
    model = trained_ppo(market, config, splits, Path(out_dir) / "ppo", preset, total_timesteps=total_timesteps,
                        log=lambda line: log(f"      {line}"))
    log(f"      ready after {time.perf_counter() - t0:.0f} s")
    with built_policies([f"ppo=ppo:{model}", *opponents]) as policies:
        n_seeds = len(plan.seeds)
        log(f"[2/3] Evaluating {', '.join(p.name for p in policies)} on {plan.n_windows} {plan.split} windows x "
            f"{n_seeds} seed{'s' if n_seeds > 1 else ''}")
        summary = run_arena(market, config, policies, out_dir, plan, title=title,
                            extra={"ppo_model": str(model), **(extra or {})}, progress=progress,
                            concurrency=concurrency)
    log("[3/3] Report written")
    summary["ppo_model"] = model
    return summary


def splits_for(market: MarketData, config: EnvConfig, plan: ArenaPlan = ArenaPlan()) -> Splits:
    """The splits :func:`run_arena` uses for this market and config (train on ``.train``)."""
    return time_splits(market.n_bars, plan.fractions, lookback=config.lookback)


def with_fields(config: EnvConfig, fields: dict[str, Any]) -> EnvConfig:
    """``config`` with fields replaced (TOML/JSON lists become tuples)."""
    return replace(config, **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def available_llm_presets(include_local: bool = False) -> list[str]:
    """LLM presets under ``policies/llm`` that can run here without further setup.

    A hosted model counts when litellm finds its provider key in the environment. The local
    model counts when ``include_local`` and its ``local-llm`` extra is installed (it runs on
    the CPU: minutes per decision on a small machine). The offline ``mock`` preset is never
    listed: it always holds.
    """
    from arena_gym.llm.local_server import local_model_unavailable_reason
    from arena_gym.llm.profiles import available_profiles, load_profile

    from .policies import LOCAL_PRESET

    names = []
    for name in available_profiles():
        if name == "mock":
            continue
        if name == LOCAL_PRESET:
            if include_local and local_model_unavailable_reason() is None:
                names.append(name)
            continue
        if _provider_key_set(load_profile(name).model):
            names.append(name)
    return names


def _provider_key_set(model: str) -> bool:
    from importlib.util import find_spec

    if find_spec("litellm") is None:  # without the llm extra no hosted model can be called
        return False
    from arena_gym.llm.policy import import_litellm

    try:
        check = import_litellm().validate_environment(model=model)
    except Exception:  # litellm cannot tell for an unknown provider: treat as not configured
        return False
    return bool(check.get("keys_in_environment")) and not check.get("missing_keys")


def head_to_head(results: pd.DataFrame, policy: str, others: Sequence[str], score: str = "total_return") -> pd.DataFrame:
    """``policy`` against each of ``others`` on the episodes both finished (same window and seed).

    Columns: ``opponent``, ``episodes``, ``wins``, ``ties``, ``losses``, ``mean_difference``
    (mean of ``policy``'s score minus the opponent's) and ``mean_<score>`` of each side.
    """
    ok = results[results["status"] == "ok"]
    mine = ok[ok["policy"] == policy].set_index(["window", "seed"])[score]
    rows = []
    for other in others:
        theirs = ok[ok["policy"] == other].set_index(["window", "seed"])[score]
        both = mine.to_frame("a").join(theirs.to_frame("b"), how="inner")
        diff = both["a"] - both["b"]
        rows.append({"opponent": other, "episodes": len(both), "wins": int((diff > 0).sum()),
                     "ties": int((diff == 0).sum()), "losses": int((diff < 0).sum()),
                     "mean_difference": float(diff.mean()) if len(both) else float("nan"),
                     f"mean_{score}": float(both["a"].mean()) if len(both) else float("nan"),
                     f"opponent_mean_{score}": float(both["b"].mean()) if len(both) else float("nan")})
    return pd.DataFrame(rows)
