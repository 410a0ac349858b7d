"""Days cut from one continuous run: the day-by-day segments of each episode of an evaluation.

A contestant's days are not separate episodes that each start flat: they are the UTC days of its
one continuous run over the window, positions carried across midnight. :func:`cut_into_days`
reads a finished evaluation folder (see :mod:`.runner`) whose episodes are such continuous runs
and writes a second evaluation folder with one episode per ``(day, seed)`` and contestant,
which the report (:func:`~.evaluation_report.write_report`) reads like any other:

* a day's equity curve starts at the equity the run had at the previous midnight (the initial
  capital on the first day) and holds the run's own equity after each step of the day, so a
  contestant's daily returns compound exactly to its return over the window;
* a day's costs, liquidations and LLM calls are the run's during that day (differences of the
  run's running totals); its trades are those that closed during the day (a trade is counted on
  the day it closed; at the window's end open positions close as the run's ``end`` trades);
* a partial day at either end of the window (e.g. 00:00-08:00 of its last day) is kept as its own,
  shorter segment, stated in the notes and in ``hours``, so that the days still compound to the
  window;
* after a run ended early (the account was closed), its remaining days hold the final equity
  flat (an account with nothing left has returns of 0, the metrics' convention).

Also written: ``daily_returns.csv``, one row per contestant, seed and day, units in its headers.
Every decision step must lie inside one UTC day (a step of ``bars_per_decision`` bars that
crosses midnight cannot be cut there): else a ValueError says so. The folder is rewritten from
the source each time, so it resumes with the source.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .metrics import episode_metrics, exposure_from_positions
from .runner import CONFIG_NAME, EpisodeKey, LOG_NAME, episode_stem, load_results
from .windows import DateWindow

#: File of the per-day returns, in the day folder.
DAILY_RETURNS_NAME = "daily_returns.csv"
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class DaySegments:
    """What :func:`cut_into_days` wrote: the per-day returns table, the day labels, the bar each
    day's segment starts after (one per day, as the runner's window starts) and the notes."""

    returns: pd.DataFrame
    days: tuple[str, ...]
    starts: tuple[int, ...]
    notes: tuple[str, ...]


def day_bounds(window: DateWindow, step: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[begin, end)`` of every UTC day (or part of one) in ``window``, whose decision steps last ``step``.

    Raises:
        ValueError: a decision step crosses midnight.
    """
    out, t = [], window.start
    while t < window.end:
        nxt = min(t.floor("D") + DAY, window.end)
        if (t - window.start) % step or (nxt - window.start) % step:
            raise ValueError(f"decision steps of {step} cross midnight in window {window.label}: they cannot be cut "
                             "into UTC days; use a step that divides a day and a window that starts on a step boundary")
        out.append((t, nxt))
        t = nxt
    return out


def _segment_metrics(equity: np.ndarray, rows: pd.DataFrame, trades: pd.DataFrame, symbols: Sequence[str],
                     before: dict[str, float], seconds_per_step: float, n_steps: int) -> dict[str, float]:
    """Metrics of one day: ``equity`` from the previous midnight, the day's step ``rows`` and closed
    ``trades``, ``before`` the run's running totals at the previous midnight."""
    if rows.empty:   # the run had ended: the final equity held flat (0 returns after ruin)
        level = equity[0] if equity[0] > 0 else 1.0
        flat = np.full(max(n_steps, 1) + 1, level)
        return episode_metrics(flat, seconds_per_step, trades=trades,
                               totals={"fees_paid": 0.0, "funding_paid": 0.0, "n_liquidations": 0.0})
    notional = rows[[f"pos_{s}" for s in symbols]].to_numpy(dtype=np.float64)
    last = rows.iloc[-1]
    totals = {"fees_paid": float(last["fees_paid"]) - before["fees_paid"],
              "funding_paid": float(last["funding_paid"]) - before["funding_paid"],
              "n_liquidations": float(last["liquidations"]) - before["liquidations"]}
    llm = None
    if "prompt_tokens" in rows.columns and rows["prompt_tokens"].notna().any():
        calls = rows[rows["prompt_tokens"].notna()]
        llm = {"n_decisions": len(calls), "n_invalid": int(calls["invalid_output"].astype(bool).sum()),
               "prompt_tokens": float(calls["prompt_tokens"].sum()),
               "completion_tokens": float(calls["completion_tokens"].sum()),
               "cost_usd": float(calls["cost_usd"].sum(skipna=False)) if "cost_usd" in calls else float("nan"),
               "latency_s": calls["latency_s"].to_list() if "latency_s" in calls else []}
    return episode_metrics(equity, seconds_per_step, trades=trades,
                           exposure=exposure_from_positions(notional, equity[1:]), totals=totals, llm=llm)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def cut_into_days(source_dir: str | Path, out_dir: str | Path, notes: Sequence[str] = ()) -> DaySegments:
    """Cut every episode of the evaluation in ``source_dir`` (continuous runs over date windows)
    into its UTC days and write them as the evaluation folder ``out_dir`` (module docstring),
    with ``daily_returns.csv``. ``notes`` are added to the folder's notes (shown by the report).

    Raises:
        FileNotFoundError: ``source_dir`` holds no finished evaluation.
        ValueError: a decision step crosses midnight.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not (source_dir / CONFIG_NAME).is_file() or not (source_dir / LOG_NAME).is_file():
        raise FileNotFoundError(f"{source_dir} holds no evaluation to cut into days ({CONFIG_NAME} or {LOG_NAME} "
                                "is missing)")
    plan = json.loads((source_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    env, market = plan["env"], plan["market"]
    bar = pd.Timedelta(seconds=int(market["bar_seconds"]))
    per_step = int(env.get("bars_per_decision", 1))
    step = bar * per_step
    capital = float(env["initial_capital"])
    symbols = list(env.get("assets") or market["symbols"])
    results = load_results(source_dir)
    if not plan.get("date_windows"):
        raise ValueError(f"{source_dir} is not an evaluation over date windows (no date_windows in {CONFIG_NAME}); "
                         "only runs over dated windows can be cut into UTC days")
    windows = [DateWindow.parse(label) for label in plan["date_windows"]]
    bounds_of = [day_bounds(w, step) for w in windows]
    day_index: dict[tuple[int, pd.Timestamp], int] = {}
    labels, starts = [], []
    for w, (window, bounds) in enumerate(zip(windows, bounds_of)):
        for begin, end in bounds:
            day_index[(w, begin)] = len(labels)
            labels.append(f"{begin:%Y-%m-%dT%H:%M}..{end:%Y-%m-%dT%H:%M}")
            starts.append(int(plan["windows"][w]) + int((begin - window.start) / bar))
    whole_day_steps = int(DAY / step)
    out_dir.mkdir(parents=True, exist_ok=True)
    records, table = [], []
    for row in results.itertuples(index=False):
        key = EpisodeKey(row.policy, int(row.window), int(row.start), int(row.seed))
        bounds = bounds_of[key.window]
        if row.status != "ok":
            for begin, _ in bounds:
                records.append({"policy": key.policy, "window": day_index[(key.window, begin)], "seed": key.seed,
                                "start": starts[day_index[(key.window, begin)]], "status": "error",
                                "error": f"the continuous run failed: {row.error}", "seconds": 0.0, "metrics": {}})
            continue
        stem = episode_stem(source_dir, key)
        steps = pd.read_parquet(stem.with_name(stem.name + ".steps.parquet"))
        trades = pd.read_parquet(stem.with_name(stem.name + ".trades.parquet"))
        step_end = pd.to_datetime(steps["time"], utc=True) + bar
        exits = pd.to_datetime(trades["exit_time"], utc=True) if len(trades) else None
        equity_before = capital
        before = {"fees_paid": 0.0, "funding_paid": 0.0, "liquidations": 0.0}
        for begin, end in bounds:
            inside = ((step_end > begin) & (step_end <= end)).to_numpy()
            rows = steps[inside]
            day_trades = trades[((exits >= begin) & (exits < end)).to_numpy()] if exits is not None else trades
            span = int((end - begin) / step)
            equity = np.r_[equity_before, rows["equity"].to_numpy(dtype=np.float64)]
            metrics = _segment_metrics(equity, rows, day_trades, symbols, before, step.total_seconds(), span)
            d = day_index[(key.window, begin)]
            day_key = EpisodeKey(key.policy, d, starts[d], key.seed)
            day_stem = episode_stem(out_dir, day_key)
            day_stem.parent.mkdir(parents=True, exist_ok=True)
            _write_parquet(rows, day_stem.with_name(day_stem.name + ".steps.parquet"))
            _write_parquet(day_trades, day_stem.with_name(day_stem.name + ".trades.parquet"))
            records.append({"policy": key.policy, "window": d, "start": starts[d], "seed": key.seed, "status": "ok",
                            "error": None, "seconds": 0.0, "metrics": metrics})
            end_equity = float(equity[-1])
            table.append({"contestant": key.policy, "seed": key.seed, "day (UTC)": f"{begin:%Y-%m-%d}",
                          "segment (UTC)": labels[d], "hours": (end - begin) / pd.Timedelta(hours=1),
                          "start equity $": equity_before, "end equity $": end_equity,
                          "return %": 100.0 * metrics["total_return"], "fees $": metrics["fees_paid"],
                          "funding $": metrics["funding_paid"], "trades closed": int(metrics["n_trades"]),
                          "liquidations": int(metrics["n_liquidations"]),
                          "avg exposure x equity": metrics.get("avg_gross_leverage", 0.0)})
            if len(rows):
                last = rows.iloc[-1]
                before = {k: float(last[k]) for k in before}
            equity_before = end_equity
    all_notes = [*notes, *_partial_day_notes(labels, whole_day_steps * step),
                 "Days are the UTC days of each contestant's one continuous run over the window (positions carried "
                 "across midnight), not separate episodes: daily returns compound to the window's return; a trade "
                 "counts on the day it closed."]
    day_plan = {**plan, "env": {**env, "episode_length": whole_day_steps}, "windows": starts, "date_windows": labels,
                "day_segments_of": os.path.relpath(source_dir, out_dir), "notes": all_notes}
    (out_dir / CONFIG_NAME).write_text(json.dumps(day_plan, indent=2, default=str), encoding="utf-8")
    tmp = out_dir / (LOG_NAME + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    tmp.replace(out_dir / LOG_NAME)
    returns = pd.DataFrame(table)
    returns.to_csv(out_dir / DAILY_RETURNS_NAME, index=False)
    return DaySegments(returns, tuple(labels), tuple(starts), tuple(all_notes))


def _partial_day_notes(labels: Sequence[str], day: pd.Timedelta) -> list[str]:
    """A note per segment shorter than a whole day (its label and hours)."""
    notes = []
    for label in labels:
        begin, end = (pd.Timestamp(t) for t in label.split(".."))
        if end - begin < day:
            notes.append(f"segment {label} UTC is a partial day ({(end - begin) / pd.Timedelta(hours=1):g} h), kept so "
                         "that the days compound to the window")
    return notes


def compounded(returns: pd.DataFrame) -> pd.Series:
    """Each contestant's (and seed's) daily returns compounded, as a return in % over the window."""
    growth = (1.0 + returns["return %"] / 100.0).groupby([returns["contestant"], returns["seed"]]).prod()
    return 100.0 * (growth - 1.0)
