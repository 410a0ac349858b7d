"""Could a result be chance? One table per evaluation: the random-entry null, PSR and DSR, SPA,
StepM, the Model Confidence Set and block-bootstrap intervals.

:func:`significance_table` takes what the runner recorded of every contestant (its episodes:
start bar, equity curve, trades; see :class:`~.null.Episode`) and the env they played, and
returns a :class:`Significance`: one row per contestant with

=====================  ============================================================================
``null_p_return``      random-entry null p-value of the mean return per episode (:mod:`.null`)
``null_p_sharpe``      same for the annualized Sharpe ratio
``null_return_*``      the surrogates' median and 5-95 % range of the return (fraction per episode)
``psr``, ``dsr``       probabilistic Sharpe ratio against 0 and deflated Sharpe ratio for the number
                       of contestants compared (:mod:`.sharpe`), from per-step returns, with
                       ``skew``, ``kurtosis`` and ``n_returns``
``return_ci_*``        stationary block-bootstrap 95 % interval of the return per episode (fraction)
``sharpe_ci_*``        same for the annualized Sharpe ratio
``beats``              the benchmarks the contestant beats at 5 % after the correction for
                       comparing many (Romano-Wolf StepM), e.g. ``"buy_and_hold, hold_cash"``;
                       ``""`` when none
``in_mcs``             whether the contestant is in the 5 % Model Confidence Set of the best
``note``               why a value is n/a
=====================  ============================================================================

and, across contestants, the SPA p-values against each benchmark, the block lengths and
replication counts used, and the seconds each part took (:attr:`Significance.notes`).

Per-step returns of a contestant are its episodes' simple returns, stacked in (window, seed)
order; the joint tests (SPA, StepM, MCS) use the episodes every contestant finished. The
benchmarks are ``buy_and_hold`` and ``hold_cash`` when they played; ``hold_cash`` is added as
zero returns when it did not (never trading, its equity does not move).

:func:`evaluation_significance` does all of it for an evaluation folder of
:func:`~.runner.evaluate` and writes ``significance.csv``, ``significance.json`` and
``null_distributions.parquet`` there, which :func:`~.evaluation_report.write_report` shows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData

from .comparison import MIN_BOOTSTRAP_RETURNS, benchmark_tests, bootstrap_intervals, confidence_set
from .metrics import simple_returns, steps_per_year
from .null import Episode, NullResult, null_tests
from .sharpe import sharpe_inference

#: Benchmarks of the corrected comparison, in the order the ``beats`` column lists them.
BENCHMARKS = ("buy_and_hold", "hold_cash")
TABLE_NAME = "significance.csv"
FACTS_NAME = "significance.json"
NULL_NAME = "null_distributions.parquet"

SIGNIFICANCE_LEGEND = (
    "null p: share of the surrogates (the contestant's own trades at random entry times, same coins, sides, "
    "sizes, leverage and holding times, same env) doing at least as well, +1 corrected; small = the timing "
    "mattered. null return %: the surrogates' median [5 %, 95 %] return per episode. PSR: probability that the "
    "true Sharpe ratio is above 0; DSR: the same against the best Sharpe ratio of as many luck-only contestants "
    "as the table compares. beats: benchmarks it beats at 5 % after the Romano-Wolf correction for comparing many "
    "(StepM on per-step returns). MCS: in the 5 % Model Confidence Set of the best. Intervals: stationary "
    "block-bootstrap 95 %.")


@dataclass
class Significance:
    """The result of :func:`significance_table` (module docstring)."""

    table: pd.DataFrame
    null: dict[str, NullResult]
    spa: dict[str, dict[str, float]]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        """JSON-friendly: SPA p-values, notes, timings and the settings it was made with."""
        return {"spa": self.spa, "notes": self.notes, "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "settings": self.settings}


def _returns_frame(contestants: Mapping[str, Sequence[Episode]]) -> tuple[pd.DataFrame, list[str]]:
    """Per-step returns over the (window, seed) episodes every contestant finished, stacked."""
    keys = None
    for episodes in contestants.values():
        mine = {(e.window, e.seed) for e in episodes}
        keys = mine if keys is None else keys & mine
    keys = sorted(keys or ())
    notes = []
    dropped = sorted({k for eps in contestants.values() for k in ((e.window, e.seed) for e in eps)} - set(keys))
    if dropped:
        notes.append(f"joint tests use the {len(keys)} episodes every contestant finished ({len(dropped)} left out)")
    columns = {}
    for name, episodes in contestants.items():
        by_key = {(e.window, e.seed): e for e in episodes}
        columns[name] = np.concatenate([simple_returns(by_key[k].equity) for k in keys]) if keys else np.zeros(0)
    return pd.DataFrame(columns), notes


def significance_table(contestants: Mapping[str, Sequence[Episode]], market: MarketData, config: EnvConfig, *,
                       configs: Mapping[str, EnvConfig] | None = None, benchmarks: Mapping[str, Sequence[Episode]]
                       | None = None, n_surrogates: int = 1000, n_trials: int | None = None, size: float = 0.05,
                       reps: int = 1000, seed: int = 0) -> Significance:
    """The significance of every contestant's result (module docstring).

    Args:
        contestants: name -> the episodes it played (:class:`~.null.Episode`: start bar, (T + 1,)
            equity curve from the reset, trades frame, window and seed).
        market: the market they played.
        config: the env config of the evaluation (rules, fees, margin, ``episode_length``,
            ``bars_per_decision``); ``configs`` may give a contestant its own (its overrides).
        benchmarks: episodes of benchmark policies that are not contestants (e.g. a
            ``buy_and_hold`` played only to compare with); a contestant named like a benchmark
            is used as it.
        n_surrogates: random-entry surrogates per contestant (and per episode).
        n_trials: strategies and configurations the table chose among, for the DSR (default:
            the contestants with a defined Sharpe ratio).
        size: level of StepM and of the Model Confidence Set.
        reps: bootstrap replications of SPA, StepM, MCS and the intervals.
        seed: seeds every random draw.
    """
    if not contestants:
        raise ValueError("no contestant to test")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    null: dict[str, NullResult] = {}
    configs = dict(configs or {})
    by_config: dict[str, dict[str, Sequence[Episode]]] = {}
    for name, episodes in contestants.items():
        cfg = configs.get(name, config)
        by_config.setdefault(json.dumps(cfg.as_dict(), sort_keys=True, default=str), {})[name] = episodes
    for group in by_config.values():
        cfg = configs.get(next(iter(group)), config)
        null.update(null_tests(group, market, cfg, n_surrogates=n_surrogates, seed=seed))
    seconds["null"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    everyone = {**dict(benchmarks or {}), **dict(contestants)}
    returns, notes = _returns_frame(everyone)
    if "hold_cash" not in returns.columns and len(returns):
        returns["hold_cash"] = 0.0
        notes.append("hold_cash did not play: its returns are 0 (never trading, its equity does not move)")
    contestant_returns = returns[list(contestants)]
    sharpe = sharpe_inference({n: contestant_returns[n].to_numpy() for n in contestants}, n_trials=n_trials)
    steps = len(next(iter(contestants.values()))[0].equity) - 1       # decisions per episode
    per_year = steps_per_year(market.bar_seconds * config.bars_per_decision)
    intervals = {n: bootstrap_intervals(contestant_returns[n].to_numpy(), steps, per_year, reps=reps, seed=seed)
                 for n in contestants} if len(returns) else {}
    seconds["sharpe_and_intervals"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    beats: dict[str, list[str]] = {n: [] for n in contestants}
    spa: dict[str, dict[str, float]] = {}
    for bench in BENCHMARKS:
        if bench not in returns.columns:
            notes.append(f"{bench} did not play: no comparison against it")
            continue
        if len(returns) < MIN_BOOTSTRAP_RETURNS:
            notes.append(f"too few returns ({len(returns)}) for SPA and StepM against {bench}")
            continue
        frame = returns[[*[n for n in contestants if n != bench], bench]]
        test = benchmark_tests(frame, bench, size=size, reps=reps, seed=seed)
        spa[bench] = test.spa_pvalues
        for name in test.superior:
            beats[name].append(bench)
        notes.append(f"against {bench}: SPA p-value {test.spa_pvalues['consistent']:.3g} (consistent; lower "
                     f"{test.spa_pvalues['lower']:.3g}, upper {test.spa_pvalues['upper']:.3g}) that no contestant "
                     f"beats it; StepM at {size:.0%}: {', '.join(test.superior) or 'none'} better; stationary "
                     f"bootstrap, mean block {test.block_length} steps, {test.reps} replications")
    mcs = confidence_set(contestant_returns, size=size, reps=reps, seed=seed) \
        if len(returns) >= MIN_BOOTSTRAP_RETURNS else None
    if mcs is not None:
        notes.append(f"Model Confidence Set at {size:.0%} (range statistic): {', '.join(mcs.included)}; mean block "
                     f"{mcs.block_length} steps, {mcs.reps} replications")
    seconds["spa_stepm_mcs"] = time.perf_counter() - t0
    if intervals:
        blocks = sorted({iv.block_length for iv in intervals.values()})
        notes.append(f"return and Sharpe intervals: stationary bootstrap, mean block {blocks[0]}"
                     f"{'-' + str(blocks[-1]) if len(blocks) > 1 else ''} steps, {reps} replications, 95 % "
                     f"percentile")
    trials = int(sharpe["n_trials"].iloc[0]) if len(sharpe) else 0
    notes.append(f"DSR deflated for {trials} trials (the contestants compared), benchmark Sharpe "
                 f"{sharpe['sr0_per_step'].iloc[0]:.4g} per step" if len(sharpe) else "no Sharpe ratios")
    notes.append(f"random-entry null: {n_surrogates} surrogates per contestant and episode in "
                 f"{seconds['null']:.1f} s")

    rows = []
    for name in contestants:
        res, s = null[name], sharpe.loc[name]
        iv = intervals.get(name)
        reasons = [r for r in (res.reason, s["note"]) if r]
        if iv is not None and iv.note and not s["note"]:
            reasons.append(iv.note)
        rows.append({
            "policy": name, "null_p_return": res.p_return, "null_p_sharpe": res.p_sharpe,
            "null_return_median": res.return_median, "null_return_low": res.return_low,
            "null_return_high": res.return_high, "null_replayed_return": res.replayed_return,
            "null_trades": res.n_trades, "psr": s["psr"], "dsr": s["dsr"], "sharpe_per_step": s["sharpe_per_step"],
            "skew": s["skew"], "kurtosis": s["kurtosis"], "n_returns": s["n_returns"],
            "return_ci_low": iv.return_low if iv else np.nan, "return_ci_high": iv.return_high if iv else np.nan,
            "sharpe_ci_low": iv.sharpe_low if iv else np.nan, "sharpe_ci_high": iv.sharpe_high if iv else np.nan,
            "block_length": iv.block_length if iv else np.nan,
            "beats": ", ".join(beats[name]), "in_mcs": bool(mcs is not None and name in mcs.included),
            "mcs_pvalue": mcs.pvalues.get(name, np.nan) if mcs is not None else np.nan,
            "note": "; ".join(reasons)})
    table = pd.DataFrame(rows).set_index("policy")
    return Significance(table, null, spa, notes, seconds)


# ---------------------------------------------------------------------- evaluation folders
def folder_episodes(out_dir: str | Path, initial_capital: float) -> dict[str, list[Episode]]:
    """Every finished episode of an evaluation folder (:mod:`.runner`), per policy."""
    from .runner import EPISODES_DIR, load_results, policy_slug

    out_dir = Path(out_dir)
    results = load_results(out_dir)
    if results.empty:
        return {}
    ok = results[results["status"] == "ok"]
    out: dict[str, list[Episode]] = {}
    for row in ok.itertuples(index=False):
        stem = out_dir / EPISODES_DIR / policy_slug(row.policy) / f"w{int(row.window):03d}-s{int(row.seed)}"
        steps = pd.read_parquet(stem.with_name(stem.name + ".steps.parquet"))
        trades = pd.read_parquet(stem.with_name(stem.name + ".trades.parquet"))
        equity = np.concatenate([[initial_capital], steps["equity"].to_numpy(dtype=np.float64)])
        out.setdefault(row.policy, []).append(Episode(int(row.start), equity, trades, int(row.window), int(row.seed)))
    return out


def benchmark_episodes(market: MarketData, config: EnvConfig, keys: Sequence[tuple[int, int, int]],
                       names: Sequence[str] = BENCHMARKS) -> dict[str, list[Episode]]:
    """Episodes of the baselines ``names`` on ``keys`` ((window, start, seed)), played here."""
    from arena_gym.agents.baselines import make_baseline
    from .runner import EpisodeKey, play_episode

    out: dict[str, list[Episode]] = {}
    for name in names:
        policy = make_baseline(name)
        cfg = replace(config, **policy.env_overrides)
        for window, start, seed in keys:
            _, steps, trades = play_episode(policy, market, cfg, EpisodeKey(name, window, start, seed))
            equity = np.concatenate([[config.initial_capital], steps["equity"].to_numpy(dtype=np.float64)])
            out.setdefault(name, []).append(Episode(start, equity, trades, window, seed))
    return out


def evaluation_significance(out_dir: str | Path, market: MarketData, config: EnvConfig, *,
                            n_surrogates: int = 1000, n_trials: int | None = None, reps: int = 1000, seed: int = 0,
                            log: Callable[[str], None] | None = None) -> Significance:
    """:func:`significance_table` of an evaluation folder, written next to it (module docstring).

    ``config`` is the config the folder was evaluated with; each policy's ``env_overrides``
    (saved in ``config.json``) are applied to it for its null. ``buy_and_hold`` is played on
    the folder's episodes when it is not a contestant, to compare with.
    """
    out_dir = Path(out_dir)
    plan = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    contestants = folder_episodes(out_dir, config.initial_capital)
    if not contestants:
        raise ValueError(f"{out_dir} holds no finished episode to test")
    configs = {}
    for name, facts in plan.get("policies", {}).items():
        overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in (facts.get("env_overrides") or {}).items()}
        if name in contestants and overrides:
            configs[name] = replace(config, **overrides)
    keys = sorted({(e.window, e.start, e.seed) for eps in contestants.values() for e in eps})
    missing = [b for b in BENCHMARKS if b not in contestants and b != "hold_cash"]
    if log is not None:
        log(f"significance: {len(contestants)} contestants, {n_surrogates} random-entry surrogates each")
    extra = benchmark_episodes(market, config, keys, missing) if missing else {}
    result = significance_table(contestants, market, config, configs=configs, benchmarks=extra,
                                n_surrogates=n_surrogates, n_trials=n_trials, reps=reps, seed=seed)
    if missing:
        result.notes.append(f"{', '.join(missing)} played on the same episodes as a benchmark only")
    result.settings = _settings(out_dir, n_surrogates, n_trials, reps, seed)
    write_significance(out_dir, result)
    return result


def _settings(out_dir: Path, n_surrogates: int, n_trials: int | None, reps: int, seed: int) -> dict[str, Any]:
    """What a significance table was computed from: its settings and the episode log's size."""
    from .runner import LOG_NAME

    log = Path(out_dir) / LOG_NAME
    return {"n_surrogates": n_surrogates, "n_trials": n_trials, "reps": reps, "seed": seed,
            "log_bytes": log.stat().st_size if log.is_file() else 0}


def significance_is_current(out_dir: str | Path, *, n_surrogates: int = 1000, n_trials: int | None = None,
                            reps: int = 1000, seed: int = 0) -> bool:
    """Whether ``out_dir`` holds a significance table made with these settings from the episode
    log as it is now (a rerun that played nothing new need not compute it again)."""
    path = Path(out_dir) / FACTS_NAME
    if not (path.is_file() and (Path(out_dir) / TABLE_NAME).is_file()):
        return False
    facts = json.loads(path.read_text(encoding="utf-8"))
    return facts.get("settings") == _settings(Path(out_dir), n_surrogates, n_trials, reps, seed)


def write_significance(out_dir: str | Path, result: Significance) -> None:
    """``significance.csv``, ``significance.json`` and ``null_distributions.parquet`` in ``out_dir``."""
    out_dir = Path(out_dir)
    result.table.to_csv(out_dir / TABLE_NAME)
    (out_dir / FACTS_NAME).write_text(json.dumps(result.facts(), indent=1, default=float), encoding="utf-8")
    frames = []
    for name, res in result.null.items():
        if res.surrogate_returns.size:
            frames.append(pd.DataFrame({"policy": name, "surrogate": np.arange(res.surrogate_returns.size),
                                        "total_return": res.surrogate_returns, "sharpe": res.surrogate_sharpes,
                                        "observed_return": res.replayed_return,
                                        "observed_sharpe": res.replayed_sharpe}))
    columns = ["policy", "surrogate", "total_return", "sharpe", "observed_return", "observed_sharpe"]
    (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)).to_parquet(
        out_dir / NULL_NAME, index=False)


def remove_significance(out_dir: str | Path) -> None:
    """Delete the files of :func:`write_significance` from ``out_dir`` (where they exist)."""
    for name in (TABLE_NAME, FACTS_NAME, NULL_NAME):
        (Path(out_dir) / name).unlink(missing_ok=True)


def read_significance(out_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame] | None:
    """(table, facts, null distributions) written by :func:`write_significance`, or ``None``."""
    out_dir = Path(out_dir)
    if not (out_dir / TABLE_NAME).is_file():
        return None
    table = pd.read_csv(out_dir / TABLE_NAME, index_col="policy", dtype={"policy": str, "beats": str, "note": str})
    table["beats"] = table["beats"].fillna("")
    table["note"] = table["note"].fillna("")
    facts = json.loads((out_dir / FACTS_NAME).read_text(encoding="utf-8")) if (out_dir / FACTS_NAME).is_file() else {}
    null = pd.read_parquet(out_dir / NULL_NAME) if (out_dir / NULL_NAME).is_file() else pd.DataFrame()
    return table, facts, null


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The significance table as text cells, every header with its unit (see :data:`SIGNIFICANCE_LEGEND`)."""
    def num(v: float, fmt: str) -> str:
        return "n/a" if v is None or not np.isfinite(v) else fmt.format(v)

    out = pd.DataFrame(index=table.index)
    out["null p (return)"] = [num(v, "{:.3f}") for v in table["null_p_return"]]
    out["null p (Sharpe)"] = [num(v, "{:.3f}") for v in table["null_p_sharpe"]]
    out["null return %/episode median [5, 95]"] = [
        "n/a" if not np.isfinite(m) else f"{100 * m:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
        for m, lo, hi in zip(table["null_return_median"], table["null_return_low"], table["null_return_high"])]
    out["PSR"] = [num(v, "{:.3f}") for v in table["psr"]]
    out["DSR"] = [num(v, "{:.3f}") for v in table["dsr"]]
    out["return %/episode 95 % CI"] = [
        "n/a" if not np.isfinite(lo) else f"[{100 * lo:+.2f}, {100 * hi:+.2f}]"
        for lo, hi in zip(table["return_ci_low"], table["return_ci_high"])]
    out["beats (5 %, corrected)"] = [b if b else "-" for b in table["beats"]]
    out["MCS 5 %"] = ["yes" if v else "no" for v in table["in_mcs"]]
    out["note"] = table["note"]
    out.index.name = "policy"
    return out


def format_significance(table: pd.DataFrame) -> str:
    """:func:`display_table` as aligned text."""
    return display_table(table).to_string()
