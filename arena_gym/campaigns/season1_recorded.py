"""Season 1's recorded LLMs against the contest's own figures: leverage from the contest's
records, the two executions (as traded, on bars), their discrepancies, and the on-bars figure on
a finer shared timeframe.

Leverage of each recorded position (:func:`position_leverage`): the nearest prompt snapshot of
the contest that lists the position (``prompt_open_positions.csv``: same model, coin, entry
price within 0.05 % and size, at a time between its entry and exit), else the model's median
leverage in the contest's own analytics (``analytics_flat_*.csv``,
``overall_trades_overview.median_convo_leverage``) from the earliest snapshot taken after the
position closed (the first that counts it), floored to an integer (a leverage is one).

Where that leverage would have the position liquidated on the bars before its recorded exit
(which the contest did not do), it is lowered to the highest leverage the position survives;
where the account's free collateral cannot carry the recorded size at it, the policy raises it to
the least that does, never above that survival bound (:class:`~arena_gym.agents.recorded.RecordedPolicy`).

A *discrepancy* is a position the simulator scaled, refused or closed (liquidation, stop) where
the contest held it to its recorded exit at full size: listed with its cause and its full-size
contest PnL beside the simulated one, never part of the replay error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from arena_gym.agents.recorded import AS_TRADED, ON_BARS, compare_with_log

PROMPTS_NAME = "prompt_open_positions.csv"
ANALYTICS_NAME = "analytics_flat_2025-10-26_10-28.csv"
ANALYTICS_LEVERAGE = "overall_trades_overview.median_convo_leverage"
#: Relative tolerance matching a prompt's listed entry price to a logged one.
PRICE_MATCH = 5e-4
#: Shared finer market for the on-bars figure: file name in the data folder's sibling, bar length.
FINER = ("binance-usdm-season1", "15m")


def surviving_leverage(rows: pd.DataFrame, market) -> int:
    """The highest integer leverage at which the isolated position of ``rows`` (one position of
    a loaded log) is not liquidated on ``market``'s bars from the bar of its first entry to the
    bar of its last exit, at the volume-weighted entry price (the env's liquidation rule:
    long ``entry (1 - 1/L) / (1 - mmr)``, short ``entry (1 + 1/L) / (1 + mmr)``); the coin's
    maximum when no leverage is liquidated."""
    coin = rows["symbol"].iloc[0]
    j = list(market.symbols).index(coin)
    spec = market.assets[j]
    rate = spec.maintenance_tiers[0][1]
    grid = pd.DatetimeIndex(market.timestamps, tz="UTC")
    first = max(int(grid.searchsorted(rows["entry_time"].min(), side="right")) - 1, 0)
    last = max(int(grid.searchsorted(rows["exit_time"].max(), side="right")) - 1, first)
    entry = float((rows["quantity"].abs() * rows["entry_price"]).sum() / rows["quantity"].abs().sum())
    if rows["quantity"].iloc[0] > 0:
        need = 1.0 - float(market.low[first:last + 1, j].min()) * (1.0 - rate) / entry
    else:
        need = float(market.high[first:last + 1, j].max()) * (1.0 + rate) / entry - 1.0
    if need <= 0.0:
        return int(spec.max_leverage)
    return int(min(spec.max_leverage, max(1, np.ceil(1.0 / need) - 1)))


def position_leverage(log: pd.DataFrame, records: Path, market=None,
                      fallback: float = 10.0) -> dict[int, tuple[float, str, float]]:
    """``{position id: (leverage x, source, highest leverage it survives x)}`` for every position
    of a loaded contest log, from the contest's records in the folder ``records`` (module
    docstring). With ``market``, a leverage at which the position would be liquidated on its
    bars before its recorded exit, which the contest did not do, is lowered to the highest it
    survives (:func:`surviving_leverage`), and the source says so. A position no record covers
    (no records in the folder) gets ``fallback``."""
    prompts = pd.read_csv(records / PROMPTS_NAME) if (records / PROMPTS_NAME).is_file() else pd.DataFrame()
    analytics = pd.read_csv(records / ANALYTICS_NAME) if (records / ANALYTICS_NAME).is_file() else pd.DataFrame()
    if len(prompts):
        prompts = prompts.assign(ts=pd.to_datetime(prompts["ts_utc"], utc=True))
    if len(analytics):
        analytics = analytics.assign(ts=pd.to_datetime(analytics["updated_at_utc"], utc=True)).sort_values("ts")
    out: dict[int, tuple[float, str]] = {}
    for pid, rows in log.groupby("position"):
        model, coin = rows["model"].iloc[0], rows["symbol"].iloc[0]
        entry, exit_ = rows["entry_time"].min(), rows["exit_time"].max()
        found = None
        if len(prompts):
            mine = prompts[(prompts["model_id"] == model) & (prompts["symbol"] == coin) & (prompts["ts"] >= entry)
                           & (prompts["ts"] <= exit_)]
            sizes = {round(abs(q), 6) for q in rows["quantity"]} | {round(rows["quantity"].abs().sum(), 6)}
            for _, snap in mine.sort_values("ts").iterrows():
                price_ok = (abs(rows["entry_price"] / snap["entry_price"] - 1) < PRICE_MATCH).any()
                if price_ok and round(abs(snap["quantity"]), 6) in sizes:
                    found = (float(snap["leverage"]), f"prompt {snap['ts']:%Y-%m-%d %H:%M}")
                    break
        if found is None and len(analytics):
            mine = analytics[analytics["model_id"] == model]
            after = mine[mine["ts"] >= exit_]
            snap = (after if len(after) else mine).iloc[0 if len(after) else -1]
            value = float(snap[ANALYTICS_LEVERAGE])
            found = (float(max(1, np.floor(value))),
                     f"analytics {snap['ts']:%Y-%m-%d %H:%M} median {value:g}x")
        if found is None:
            found = (float(fallback), f"no contest record: {fallback:g}x")
        cap = float(surviving_leverage(rows, market)) if market is not None else float("inf")
        if found[0] > cap:
            found = (cap, f"{found[1]}; lowered from {found[0]:g}x to {cap:g}x, the highest leverage at which it "
                          "survives to its recorded exit on these bars")
        out[int(pid)] = (*found, cap)
    return out


def carry_every_entry(log: pd.DataFrame, leverage: dict[int, tuple[float, str, float]], market, config, plan,
                      models: Sequence[str] | None = None, rounds: int = 3) -> dict[int, tuple[float, str, float]]:
    """``leverage`` with the positions held open beside an entry that no allowed leverage carried
    at full size raised, within what they survive, so that the account carries every recorded
    entry, as the contest's did.

    Each round plays every model as traded; for each such entry the positions kept open beside it
    get the least common leverage (each at most the highest it survives) that frees the missing
    collateral plus 5 %. Rounds stop when no entry is short or after ``rounds``."""
    from arena_gym.agents.recorded import recorded_policies
    from arena_gym.evaluation.runner import EpisodeKey, play_episode

    leverage = dict(leverage)
    for _ in range(rounds):
        conflicts = []
        for policy in recorded_policies(log, models=models, execution=AS_TRADED, position_leverage=leverage):
            play_episode(policy, market, config, EpisodeKey(policy.name, 0, plan.starts[0], 0))
            conflicts += policy.conflicts
        raised = False
        for c in conflicts:
            kept = [(pid, notional, lev, leverage[pid][2]) for pid, notional, lev in c["kept"] if pid in leverage]
            for common in range(2, 101):
                freed = sum(n * (1 / lev - 1 / max(lev, min(common, cap))) for _, n, lev, cap in kept)
                if freed >= 1.05 * c["shortfall_usd"]:
                    break
            for pid, _, lev, cap in kept:
                new = max(lev, min(common, cap))
                if new > lev:
                    old_lev, source, _ = leverage[pid]
                    leverage[pid] = (float(new), f"{source}; raised from {lev:g}x to {new:g}x so that the account "
                                                 f"carries the recorded entry of {c['time']:%m-%d %H:%M} beside it",
                                     cap)
                    raised = True
        if not raised:
            break
    return leverage


def leverage_sources(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per model and execution: how many positions took their leverage from a prompt, from the
    analytics, how many were lowered to survive to their recorded exit or raised to carry the
    recorded size, and the median and highest leverage played."""
    o = outcomes.assign(prompt=outcomes["leverage_source"].str.startswith("prompt"),
                        analytics=outcomes["leverage_source"].str.startswith("analytics"),
                        lowered=outcomes["leverage_source"].str.contains("lowered"),
                        raised=outcomes["leverage_source"].str.contains("raised"))
    g = o.groupby(["model", "execution"])
    return pd.DataFrame({"positions": g.size(), "from a prompt": g["prompt"].sum(),
                         "from the analytics": g["analytics"].sum(), "lowered to survive": g["lowered"].sum(),
                         "raised to carry": g["raised"].sum(), "median leverage x": g["leverage"].median(),
                         "max leverage x": g["leverage"].max()})


def discrepancies(compared: pd.DataFrame, market) -> pd.DataFrame:
    """The positions the simulator scaled, refused or closed before the recorded exit, with the
    cause, the full-size contest PnL and the simulated one ($, before funding)."""
    bad = compared[compared["scaled"] | compared["status"].isin(("refused", "closed_by_exchange"))].copy()
    causes = []
    for _, r in bad.iterrows():
        if r["status"] == "refused":
            causes.append(f"refused: {r['reason']}")
        elif r["status"] == "closed_by_exchange":
            first = f"scaled to {r['size_sim']:.6g} of {r['size']:.6g} coins ({r['reason']}), then " \
                if r["scaled"] else ""
            causes.append(f"{first}{r['exit_reason']} at {r['leverage']:g}x on "
                          f"{market.name} bars at {pd.Timestamp(r['close_time']):%m-%d %H:%M}, "
                          f"before the recorded exit "
                          f"{pd.Timestamp(r['exit_time']):%m-%d %H:%M}")
        else:
            causes.append(f"scaled to {r['size_sim']:.6g} of {r['size']:.6g} coins: {r['reason']}")
    bad["cause"] = causes
    bad["contest_net_usd"] = bad["rec_net"]
    bad["simulated_net_usd"] = bad["sim_net"].fillna(0.0)
    bad["difference_usd"] = bad["simulated_net_usd"] - bad["contest_net_usd"]
    return bad[["model", "execution", "position", "symbol", "side", "size", "size_sim", "entry_time", "exit_time",
                "leverage", "leverage_source", "cause", "contest_net_usd", "simulated_net_usd", "difference_usd"]]


def play_recorded(policies: Sequence[Any], market, config, plan) -> dict[str, pd.DataFrame]:
    """Play every recorded policy once over the window; returns ``outcomes``, ``compared`` (per
    position), ``totals`` (per policy: net PnL before funding, funding, $) and ``curves``
    (per policy and bar: cumulative realized net PnL before funding)."""
    from arena_gym.evaluation.runner import EpisodeKey, play_episode

    outcomes, compared, totals, curves = [], [], [], []
    for policy in policies:
        _, steps, trades = play_episode(policy, market, config, EpisodeKey(policy.name, 0, plan.starts[0], 0))
        out = policy.outcomes()
        outcomes.append(out)
        compared.append(compare_with_log(out, trades))
        totals.append({"policy": policy.name, "model": policy.model, "execution": policy.execution,
                       "net_usd": float((trades["gross_pnl"] - trades["fees"]).sum()),
                       "funding_usd": float(trades["funding"].sum())})
        closed = trades.assign(t=pd.to_datetime(trades["exit_time"], utc=True)).sort_values("t", kind="stable")
        curves.append(pd.DataFrame({"model": policy.model, "execution": policy.execution, "time": closed["t"],
                                    "cum_net_usd": (closed["gross_pnl"] - closed["fees"]).cumsum()}))
    return {"outcomes": pd.concat(outcomes, ignore_index=True), "compared": pd.concat(compared, ignore_index=True),
            "totals": pd.DataFrame(totals), "curves": pd.concat(curves, ignore_index=True)}


def contest_curves(log: pd.DataFrame) -> pd.DataFrame:
    """Per model: the contest's cumulative net PnL ($, before funding) at each recorded exit."""
    rows = log.sort_values("exit_time", kind="stable")
    return pd.DataFrame({"model": rows["model"], "execution": "contest", "time": rows["exit_time"],
                         "cum_net_usd": rows.groupby("model")["net_pnl"].cumsum()})


def versus_contest(log: pd.DataFrame, played: dict[str, pd.DataFrame], disc: pd.DataFrame,
                   finer: pd.DataFrame | None = None) -> pd.DataFrame:
    """``recorded_vs_contest``: one row per model (units in the column names)."""
    contest = log.groupby("model")["net_pnl"].sum()
    t = played["totals"].set_index(["model", "execution"])
    out = pd.DataFrame({"contest_net_usd": contest})
    out.index.name = "model"
    for execution, key in ((AS_TRADED, "as_traded"), (ON_BARS, "on_bars")):
        net = t.xs(execution, level="execution")["net_usd"]
        out[f"{key}_net_usd"] = net
        out[f"{key}_error_pct"] = 100 * (net - contest) / contest.abs()
        d = disc[disc["execution"] == execution].groupby("model")
        out[f"{key}_discrepancies"] = d.size().reindex(out.index).fillna(0).astype(int)
        replay = net - contest - d["difference_usd"].sum().reindex(out.index).fillna(0.0)
        out[f"{key}_replay_error_pct"] = 100 * replay / contest.abs()
        out[f"{key}_funding_usd"] = t.xs(execution, level="execution")["funding_usd"]
    out["positions"] = log.groupby("model")["position"].nunique()
    out["discrepancies"] = out["as_traded_discrepancies"] + out["on_bars_discrepancies"]
    o = played["outcomes"][played["outcomes"]["execution"] == AS_TRADED]
    out["leverage_source"] = o.groupby("model")["leverage_source"].apply(_source_summary)
    if finer is not None and len(finer):
        out = out.join(finer)
    return out


def difference_causes(log: pd.DataFrame, played: dict[str, pd.DataFrame], disc: pd.DataFrame) -> pd.DataFrame:
    """Each model's simulated minus contest net PnL ($, before funding), split into its causes,
    per execution; the columns add up to ``difference_usd`` (``residual_usd`` is what is left):

    * ``log_net_vs_gross_minus_fees_usd``: the log's own net PnL against its gross PnL less its
      fees (the contest's figure is the log's net; the simulator computes gross - fees);
    * ``fill_prices_usd``: simulated minus logged gross PnL of the positions played without
      discrepancy (as traded: the same prices; on bars: the next open plus slippage instead of
      the recorded price);
    * ``fees_usd``: logged minus simulated fees of those positions (the dated schedule by the
      maker/taker flag as traded, taker at the next open on bars);
    * ``discrepancies_usd``: simulated minus contest net PnL of the discrepancies;
    * ``not_played_usd``: minus the logged net PnL of positions the episode did not play
      (entered before its first fill, at or after its end, or not reached before it);
    * ``open_at_end_usd``: positions whose exit fell after the episode (valued at the last mark).

    A log without gross PnL or fees leaves the split, and the residual, NaN.
    """
    rows = []
    lognet = log.groupby("model").apply(
        lambda g: float(g["net_pnl"].sum(skipna=False)
                        - (g["gross_pnl"] - g["entry_fee"] - g["exit_fee"]).sum(skipna=False)), include_groups=False)
    keyed = disc.set_index(["model", "execution", "position"]).index
    for (model, execution), comp in played["compared"].groupby(["model", "execution"]):
        is_disc = comp.set_index(["model", "execution", "position"]).index.isin(keyed)
        clean = comp[~is_disc & (comp["status"] == "closed")]
        open_end = comp[~is_disc & (comp["status"] == "open_at_end")]
        unplayed = comp[comp["status"].isin(("before_window", "after_window", "not_reached"))]
        total = float(played["totals"].set_index(["model", "execution"]).loc[(model, execution), "net_usd"])
        row = {"model": model, "execution": execution,
               "difference_usd": total - float(log.loc[log["model"] == model, "net_pnl"].sum()),
               "log_net_vs_gross_minus_fees_usd": -float(lognet.get(model, 0.0)),
               "fill_prices_usd": float((clean["sim_gross"] - clean["rec_gross"]).sum(skipna=False)),
               "fees_usd": float((clean["rec_fees"] - clean["sim_fees"]).sum(skipna=False)),
               "discrepancies_usd": float(disc.loc[(disc["model"] == model) & (disc["execution"] == execution),
                                                   "difference_usd"].sum()),
               "not_played_usd": -float(unplayed["rec_net"].sum()),
               "open_at_end_usd": float((open_end["sim_net"] - open_end["rec_net"]).sum())}
        row["residual_usd"] = row["difference_usd"] - sum(v for k, v in row.items()
                                                          if k.endswith("_usd") and k != "difference_usd")
        rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "execution"])


def _source_summary(sources: pd.Series) -> str:
    """E.g. ``115 analytics, 1 prompt (3 lowered to survive, 1 raised to carry)``."""
    first = sources.str.split(";").str[0]
    kinds = np.where(first.str.startswith("prompt"), "prompt",
                     np.where(first.str.startswith("analytics"), "analytics", "no record"))
    parts = [f"{n} {k}" for k, n in pd.Series(kinds).value_counts().items()]
    changed = [f"{int(sources.str.contains(word).sum())} {word} to {why}"
               for word, why in (("lowered", "survive"), ("raised", "carry"))
               if sources.str.contains(word).any()]
    return ", ".join(parts) + (f" ({', '.join(changed)})" if changed else "")


def finer_on_bars(policies: Sequence[Any], data: Path, window: str, config, log: pd.DataFrame,
                  log_fn=print) -> pd.DataFrame:
    """On-bars net PnL ($, before funding) of each model whose coins all trade on the shared finer
    market (:data:`FINER`, a sibling folder of the data folder), played on those bars."""
    from arena_gym.replay.market import load_replay_market
    from dataclasses import replace
    from arena_gym.evaluation.windows import pinned_plan

    folder = Path(data).resolve().parent / FINER[0]
    if not folder.is_dir():
        return pd.DataFrame()
    rows = {}
    for policy in policies:
        coins = sorted(log.loc[log["model"] == policy.model, "symbol"].unique())
        try:
            loaded = load_replay_market(folder, coins, timeframe=FINER[1], rules=config.exchange)
        except (FileNotFoundError, ValueError) as err:
            log_fn(f"      {policy.model}: no {FINER[1]} market ({err})")
            continue
        if loaded.missing:
            continue
        market = loaded.market
        cfg = replace(config, assets=tuple(market.symbols))
        plan = pinned_plan(market, cfg, [window])
        played = play_recorded([policy], market, plan.config, plan)
        via = f"{FINER[1]} ({', '.join(f'{c} from {s}' for c, s in loaded.resampled.items())})" \
            if loaded.resampled else FINER[1]
        rows[policy.model] = {"on_bars_finer_net_usd": played["totals"]["net_usd"].iloc[0],
                              "finer_timeframe": via}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame

