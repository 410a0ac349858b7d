"""Tables, summary and plots of a :class:`~arena_gym.replay.ReplayResult`.

:func:`write_report` writes into a folder (names prefixed by the mode, e.g. ``fills_``):

* ``positions.csv``: recorded against simulated values per position;
* ``models.csv``: totals and percentage errors per account;
* ``checkpoints.csv``: simulated values beside the reported checkpoints (when given);
* ``curve.csv``: simulated account value, realized net PnL, fees and funding per bar;
* ``summary.txt`` and ``summary.html``: settings, the per-model table, the error distribution;
* ``pnl.png``: cumulative realized net PnL per model, simulated (line) against recorded
  (steps) and reported checkpoints (markers); ``scatter.png``: simulated against recorded net
  PnL per position.

Plots use matplotlib (the ``report`` extra) with the Agg backend (no display needed); without
matplotlib the tables and summaries are still written and the summary says the plots were skipped.
"""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from .log_replay import ReplayResult

PLOTS_SKIPPED = "plots skipped: matplotlib is not installed (pip install -e '.[report]' in the arena-gym checkout)"

#: Per-position error columns summarised by :func:`error_distribution` (absolute values).
ERROR_COLUMNS = {
    "err_net": "net PnL error ($)",
    "err_net_bp": "net PnL error (bp of entry notional)",
    "err_fees": "fee error ($)",
    "err_entry_bp": "entry price error (bp, + = worse)",
    "err_exit_bp": "exit price error (bp, + = worse)",
    "sim_funding": "funding charged ($, not recorded)",
}


def error_distribution(result: ReplayResult) -> pd.DataFrame:
    """Median, 90th percentile, mean and maximum of the absolute per-position errors."""
    rows = []
    for col, label in ERROR_COLUMNS.items():
        v = result.positions[col].abs().dropna()
        if len(v) == 0:
            continue
        rows.append({"quantity": label, "positions": len(v), "median": v.median(), "p90": v.quantile(0.9),
                     "mean": v.mean(), "max": v.max()})
    return pd.DataFrame(rows)


def _fmt_models(models: pd.DataFrame) -> pd.DataFrame:
    cols = ["model", "positions", "rows_skipped", "rec_net", "sim_net", "net_err_pct", "rec_fees", "sim_fees",
            "fees_err_pct", "sim_funding", "median_abs_err_net", "deferred_fills"]
    return models[cols]


def summary_text(result: ReplayResult) -> str:
    """Plain-text summary: settings, per-model table, error distribution, checkpoints."""
    head = f"Replay in {result.mode} mode" + (f" ({result.timing})" if result.mode == "bars" else "")
    lines = [head, "=" * len(head), ""]
    lines += [f"- {n}" for n in result.notes]
    lines += ["", "Per model (net = realized PnL after fees, before funding; errors: simulated - recorded):", ""]
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:,.2f}".format):
        lines.append(_fmt_models(result.models).to_string(index=False))
        lines += ["", "Per-position absolute errors:", "", error_distribution(result).to_string(index=False)]
        if len(result.checkpoints):
            lines += ["", "Reported checkpoints against the simulation:", "",
                      result.checkpoints.assign(time=result.checkpoints["time"].dt.strftime("%Y-%m-%d %H:%M"))
                      .to_string(index=False)]
    return "\n".join(lines) + "\n"


def _html(result: ReplayResult, images: list[str]) -> str:
    title = html.escape(f"Replay in {result.mode} mode")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>",
             f"<h1>{title}</h1><ul>"]
    parts += [f"<li>{html.escape(n)}</li>" for n in result.notes]
    parts.append("</ul><h2>Per model</h2>")
    parts.append(_fmt_models(result.models).to_html(index=False, float_format="{:,.2f}".format))
    parts.append("<h2>Per-position absolute errors</h2>")
    parts.append(error_distribution(result).to_html(index=False, float_format="{:,.3f}".format))
    if len(result.checkpoints):
        parts.append("<h2>Reported checkpoints</h2>")
        parts.append(result.checkpoints.to_html(index=False, float_format="{:,.2f}".format))
    parts += [f"<p><img src='{html.escape(name)}' style='max-width:100%'></p>" for name in images]
    parts.append("</body></html>")
    return "\n".join(parts)


def _plot_pnl(result: ReplayResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(result.models["model"])
    cols = min(3, len(models))
    rows = int(np.ceil(len(models) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False, sharex=True)
    for ax, model in zip(axes.ravel(), models):
        engine = result.curve[result.curve["model"] == model]
        for source, style in (("recorded", "--"), ("simulated", "-")):
            part = result.pnl_curve[(result.pnl_curve["model"] == model) & (result.pnl_curve["source"] == source)]
            if len(part):
                ax.step(part["time"], part["realized_net"], where="post", ls=style, lw=1.1,
                        label=f"{source} realized net")
        ax.plot(engine["time"], engine["account_value"] - result.initial_capital,
                lw=0.7, alpha=0.6, label="simulated equity change (incl. open PnL, funding)")
        cp = result.checkpoints
        if len(cp) and "reported_net_pnl" in cp.columns:
            mine = cp[cp["model"] == model]
            ax.scatter(mine["time"], mine["reported_net_pnl"], marker="o", color="k", s=18, zorder=3,
                       label="reported checkpoint")
        ax.set_title(model, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="x", rotation=30)
    for ax in axes.ravel()[len(models):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(f"Cumulative realized net PnL ($), {result.mode} mode", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_scatter(result: ReplayResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = result.positions.dropna(subset=["rec_net", "sim_net"])
    fig, ax = plt.subplots(figsize=(5, 5))
    for model, part in p.groupby("model"):
        ax.scatter(part["rec_net"], part["sim_net"], s=10, label=model)
    if len(p):
        lo, hi = float(min(p["rec_net"].min(), p["sim_net"].min())), float(max(p["rec_net"].max(), p["sim_net"].max()))
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
    ax.set_xlabel("recorded net PnL per position ($)")
    ax.set_ylabel("simulated net PnL per position ($)")
    ax.set_title(f"{result.mode} mode", fontsize=10)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: ReplayResult, out_dir: str | Path, prefix: str | None = None) -> dict[str, Path]:
    """Write the files listed in the module docstring; returns ``{kind: path}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pre = f"{prefix if prefix is not None else result.mode}_"
    paths = {
        "positions": out / f"{pre}positions.csv", "models": out / f"{pre}models.csv",
        "curve": out / f"{pre}curve.csv", "summary": out / f"{pre}summary.txt", "html": out / f"{pre}summary.html",
        "pnl_plot": out / f"{pre}pnl.png", "scatter_plot": out / f"{pre}scatter.png",
    }
    result.positions.to_csv(paths["positions"], index=False)
    result.models.to_csv(paths["models"], index=False)
    result.curve.to_csv(paths["curve"], index=False)
    if len(result.checkpoints):
        paths["checkpoints"] = out / f"{pre}checkpoints.csv"
        result.checkpoints.to_csv(paths["checkpoints"], index=False)
    if len(result.skipped):
        paths["skipped"] = out / f"{pre}skipped.csv"
        result.skipped.to_csv(paths["skipped"], index=False)
    text = summary_text(result)
    if importlib.util.find_spec("matplotlib") is None:
        del paths["pnl_plot"], paths["scatter_plot"]
        text += f"\n{PLOTS_SKIPPED}\n"
        images = []
    else:
        _plot_pnl(result, paths["pnl_plot"])
        _plot_scatter(result, paths["scatter_plot"])
        images = [paths["pnl_plot"].name, paths["scatter_plot"].name]
    paths["summary"].write_text(text)
    paths["html"].write_text(_html(result, images))
    return paths
