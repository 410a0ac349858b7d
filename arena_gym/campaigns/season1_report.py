"""Season 1's ``report.html``: one self-contained page (tables rendered with their units, plots
embedded as PNG) of what :func:`arena_gym.campaigns.season1_campaign.run_season1` found.

Sections: the full-window table (recorded LLMs as traded beside on bars), whether each result
could be chance (the full window's significance table and null histograms, :mod:`.significance`),
PPO's seeds, the equity of every
contestant over the window (one colour and line style per contestant: a model's two executions
share its colour, solid as traded, dashed on bars), each recorded model's cumulative net PnL as
traded, on bars and in the contest, the recorded-vs-contest table, the discrepancies, the
leverage sources, the daily table when the run wrote one, and the daily ranking.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena_gym.evaluation.evaluation_report import PAGE_STYLE, html_table, png_tag, format_leaderboard

#: Line styles cycled per colour, so that no two contestants share colour and style.
LINE_STYLES = ("-", "--", ":", "-.")
#: Daily table the run may write (one row per contestant and day).
DAILY_TABLE = Path("daily") / "daily_returns.csv"


#: recorded_vs_contest columns and their headers in the printout.
VERSUS_HEADERS = {"positions": "positions", "contest_net_usd": "contest net $", "as_traded_net_usd": "as traded $",
                  "as_traded_error_pct": "as traded error %", "as_traded_replay_error_pct": "as traded replay error %",
                  "as_traded_funding_usd": "as traded funding $", "on_bars_net_usd": "on bars $",
                  "on_bars_error_pct": "on bars error %", "on_bars_replay_error_pct": "on bars replay error %",
                  "as_traded_discrepancies": "as traded discrepancies",
                  "on_bars_discrepancies": "on bars discrepancies",
                  "on_bars_funding_usd": "on bars funding $",
                  "discrepancies": "discrepancies", "on_bars_finer_net_usd": "on bars, finer bars $",
                  "finer_timeframe": "finer bars", "leverage_source": "leverage source (positions)"}


#: difference_causes columns and their headers in the printout and the page.
CAUSE_HEADERS = {"difference_usd": "difference $", "log_net_vs_gross_minus_fees_usd": "log net vs gross - fees $",
                 "fill_prices_usd": "fill prices $", "fees_usd": "fees $", "discrepancies_usd": "discrepancies $",
                 "not_played_usd": "not played $", "open_at_end_usd": "open at end $", "residual_usd": "residual $"}


def contestant_styles(names: list[str], executions: dict[str, str]) -> dict[str, tuple[Any, str]]:
    """(colour, line style) per contestant, all distinct: a recorded model's two executions share
    one of matplotlib's ten colours (solid as traded, dashed on bars); PPO is black; the baselines
    take the remaining colours, dotted."""
    import matplotlib

    palette = list(matplotlib.colormaps["tab10"].colors) + ["darkgoldenrod", "navy", "lime", "maroon"]
    out: dict[str, tuple[Any, str]] = {}
    models = list(dict.fromkeys(n.rsplit(" (", 1)[0] for n in names if executions.get(n)))
    others = [n for n in names if not executions.get(n) and n != "ppo"]
    for name in names:
        if executions.get(name):
            index = models.index(name.rsplit(" (", 1)[0])
            out[name] = (palette[index % len(palette)], "--" if executions[name] == "on bars" else "-")
        elif name == "ppo":
            out[name] = ("black", "-")
        else:
            index = len(models) + others.index(name)
            out[name] = (palette[index % len(palette)], LINE_STYLES[2 + (index // len(palette)) % 2])
    return out


def shown(frame: pd.DataFrame, index: bool = False) -> str:
    """``frame`` as an HTML table with money-like floats to two decimals (thousands separated),
    whole-number floats as integers, and times to the second."""
    out = frame.reset_index() if index else frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.dt.strftime("%Y-%m-%d %H:%M:%S")
        elif pd.api.types.is_float_dtype(values):
            whole = values.dropna().eq(values.dropna().round()).all() and values.abs().max() < 1e6
            out[column] = ["n/a" if pd.isna(v) else f"{0.0 if abs(v) < 0.005 else v:,.{0 if whole else 2}f}"
                           for v in values]
    return f"<div style='overflow-x:auto'>{html_table(out)}</div>"


def plot_equity_lines(equity: pd.DataFrame, styles: dict[str, tuple[Any, str]], path: Path, title: str,
                      hours_per_step: float) -> Path:
    """Equity ($) of each contestant's one run over the window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 6), dpi=110)
    for name, frame in equity.groupby("policy", sort=False):
        colour, style = styles.get(name, ("black", "-"))
        frame = frame.sort_values("step")
        ax.plot(frame["step"].to_numpy() * hours_per_step / 24.0, frame["equity"], color=colour, linestyle=style,
                linewidth=1.6, label=name)
    ax.set_xlabel("days into the window")
    ax.set_ylabel("equity $ (one run per contestant)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_pnl_versus_contest(curves: pd.DataFrame, path: Path) -> Path:
    """Per recorded model: cumulative net PnL ($, before funding) in the contest, as traded and
    on bars, at each position's close."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted(curves["model"].unique())
    cols = min(3, len(models))
    rows = int(np.ceil(len(models) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), dpi=100, squeeze=False)
    looks = {"contest": ("black", "-", 2.4), "as traded": ("tab:orange", "-", 1.4), "on bars": ("tab:blue", "--", 1.4)}
    for ax, model in zip(axes.flat, models):
        for execution, (colour, style, width) in looks.items():
            part = curves[(curves["model"] == model) & (curves["execution"] == execution)]
            part = part.sort_values("time", kind="stable")
            if len(part):
                ax.step(pd.to_datetime(part["time"]).dt.tz_localize(None), part["cum_net_usd"], where="post",
                        color=colour, linestyle=style, linewidth=width, label=execution)
        ax.set_title(model, fontsize=10)
        ax.set_ylabel("cumulative net PnL $")
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(models):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_season_report(out: Path, result: dict[str, Any], path: Path) -> Path:
    """Write the page (module docstring) to ``path``; the plots go beside it as PNG too."""
    f = result["facts"]
    table = result["table"]
    executions = {n: e for n, e in table["execution"].items() if e} if "execution" in table else {}
    sections = [f"<p>{html.escape(f['env'])} PPO trained and validated only on bars before "
                f"{html.escape(str(f['training_cut']))} UTC. Links: <a href='full/report.html'>full-window "
                "evaluation report</a> | <a href='daily/report.html'>daily evaluation report</a>.</p>",
                "<h2>Full window</h2>", shown(table, index=True)]
    sections += [f"<p class='note'>{html.escape(n)}</p>" for n in f.get("metric_notes", [])]
    significance = result.get("full", {}).get("significance")
    if significance is not None and not significance.empty:
        from arena_gym.evaluation.significance import SIGNIFICANCE_LEGEND, display_table

        sections += ["<h2>Could it be chance? (full window)</h2>", shown(display_table(significance), index=True),
                     f"<p class='note'>{html.escape(SIGNIFICANCE_LEGEND)}</p>",
                     *(f"<p class='note'>{html.escape(n)}</p>" for n in result["full"].get("significance_notes", []))]
        if (out / "full" / "null_distributions.png").is_file():
            sections.append(png_tag(out / "full" / "null_distributions.png",
                                    "random-entry null of every contestant, its own result marked"))
    if result.get("ppo_seeds") is not None:
        sections += ["<h2>PPO over its seeds</h2>", shown(result["ppo_seeds"], index=True)]
    equity_path = out / "full" / "equity.parquet"
    if equity_path.is_file():
        equity = pd.read_parquet(equity_path)
        names = list(table.index)
        styles = contestant_styles(names, executions)
        png = plot_equity_lines(equity, styles, out / "season_equity.png", f"Equity over {f['window']} UTC", 1.0)
        sections += ["<h2>Equity over the window</h2>", png_tag(png, "equity of every contestant")]
    if result.get("pnl_curves") is not None and len(result["pnl_curves"]):
        png = plot_pnl_versus_contest(result["pnl_curves"], out / "recorded_pnl_vs_contest.png")
        sections += ["<h2>Recorded LLMs: simulated against the contest's cumulative net PnL</h2>",
                     "<p>Net PnL of closed positions, $, gross - fees, before funding, at each position's close: "
                     "the contest's log (black), as traded (orange), on bars (blue, dashed).</p>",
                     png_tag(png, "cumulative net PnL per recorded model")]
    versus = result["versus_contest"].rename(columns=VERSUS_HEADERS)
    sections += ["<h2>Recorded LLMs against the contest</h2>",
                 "<p>Net PnL over the whole log ($, before funding). Replay error: the difference without the "
                 "discrepancies' share. The leverage of every position and its source are in "
                 "recorded_outcomes.csv.</p>", shown(versus, index=True)]
    disc = result["discrepancies"]
    sections.append(f"<h2>Discrepancies ({len(disc)})</h2>")
    if len(disc):
        sections.append(shown(disc.drop(columns=["position", "leverage_source"]).rename(columns={
            "size": "size (coins)", "size_sim": "simulated size (coins)", "side": "side (+1 long)",
            "entry_time": "first entry (UTC)", "exit_time": "exit (UTC)", "leverage": "leverage x",
            "contest_net_usd": "contest net $", "simulated_net_usd": "simulated net $",
            "difference_usd": "difference $"})))
    else:
        sections.append("<p>None: every played position opened at full size and closed at its recorded exit.</p>")
    sections += ["<h2>Where each difference comes from ($)</h2>",
                 "<p>Simulated minus contest net PnL split into its causes (columns add up to the difference).</p>",
                 shown(result["difference_causes"].rename(columns=CAUSE_HEADERS), index=True),
                 "<h2>Leverage of the recorded positions, by source</h2>",
                 shown(result["leverage_sources"], index=True),
                 "<h2>What the env did with each recorded position (counts)</h2>",
                 shown(result["outcomes"], index=True)]
    daily_path = out / DAILY_TABLE
    if daily_path.is_file():
        sections += ["<h2>Daily returns</h2>", shown(pd.read_csv(daily_path))]
    if result.get("leaderboard") is not None:
        sections += [f"<h2>Bradley-Terry ranking over {f['daily_windows']} daily windows</h2>",
                     f"<pre>{html.escape(format_leaderboard(result['leaderboard']))}</pre>"]
    elif result.get("leaderboard_note"):
        sections.append(f"<p>No daily ranking: {html.escape(str(result['leaderboard_note']))}.</p>")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Alpha Arena Season 1 on the record</title>"
            f"<style>{PAGE_STYLE}</style></head><body><h1>Alpha Arena Season 1 on the record: "
            f"{html.escape(f['window'])} "
            f"UTC</h1>{''.join(sections)}</body></html>")
    path.write_text(page, encoding="utf-8")
    return path
