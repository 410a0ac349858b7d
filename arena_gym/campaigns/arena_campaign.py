"""One call from an env preset and a list of policies to a finished, reported evaluation.

:func:`run_arena` cuts the market into time splits, draws the evaluation windows of one split,
plays every policy on every window and seed (resumably, see :mod:`arena_gym.evaluation.runner`) and writes the
report (see :mod:`arena_gym.evaluation.evaluation_report`). :func:`ppo_against_field` trains
PPO (or reuses it) and runs it against other policies that way.
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

from arena_gym.evaluation.evaluation_report import write_report
from arena_gym.evaluation.progress import DEFAULT_EVERY_S
from arena_gym.evaluation.runner import evaluate, policy_slug
from arena_gym.evaluation.splits import SPLIT_NAMES, Splits, evaluation_windows, split_config, time_splits

#: EnvConfig fields every policy in one evaluation plays alike, so that its episodes compare: the
#: timing and capital of an episode, the tradable assets, and the settings that limit what a
#: numeric-action policy may do (its exposure cap and deadband). A policy's other
#: ``env_overrides`` (action and observation mode, lookback) only choose its interface.
#: Sub-folder of a ``daily`` evaluation holding the continuous runs its days are cut from.
CONTINUOUS_DIR = "continuous"
SHARED_FIELDS = ("bars_per_decision", "episode_length", "initial_capital", "assets", "leverage_cap", "deadband")


@dataclass(frozen=True)
class ArenaPlan:
    """Where and how to evaluate: split name, number of windows, env seeds and the window seed.

    ``date_windows`` (e.g. ``("2025-10-17T00:00..2025-10-28T00:00",)``) replaces the random
    windows of a split with fixed date ranges. ``daily`` plays each of them as one continuous
    run and ranks its UTC days, the day-by-day segments of that run (positions carried across
    midnight, partial days kept; see :mod:`.days`). ``flat_days`` instead plays every whole UTC
    day inside them as its own episode starting flat with the initial capital (partial days
    left out, see :mod:`arena_gym.evaluation.windows`).
    """

    split: str = "test"
    n_windows: int = 8
    seeds: tuple[int, ...] = (0, 1)
    window_seed: int = 0
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    date_windows: tuple[str, ...] = ()
    daily: bool = False
    flat_days: bool = False

    def __post_init__(self) -> None:
        if self.split not in SPLIT_NAMES:
            raise ValueError(f"unknown split {self.split!r}; available: {', '.join(SPLIT_NAMES)}")
        if (self.daily or self.flat_days) and not self.date_windows:
            raise ValueError("daily and flat_days cut date windows into days; give at least one date window")
        if self.daily and self.flat_days:
            raise ValueError("choose daily (the days of one continuous run) or flat_days (one flat-started episode "
                             "per day), not both")
        if not self.seeds:
            raise ValueError("need at least one seed")
        if self.n_windows < 1:
            raise ValueError(f"need at least one window, got {self.n_windows}")


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def shared_config(policies: Sequence[Any], config: EnvConfig) -> tuple[EnvConfig, dict[str, dict[str, Any]]]:
    """One env config for every policy of an evaluation, and which :data:`SHARED_FIELDS` moved.

    A policy trained under other settings (e.g. a PPO saved with ``bars_per_decision=4``,
    ``leverage_cap=1``) names them in its ``env_overrides``. When the policies that name a shared
    field agree, the whole field moves to that value, so every policy plays the same episodes
    with the same limits; the move is returned as ``{field: {"from": old, "to": new,
    "for": [policy names]}}`` for the tables to state. When ``bars_per_decision`` moves and no
    policy names an ``episode_length``, the episode keeps its span in time (408 hourly decisions
    become 102 decisions of 4 bars: still 17 days). When two policies need different values
    they cannot share one evaluation and a ValueError says how to run each.
    """
    wanted: dict[str, dict[Any, list[str]]] = {}
    for policy in policies:
        for field, value in dict(getattr(policy, "env_overrides", {}) or {}).items():
            if field not in SHARED_FIELDS or value is None:  # None: "the env's own" (e.g. every asset)
                continue
            value = tuple(value) if isinstance(value, list) else value
            wanted.setdefault(field, {}).setdefault(value, []).append(policy.name)
    moved: dict[str, dict[str, Any]] = {}
    for field, values in wanted.items():
        if len(values) > 1:
            needs = "; ".join(f"{', '.join(names)} need{'s' if len(names) == 1 else ''} {field}={_jsonable(v)}"
                              for v, names in values.items())
            raise ValueError(f"these policies cannot play one evaluation: {needs}. Evaluate each group on its own, "
                             f"e.g. arena-gym eval --policy ... --set {field}=...")
        (value, names), = values.items()
        if value != getattr(config, field):
            moved[field] = {"from": _jsonable(getattr(config, field)), "to": _jsonable(value), "for": names}
    step = moved.get("bars_per_decision")
    if step is not None and "episode_length" not in wanted and config.episode_length:
        span = config.episode_length * step["from"]
        moved["episode_length"] = {"from": config.episode_length, "to": max(1, round(span / step["to"])),
                                   "for": step["for"]}
    if moved:
        config = replace(config, **{field: (tuple(m["to"]) if isinstance(m["to"], list) else m["to"])
                                    for field, m in moved.items()})
    check_comparable(policies, config)
    return config, moved


def check_comparable(policies: Sequence[Any], config: EnvConfig) -> None:
    """Refuse policies whose env overrides change a :data:`SHARED_FIELDS` field of ``config``."""
    for policy in policies:
        overrides = dict(getattr(policy, "env_overrides", {}) or {})
        clash = {k: v for k, v in overrides.items()
                 if k in SHARED_FIELDS and v is not None and _jsonable(v) != _jsonable(getattr(config, k))}
        if clash:
            current = {k: getattr(config, k) for k in clash}
            raise ValueError(f"policy {policy.name!r} needs {clash} but the env has {current}; evaluate it "
                             f"with those settings (e.g. --set {next(iter(clash))}={next(iter(clash.values()))}) "
                             f"so that every policy plays the same episodes")


@contextlib.contextmanager
def built_policies(specs: Sequence[str], *, llm_cache_dir: str | Path | None = None,
                   **llm_kwargs: Any) -> Iterator[list[Any]]:
    """The policies of ``specs`` (see :func:`~.policy_specs.policy_from_spec`, which gets ``llm_kwargs``);
    those holding resources (LLM event loops, the local model server) are closed afterwards.
    Every spec is checked (:func:`~.policy_specs.check_spec`) before any is built, so a typo in the
    last one fails before the local model's server starts for the first.

    With ``llm_cache_dir``, each LLM contestant records and replays its calls in ``auto`` mode at
    ``llm_cache_dir/<spec>.jsonl``."""
    from .policy_specs import check_spec, policy_from_spec

    for spec in specs:
        check_spec(spec, **llm_kwargs)
    policies: list[Any] = []
    try:
        for spec in specs:
            kwargs = dict(llm_kwargs)
            if llm_cache_dir is not None and spec.split("=", 1)[-1].startswith("llm:"):
                kwargs.update(cache=str(Path(llm_cache_dir) / f"{policy_slug(spec)}.jsonl"), cache_mode="auto")
            policies.append(policy_from_spec(spec, **kwargs))
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
    executor: Any = None,
    n_surrogates: int = 1000,
    decision_lines_every_s: float = DEFAULT_EVERY_S,
) -> dict[str, Any]:
    """Evaluate ``policies`` on ``plan.n_windows`` windows of ``plan.split`` (or on
    ``plan.date_windows``) and write the report.

    Every policy plays one env config: :func:`shared_config` moves the shared fields a
    trained policy needs (and refuses policies that need different ones); the moves are saved
    in ``config.json`` as ``moved_fields`` and stated by the report and the printed tables.

    Returns the report's summary (``leaderboard``, ``metrics``, ``metrics_ci``, ``ok``,
    ``errors``, ``paths``, ``env_line``) plus ``splits`` (None for date windows), ``windows`` and
    ``moved_fields``. ``executor`` plays the episodes (see :func:`~arena_gym.evaluation.runner.evaluate`; default: in
    this process). With ``progress``, the LLMs played in this process get decision lines, at
    most one per policy every ``decision_lines_every_s`` seconds (see :mod:`arena_gym.evaluation.progress`).

    Before the report, :func:`~arena_gym.evaluation.significance.evaluation_significance` tests every policy's result
    against chance (``n_surrogates`` random-entry surrogates per episode; 0 skips it) and the
    report carries the table (kept as it is when a rerun played nothing new).
    """
    config, moved = shared_config(policies, config)
    if plan.date_windows:
        from arena_gym.evaluation.windows import DateWindow, daily_windows, left_out_notes, pinned_plan

        dated = [DateWindow.parse(w) for w in plan.date_windows]
        pinned = pinned_plan(market, config, daily_windows(dated) if plan.flat_days else dated)
        splits, eval_config, windows = None, pinned.config, list(pinned.starts)
        facts = {**pinned.as_dict(), "moved_fields": moved, **(extra or {})}
        if plan.flat_days:
            facts["notes"] = ["Flat days: every whole UTC day is its own episode starting flat with the initial "
                              "capital (positions do not carry across midnight)", *left_out_notes(dated)]
    else:
        splits = splits_for(market, config, plan)
        eval_config = split_config(config, splits, plan.split)
        windows = evaluation_windows(market, eval_config, plan.n_windows, seed=plan.window_seed)
        facts = {"splits": splits.as_dict(), "split": plan.split, "window_seed": plan.window_seed,
                 "moved_fields": moved, **(extra or {})}
    if plan.daily:   # steps that cross midnight fail here, before any episode is played
        from arena_gym.evaluation.days import day_bounds

        step = pd.Timedelta(seconds=market.bar_seconds * eval_config.bars_per_decision)
        for window in dated:
            day_bounds(window, step)
    played = Path(out_dir) / CONTINUOUS_DIR if plan.daily else out_dir
    results = evaluate(policies, market, eval_config, windows, list(plan.seeds), played, extra=facts,
                       progress=progress, concurrency=concurrency, retry_errors=retry_errors, executor=executor,
                       decision_lines_every_s=decision_lines_every_s)
    from arena_gym.evaluation.significance import evaluation_significance, remove_significance, significance_is_current

    # the null plays whole episodes: with --daily, those of the continuous runs (their report carries it)
    if n_surrogates > 0 and (results["status"] == "ok").any():
        if not significance_is_current(played, n_surrogates=n_surrogates, reps=n_boot):
            evaluation_significance(played, market, eval_config, n_surrogates=n_surrogates, reps=n_boot)
    else:
        remove_significance(played)   # no stale table from an earlier run
    if plan.daily:
        from arena_gym.evaluation.days import cut_into_days

        write_report(played, title=f"{title or 'arena-gym evaluation'} (continuous runs)", n_boot=n_boot)
        days = cut_into_days(played, out_dir)
        windows = list(days.starts)
    summary = write_report(out_dir, title=title, n_boot=n_boot)
    summary.update({"splits": splits, "windows": windows, "moved_fields": moved})
    return summary


def trained_ppo(market: MarketData, config: EnvConfig, splits: Splits, folder: str | Path,
                preset: dict[str, Any], total_timesteps: int | None = None, log=print) -> Path:
    """``folder/best_model.zip``, trained on ``splits.train`` unless the folder already holds it."""
    from arena_gym.training.ppo_training import train_ppo

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
    n_surrogates: int = 1000,
    decision_lines_every_s: float = DEFAULT_EVERY_S,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train PPO on the train split and evaluate it, labelled ``ppo``, against ``opponents``.

    The env takes the PPO preset's ``[env]`` fields (episode timing, action and observation
    settings), so every policy plays the episodes PPO is trained for; baselines and LLMs still
    apply their own ``env_overrides`` on top. The model goes to ``out_dir/ppo`` and is reused
    when there (see :func:`trained_ppo`); the evaluation is :func:`run_arena` into ``out_dir``.

    Args:
        opponents: policy specs (see :data:`~.policy_specs.SPEC_FORMS`), checked before training (see
            :func:`~.policy_specs.check_spec`), built after it and closed at the end.
        preset: a PPO preset as read by :func:`~arena_gym.training.ppo_training.load_policy_preset` (default ``ppo``).
        total_timesteps: overrides the preset's ``[train] total_timesteps``.
        n_surrogates: random-entry surrogates per policy and episode (see :func:`run_arena`).
        decision_lines_every_s: least seconds between two decision lines of an LLM (see :func:`run_arena`).
        log: receives the progress lines.

    Returns:
        :func:`run_arena`'s summary plus ``ppo_model``, the path of the model played.
    """
    from .policy_specs import check_spec
    from arena_gym.training.ppo_training import load_policy_preset

    for spec in opponents:   # a typo or a missing key fails now, not after training
        check_spec(spec)
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
                            concurrency=concurrency, n_surrogates=n_surrogates,
                            decision_lines_every_s=decision_lines_every_s)
    log("[3/3] Report written")
    summary["ppo_model"] = model
    return summary


def splits_for(market: MarketData, config: EnvConfig, plan: ArenaPlan = ArenaPlan()) -> Splits:
    """The splits :func:`run_arena` uses for this market and config (train on ``.train``)."""
    return time_splits(market.n_bars, plan.fractions, lookback=config.lookback)


def with_fields(config: EnvConfig, fields: dict[str, Any]) -> EnvConfig:
    """``config`` with fields replaced (TOML/JSON lists become tuples)."""
    return replace(config, **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


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
