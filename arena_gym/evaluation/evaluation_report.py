"""Tables, plots and one self-contained HTML report from an evaluation folder.

:func:`write_report` reads what :func:`arena_gym.evaluation.runner.evaluate` logged and writes,
next to it:

=======================================  ======================================================
``results.csv`` / ``.parquet``           one row per episode: policy, window, start, seed,
                                         status, error and every metric
``metrics.csv`` / ``.parquet`` / ``.json``  mean of each metric per policy (wide table)
``metrics_ci.csv`` / ``.parquet`` / ``.json``  mean with bootstrap interval over windows (long)
``leaderboard.csv`` / ``.json``          Bradley-Terry ratings on total return (when at least
                                         two policies met on at least two windows)
``steps.parquet``, ``trades.parquet``    every episode's per-step records and closed trades
``equity.parquet``                       equity curves: policy, window, seed, step, equity
``equity_curves.png``                    median equity (normalized to 1) per policy with the
                                         25-75 % band across episodes
``fingerprints.png``                     behaviour metrics per policy, shaded per column
``null_distributions.png``               each policy's random-entry null: a histogram of its
                                         surrogates' returns with its own marked (when the
                                         folder holds a significance table, see
                                         :mod:`.significance`)
``report.html``                          all of the above in one file (PNGs embedded), with the
                                         significance table when there is one
=======================================  ======================================================

Plots use matplotlib's Agg backend (the ``report`` extra).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .metrics import aggregate, undefined_reasons
from .ranking import leaderboard
from .runner import CONFIG_NAME, EPISODES_DIR, LOG_NAME, load_results, policy_slug
from .significance import SIGNIFICANCE_LEGEND, display_table, read_significance

#: Metrics shown in the report's main table, in this order.
HEADLINE_METRICS = ("total_return", "sharpe", "max_drawdown", "annualized_volatility", "n_trades", "trade_win_rate",
                    "fees_to_initial_equity", "funding_paid", "prompt_tokens", "completion_tokens", "cost_usd",
                    "invalid_output_rate")
#: Behaviour metrics of the fingerprint plot.
FINGERPRINT_METRICS = ("n_trades", "avg_holding_hours", "avg_gross_leverage", "time_in_market", "long_share",
                       "avg_concurrent_positions", "fees_to_initial_equity", "trade_win_rate")
#: How a metric is shown in a table: (unit stated in the column header, factor applied to the
#: value). Every value of a column is in the one unit its header states; fractions are shown as
#: percentages. Metrics not listed are shown as they are.
METRIC_UNITS: dict[str, tuple[str, float]] = {
    "total_return": ("% per episode", 100.0),
    "annualized_return": ("% per year", 100.0),
    "annualized_volatility": ("% per year", 100.0),
    "sharpe": ("annualized", 1.0),
    "sortino": ("annualized", 1.0),
    "calmar": ("ratio", 1.0),
    "max_drawdown": ("% below peak", 100.0),
    "n_trades": ("per episode", 1.0),
    "trade_win_rate": ("% of trades", 100.0),
    "fees_to_initial_equity": ("% of capital", 100.0),
    "fees_paid": ("USD", 1.0),
    "funding_paid": ("USD paid", 1.0),
    "prompt_tokens": ("per episode", 1.0),
    "completion_tokens": ("per episode", 1.0),
    "cost_usd": ("USD per episode", 1.0),
    "invalid_output_rate": ("% of decisions", 100.0),
}

#: Columns of the results table that are not metrics.
ID_COLUMNS = ("policy", "window", "start", "seed", "status", "error")


def metric_columns(results: pd.DataFrame) -> list[str]:
    return [c for c in results.columns if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(results[c])]


def metric_header(metric: str) -> str:
    """A metric's column header with its unit, e.g. ``total_return (% per episode)``."""
    unit = METRIC_UNITS.get(metric)
    return f"{metric} ({unit[0]})" if unit else metric


def env_line(plan: dict[str, Any]) -> str:
    """One sentence stating the env configuration every policy of an evaluation played under,
    and which fields were moved to a trained policy's settings (from ``config.json``)."""
    env, market = plan.get("env", {}), plan.get("market", {})
    if not env:
        return "env configuration unknown (no config.json)"
    from arena_gym.text_format import count_of

    bar_hours = float(market.get("bar_seconds", 3600)) / 3600.0
    per_step = int(env.get("bars_per_decision", 1))
    n = env.get("episode_length")
    length = f"{n} decisions ({count_of(n * per_step * bar_hours / 24, 'day')})" if n else "episodes to the split's end"
    assets = env.get("assets") or market.get("symbols") or []
    text = (f"One env config for every policy: market {market.get('name', '?')} ({', '.join(assets)}); a decision "
            f"every {per_step} bar(s) of {bar_hours:g} h; {length}; capital {float(env.get('initial_capital', 0)):,.0f}; "
            f"{env.get('exchange')} rules, {env.get('margin_mode')} margin, fees {env.get('fees')}, slippage "
            f"{env.get('slippage')}; numeric-action policies: leverage_cap {env.get('leverage_cap')}, deadband "
            f"{env.get('deadband')} (LLM decisions choose their own leverage within the exchange limits).")
    moved = plan.get("moved_fields") or {}
    if moved:
        text += " Moved to a trained policy's settings: " + ", ".join(
            f"{field} {m['from']} -> {m['to']} (for {', '.join(m['for'])})" for field, m in moved.items()) + "."
    return text


def metric_notes(plan: dict[str, Any]) -> list[str]:
    """Why some statistics are n/a in this evaluation (see :func:`~.metrics.undefined_reasons`)."""
    env, market = plan.get("env", {}), plan.get("market", {})
    if not env.get("episode_length"):
        return []
    seconds = float(market.get("bar_seconds", 3600)) * int(env.get("bars_per_decision", 1))
    reasons = undefined_reasons(int(env["episode_length"]), seconds)
    grouped: dict[str, list[str]] = {}
    for metric, why in reasons.items():
        grouped.setdefault(why, []).append(metric)
    return [f"n/a: {', '.join(metrics_)}: {why}" for why, metrics_ in grouped.items()]


def summarize(results: pd.DataFrame, n_boot: int = 1000, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """Tables of an evaluation: ``ok`` episodes, ``errors``, ``metrics_ci`` (long), ``metrics``
    (wide means) and ``leaderboard`` (``None`` with a ``leaderboard_note`` when no ranking is
    possible), plus ``env_line`` and ``notes`` from the evaluation's ``plan`` (its config.json)."""
    ok = results[results["status"] == "ok"] if len(results) else results
    errors = results[results["status"] != "ok"] if len(results) else results
    plan = plan or {}
    out: dict[str, Any] = {"ok": ok, "errors": errors, "leaderboard": None, "leaderboard_note": "",
                           "env_line": env_line(plan), "notes": [*plan.get("notes", []), *metric_notes(plan)]}
    if ok.empty:
        out["metrics_ci"] = pd.DataFrame()
        out["metrics"] = pd.DataFrame()
        out["leaderboard_note"] = "no episode finished"
        return out
    columns = metric_columns(ok)
    rows = ok[["policy", "window", *columns]]
    out["metrics_ci"] = aggregate(rows, by="policy", cluster="window", n_boot=n_boot, metrics=columns)
    out["metrics"] = out["metrics_ci"].pivot(index="policy", columns="metric", values="mean")[columns]
    if ok["policy"].nunique() < 2:
        out["leaderboard_note"] = "a ranking needs at least two policies"
    else:
        try:
            out["leaderboard"] = leaderboard(ok, score="total_return", n_boot=n_boot)
        except ValueError as err:
            out["leaderboard_note"] = str(err)
    return out


def _episode_frames(out_dir: Path, ok: pd.DataFrame, kind: str) -> pd.DataFrame:
    frames = []
    for row in ok.itertuples(index=False):
        path = out_dir / EPISODES_DIR / policy_slug(row.policy) / f"w{row.window:03d}-s{row.seed}.{kind}.parquet"
        if not path.is_file():
            continue
        frame = pd.read_parquet(path)
        if frame.empty:
            continue
        frame.insert(0, "seed", row.seed)
        frame.insert(0, "window", row.window)
        frame.insert(0, "policy", row.policy)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def equity_curves(steps: pd.DataFrame, initial_capital: float) -> pd.DataFrame:
    """Equity per policy, window, seed and step, from step 0 (the initial capital)."""
    if steps.empty:
        return pd.DataFrame(columns=["policy", "window", "seed", "step", "equity"])
    curves = steps[["policy", "window", "seed", "step", "equity"]]
    starts = curves.groupby(["policy", "window", "seed"], as_index=False).first()
    starts["step"], starts["equity"] = 0, float(initial_capital)
    return pd.concat([starts, curves], ignore_index=True).sort_values(["policy", "window", "seed", "step"],
                                                                      ignore_index=True)


def plot_equity(curves: pd.DataFrame, path: Path, title: str, hours_per_step: float) -> Path:
    """Median normalized equity per policy with its 25-75 % band across episodes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    for name, frame in curves.groupby("policy", sort=True):
        wide = frame.pivot_table(index="step", columns=["window", "seed"], values="equity")
        normalized = wide / wide.iloc[0]
        q = normalized.quantile([0.25, 0.5, 0.75], axis=1).T
        x = q.index.to_numpy() * hours_per_step / 24.0
        line, = ax.plot(x, q[0.5], label=f"{name} (n={wide.shape[1]})", linewidth=1.8)
        ax.fill_between(x, q[0.25], q[0.75], color=line.get_color(), alpha=0.15, linewidth=0)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlabel("days into the episode")
    ax.set_ylabel("equity / initial equity (median, 25-75 % band)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_null(null: pd.DataFrame, path: Path) -> Path:
    """One small histogram per policy of its surrogates' returns (% per episode), its own
    (replayed) return marked by a red line, the p-value in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(null["policy"].unique())
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), dpi=100, squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        frame = null[null["policy"] == name]
        values = 100.0 * frame["total_return"].to_numpy(dtype=np.float64)
        observed = 100.0 * float(frame["observed_return"].iloc[0])
        p = (1 + np.count_nonzero(values >= observed)) / (1 + values.size)
        ax.hist(values, bins=40, color="#8aa9c9")
        ax.axvline(observed, color="#c0392b", linewidth=1.8)
        ax.set_title(f"{name}: p = {p:.3f}", fontsize=8)
        ax.set_xlabel("return % per episode", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle("Surrogates' returns (own trades at random entries); red: the policy", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_fingerprints(metrics: pd.DataFrame, path: Path, title: str) -> Path:
    """Behaviour metrics per policy (rows) as a table shaded per column from its min to its max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in FINGERPRINT_METRICS if c in metrics.columns]
    values = metrics[columns].to_numpy(dtype=np.float64)
    low, high = np.fmin.reduce(values, axis=0), np.fmax.reduce(values, axis=0)   # NaN for an all-n/a column
    span = np.where(high > low, high - low, 1.0)
    shade = np.where(np.isfinite(values), (values - low) / span, np.nan)
    fig, ax = plt.subplots(figsize=(1.3 * len(columns) + 2, 0.55 * len(metrics) + 1.6), dpi=110)
    ax.imshow(np.ma.masked_invalid(shade), cmap="Blues", vmin=0, vmax=1.25, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, "n/a" if not np.isfinite(values[i, j]) else f"{values[i, j]:.3g}", ha="center",
                    va="center", fontsize=8)
    ax.set_xticks(range(len(columns)), [c.replace("_", "\n") for c in columns], fontsize=7)
    ax.set_yticks(range(len(metrics)), list(metrics.index), fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _write_table(frame: pd.DataFrame, out_dir: Path, stem: str, formats: tuple[str, ...] = ("csv", "parquet", "json"),
                 index: bool = False) -> None:
    if "csv" in formats:
        frame.to_csv(out_dir / f"{stem}.csv", index=index)
    if "parquet" in formats:
        frame.to_parquet(out_dir / f"{stem}.parquet", index=index)
    if "json" in formats:
        (out_dir / f"{stem}.json").write_text(frame.reset_index().to_json(orient="records", indent=1) if index
                                              else frame.to_json(orient="records", indent=1))


def png_tag(path: Path, alt: str) -> str:
    """An ``<img>`` with the PNG at ``path`` embedded (base64), for self-contained pages."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "n/a" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        return f"{value:.4g}"
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, index: bool = False) -> str:
    """``frame`` as an HTML table (values escaped; floats to 4 significant digits, NaN as n/a)."""
    frame = frame.reset_index() if index else frame
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _headline(metrics_ci: pd.DataFrame) -> pd.DataFrame:
    """Headline metrics per policy as 'mean [low, high]' text, in the unit of each header."""
    rows = metrics_ci[metrics_ci["metric"].isin(HEADLINE_METRICS)].copy()
    factor = rows["metric"].map(lambda m: METRIC_UNITS.get(m, ("", 1.0))[1])
    rows["cell"] = [f"{_fmt(m * f)} [{_fmt(lo * f)}, {_fmt(hi * f)}]" for m, lo, hi, f in
                    zip(rows["mean"], rows["ci_low"], rows["ci_high"], factor)]
    table = rows.pivot(index="policy", columns="metric", values="cell")
    table = table[[m for m in HEADLINE_METRICS if m in table.columns]]
    return table.rename(columns=metric_header)


#: CSS of the evaluation and season pages.
PAGE_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}img{max-width:100%}
.note{color:#555;font-size:0.9em}pre{background:#f6f6f6;padding:0.6em;font-size:0.8em;overflow-x:auto}
"""


def write_report(out_dir: str | Path, title: str | None = None, n_boot: int = 1000) -> dict[str, Any]:
    """Write every table, both plots and ``report.html`` into ``out_dir`` (see the module docstring).

    Returns :func:`summarize`'s tables plus ``paths`` of what was written.
    """
    out_dir = Path(out_dir)
    if not (out_dir / LOG_NAME).is_file():
        raise FileNotFoundError(f"{out_dir} holds no evaluation ({LOG_NAME} is missing); run 'arena-gym eval' "
                                f"or 'arena-gym arena' first")
    plan = json.loads((out_dir / CONFIG_NAME).read_text()) if (out_dir / CONFIG_NAME).is_file() else {}
    title = title or f"arena-gym evaluation: {out_dir.name}"
    results = load_results(out_dir)
    summary = summarize(results, n_boot=n_boot, plan=plan)
    ok = summary["ok"]
    paths: dict[str, Path] = {}
    _write_table(results, out_dir, "results", ("csv", "parquet"))
    if not summary["metrics"].empty:
        _write_table(summary["metrics"], out_dir, "metrics", index=True)
        _write_table(summary["metrics_ci"], out_dir, "metrics_ci")
    if summary["leaderboard"] is not None:
        _write_table(summary["leaderboard"], out_dir, "leaderboard", ("csv", "json"))
    steps = _episode_frames(out_dir, ok, "steps")
    trades = _episode_frames(out_dir, ok, "trades")
    env = plan.get("env", {})
    curves = equity_curves(steps, float(env.get("initial_capital", 10_000.0)))
    for frame, stem in ((steps, "steps"), (trades, "trades"), (curves, "equity")):
        frame.to_parquet(out_dir / f"{stem}.parquet", index=False)
    hours_per_step = plan.get("market", {}).get("bar_seconds", 3600) * env.get("bars_per_decision", 1) / 3600.0
    sections = []
    market = plan.get("market", {})
    sections.append(
        f"<p class='note'>Market <b>{html.escape(str(market.get('name', '?')))}</b> "
        f"({html.escape(', '.join(market.get('symbols', [])))}; {market.get('n_bars', '?')} bars from "
        f"{html.escape(str(market.get('first_bar', '?')))}), {len(plan.get('windows', []))} windows x "
        f"{len(plan.get('seeds', []))} seeds, {len(ok)} finished episodes"
        f"{', ' + str(len(summary['errors'])) + ' failed' if len(summary['errors']) else ''}. "
        f"Means with 95 % bootstrap intervals over windows.</p>")
    sections.append(f"<p class='note'>{html.escape(summary['env_line'])}</p>")
    sections.extend(f"<p class='note'>{html.escape(note)}</p>" for note in summary["notes"])
    sections.append("<h2>Leaderboard (Bradley-Terry on total return)</h2>")
    if summary["leaderboard"] is not None:
        sections.append(html_table(leaderboard_table(summary["leaderboard"], summary["metrics"])))
        sections.append(f"<p class='note'>{html.escape(LEADERBOARD_LEGEND)}</p>")
    else:
        sections.append(f"<p class='note'>No ranking: {html.escape(summary['leaderboard_note'])}.</p>")
    if not summary["metrics"].empty:
        sections.append("<h2>Metrics</h2>" + html_table(_headline(summary["metrics_ci"]), index=True))
        paths["equity_png"] = plot_equity(curves, out_dir / "equity_curves.png", title, hours_per_step)
        sections.append("<h2>Equity curves</h2>" + png_tag(paths["equity_png"], "equity curves"))
        paths["fingerprints_png"] = plot_fingerprints(summary["metrics"], out_dir / "fingerprints.png",
                                                      "Behaviour fingerprints (mean per episode)")
        sections.append("<h2>Behaviour fingerprints</h2>" + png_tag(paths["fingerprints_png"], "fingerprints"))
        sections.append("<details><summary>All metrics (means; fractions as stored: 0.01 = 1 %)</summary>"
                        + html_table(summary["metrics"].T, index=True) + "</details>")
    significance = read_significance(out_dir)
    if significance is not None:
        table, facts, null = significance
        summary["significance"] = table
        summary["significance_notes"] = facts.get("notes", [])
        sections.append("<h2>Could it be chance?</h2>" + html_table(display_table(table), index=True))
        sections.append(f"<p class='note'>{html.escape(SIGNIFICANCE_LEGEND)}</p>")
        sections.extend(f"<p class='note'>{html.escape(note)}</p>" for note in summary["significance_notes"])
        if not null.empty:
            paths["null_png"] = plot_null(null, out_dir / "null_distributions.png")
            sections.append("<h3>Random-entry null per policy</h3>" + png_tag(paths["null_png"], "null distributions"))
    if len(summary["errors"]):
        failed = summary["errors"][["policy", "window", "seed", "error"]]
        sections.append("<h2>Failed episodes</h2>" + html_table(failed))
    sections.append("<h2>Configuration</h2><details><summary>config.json</summary><pre>"
                    + html.escape(json.dumps(plan, indent=1, default=str)) + "</pre></details>")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{PAGE_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>")
    paths["html"] = out_dir / "report.html"
    paths["html"].write_text(page, encoding="utf-8")
    summary["paths"] = paths
    return summary


#: Printed leaderboard columns: (metric, header with its unit, factor). The legend below the
#: table spells the short headers out.
LEADERBOARD_METRICS = (
    ("total_return", "return %", 100.0),
    ("sharpe", "Sharpe ann.", 1.0),
    ("max_drawdown", "max DD %", 100.0),
    ("n_trades", "trades", 1.0),
)
LEADERBOARD_LLM_METRICS = (
    ("prompt_tokens", "prompt tok", 1.0),
    ("completion_tokens", "compl. tok", 1.0),
    ("cost_usd", "cost USD", 1.0),
    ("invalid_output_rate", "invalid %", 100.0),
)
LEADERBOARD_LEGEND = (
    "Elo: Bradley-Terry rating on total return, 400 points = 10:1 odds; 95% CI: bootstrap over windows widened "
    "to the likelihood's normal approximation. won %: share of paired episodes won (not of trades). Means per "
    "episode: return % of initial equity; Sharpe annualized; max DD % below the running peak (a loss); trades "
    "closed; for LLMs prompt and completion tokens, cost in USD and invalid outputs in % of decisions.")


def leaderboard_table(board: pd.DataFrame, metrics: pd.DataFrame | None = None) -> pd.DataFrame:
    """The leaderboard with the mean headline metrics of each policy, every column in the unit
    its header states (see :data:`LEADERBOARD_LEGEND`); LLM columns (tokens, cost, invalid
    outputs) when some policy made model calls."""
    table = pd.DataFrame({
        "policy": board["policy"],
        "Elo": board["rating"],
        "95% CI": [f"[{lo:.0f}, {hi:.0f}]" for lo, hi in zip(board["ci_low"], board["ci_high"])],
        "won %": 100.0 * board["battle_win_rate"],
        "battles": board["n_battles"],
    })
    if metrics is not None and not metrics.empty:
        columns = list(LEADERBOARD_METRICS)
        if "n_decisions" in metrics.columns and (metrics["n_decisions"].fillna(0) > 0).any():
            columns += LEADERBOARD_LLM_METRICS
        for metric, header, factor in columns:
            if metric in metrics.columns:
                table[header] = board["policy"].map(metrics[metric]) * factor
    return table


_CELL_FORMATS = {"Elo": "{:.1f}", "won %": "{:.1f}", "battles": "{:,.0f}", "return %": "{:+.2f}",
                 "Sharpe ann.": "{:+.2f}", "max DD %": "{:.2f}", "trades": "{:.1f}", "prompt tok": "{:,.0f}",
                 "compl. tok": "{:,.0f}", "cost USD": "{:.4f}", "invalid %": "{:.1f}"}


def _cell(value: Any, column: str) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return "-" if column in dict((h, m) for m, h, _ in LEADERBOARD_LLM_METRICS) else "n/a"
    return _CELL_FORMATS.get(column, "{:.4g}").format(value)


def format_leaderboard(board: pd.DataFrame | None, metrics: pd.DataFrame | None = None) -> str:
    """:func:`leaderboard_table` as aligned text."""
    if board is None:
        return "(no leaderboard)"
    table = leaderboard_table(board, metrics)
    for column in table.columns[1:]:  # formatted here: to_string would print NaN itself
        table[column] = [_cell(v, column) for v in table[column]]
    return table.to_string(index=False)


def format_head_to_head(h2h: pd.DataFrame, score: str = "total_return") -> str:
    """:func:`~arena_gym.campaigns.arena_campaign.head_to_head` as aligned text with the score differences in percentage points."""
    table = h2h.rename(columns={"mean_difference": "mean_difference (pp per episode)",
                                f"mean_{score}": f"mean_{score} (%)",
                                f"opponent_mean_{score}": f"opponent_mean_{score} (%)"})
    for column in table.columns[5:]:
        table[column] = (100.0 * table[column]).map(lambda v: f"{v:+.2f}")
    return table.to_string(index=False)
