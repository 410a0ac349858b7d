"""Replay a recorded trade log through the exchange core and compare with what was recorded.

Two modes:

``fills``
    Every entry and exit fills at its recorded price, in the bar that contains its recorded
    time, with a fee chosen by its recorded maker/taker flag (or the recorded fee itself,
    ``fees="recorded"``). What the simulator adds is its accounting: netting, realized PnL,
    fees and funding. Timing: a fill at time ``tau`` inside bar ``b`` is booked in bar ``b``
    after bar ``b``'s funding settled at its open (a settlement at the open precedes
    ``tau``), so an entry does not pay the funding of its own bar and an exit pays it, as on
    the exchange. Funding is exact up to where the market stamps the settlements.
``bars``
    Entries and exits happen at the recorded times but are priced by the simulator's own fill
    model: a market order at a bar open plus slippage, taker fee. ``timing="next_open"``
    (default, no look-ahead): a decision at ``tau`` inside bar ``b`` fills at the open of bar
    ``b + 1``, on average half a bar after ``tau``. ``timing="bar_open"`` fills at the open of
    bar ``b``, on average half a bar *before* ``tau`` (as if the decision had been taken at the
    previous close): it is not look-ahead free but gets funding right, since a settlement at
    the open of ``b`` precedes the fill.

Accounts: one per ``model`` in the log, holding every coin of the market; the log's rows are
netted per coin (a position split into several rows is one position, see
:func:`~arena_gym.replay.tradelog.position_ids`). Recorded and simulated values are compared
per position and per model. When one position closes and the next on the same coin opens
within one bar (traders often exit and re-enter minutes apart), the second goes to another
engine account of the same model (a "lane"); margin being out of the way, the lanes of a model
add up to exactly one netted account. The replay accounts start with a very large collateral so that
margin checks and liquidation never interfere, and with the contract specs' size step and
minimum order value lifted (the venue already applied its own); account values are reported as
``initial_capital`` plus the simulated PnL. Order validation flags are counted: they should be 0.

The engine fills once per account and coin per bar: fills of one position that fall in the same bar and go
the same way (two entries, or two exits) are merged into one fill at their volume-weighted
price, which leaves PnL and fees unchanged; a fill that reverses the way (an exit after an
entry, a new entry after an exit) within a bar is booked in the next bar at the same price and
counted in ``deferred``. Deferral moves only the time (and so possibly the funding).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from arena_gym.exchange import Exchange, Orders, count_flags, trades_from_ledger
from arena_gym.venue import FeeTier, load_rules
from arena_gym.market.data import MarketData, utc_timestamp

from .tradelog import load_trade_log

MODES = ("fills", "bars")
TIMINGS = ("next_open", "bar_open")
FEE_SOURCES = ("schedule", "recorded")

#: Collateral of each replay account: large enough that margin never binds.
ENGINE_CAPITAL = 1e12
#: Relative difference between a recorded fee and the flag's rate that marks a fill as mismatched.
FEE_MISMATCH = 0.02
#: Size step of the replay's contract specs: finer than any exchange's.
REPLAY_SIZE_STEP = 1e-9


@dataclass
class ReplayResult:
    """Outcome of :func:`replay_trades`.

    Attributes:
        mode, timing, fees: the settings used.
        positions: one row per replayed position: ``rows`` (log rows joined by ``+``), side,
            size (coins), recorded times, ``sim_entry_bar``/``sim_exit_bar`` (open time of the
            bar the first entry / last exit filled in), volume-weighted ``rec_``/``sim_`` entry
            and exit prices, ``rec_gross, rec_fees, rec_net`` against ``sim_gross, sim_fees,
            sim_net`` (quote currency; net = gross - fees, before funding, as venues report
            realized PnL), ``sim_funding`` (paid while open; negative = received),
            ``sim_net_after_funding``, ``err_*`` = simulated - recorded, ``err_net_bp`` in basis
            points of the recorded entry notional, ``err_entry_bp``/``err_exit_bp`` (positive:
            the simulated fill was worse for the trader), ``deferred_fills``, ``sim_close_time``.
        models: one row per account: totals and percentage errors.
        legs: one row per recorded entry or exit: its flag, recorded fee, the fee the flag's
            rate gives (``schedule_fee``) and ``fee_mismatch`` when they differ by more than
            :data:`FEE_MISMATCH` (e.g. an order filled partly as maker, partly as taker); the
            bar the fill was booked in.
        checkpoints: the given checkpoints with the simulated value beside each reported one.
        curve: per bar close and model: ``time, model, account_value, realized_net, fees,
            funding`` as the engine holds them (cumulative; fees of open positions' entries
            included, unrealized PnL in the account value).
        pnl_curve: cumulative realized net PnL and fees of closed positions per model, both
            ``recorded`` (at the recorded exit times) and ``simulated`` (at the simulated
            close, ``sim_close_time``), one row per position (column ``source``).
        skipped: rows that were not replayed and why.
        deferred: fills booked one or more bars after their recorded time (count).
        flags: validation flag counts over the whole replay (should all be 0).
        market_name, bar: the market used; initial_capital: the starting account value.
        notes: the settings and counters above in plain sentences, for summaries.
    """

    mode: str
    timing: str
    fees: str
    positions: pd.DataFrame
    models: pd.DataFrame
    legs: pd.DataFrame
    checkpoints: pd.DataFrame
    curve: pd.DataFrame
    pnl_curve: pd.DataFrame
    skipped: pd.DataFrame
    deferred: int
    flags: dict[str, int]
    market_name: str
    bar: pd.Timedelta
    initial_capital: float
    notes: list[str] = field(default_factory=list)


def replay_trades(log: pd.DataFrame | str, market: MarketData, mode: str = "fills", *, rules: str = "hyperliquid",
                  fees: str = "schedule", fee_tiers: Sequence[FeeTier] = (), timing: str = "next_open",
                  slippage: str = "default", initial_capital: float = 10_000.0,
                  checkpoints: pd.DataFrame | None = None) -> ReplayResult:
    """Replay ``log`` on ``market`` (module docstring).

    Args:
        log: a trade-log file or frame (see :mod:`arena_gym.replay.tradelog`), or the output of
            :func:`~arena_gym.replay.load_trade_log`.
        market: bars and funding covering the log; its contract specs give the fees (the
            replay lifts their size step and minimum order value).
        mode: ``"fills"`` or ``"bars"``.
        rules: exchange rule preset for the engine (liquidation, funding price) and the dated
            fee schedule (e.g. ``alpha-arena-s1``).
        fees: ``fills`` mode only: ``"schedule"`` charges the taker or maker rate by the
            recorded flag; ``"recorded"`` charges the recorded fee of each fill.
        fee_tiers: rates that replace the market's contract fees from each tier's start (e.g.
            a volume tier reached during the log), in addition to the preset's ``fee_schedule``;
            before the first tier, the contract fees.
        timing: ``bars`` mode only: ``"next_open"`` or ``"bar_open"``.
        slippage: ``bars`` mode only: slippage preset of the fill model.
        initial_capital: account value at the start, for the account-value columns.
        checkpoints: optional frame with ``model``, ``time`` and any of ``account_value``,
            ``net_pnl`` (cumulative realized net PnL), ``fees`` (cumulative) as reported.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if timing not in TIMINGS:
        raise ValueError(f"timing must be one of {TIMINGS}, got {timing!r}")
    if fees not in FEE_SOURCES:
        raise ValueError(f"fees must be one of {FEE_SOURCES}, got {fees!r}")
    trades = log if isinstance(log, pd.DataFrame) and "position" in log.columns else load_trade_log(log)
    if mode == "fills" and fees == "recorded" and trades[["entry_fee", "exit_fee"]].isna().any().any():
        raise ValueError("fees='recorded' needs entry_commission_dollars and exit_commission_dollars on every row")
    tiers = sorted([*load_rules(rules).fee_schedule, *fee_tiers], key=lambda t: t.start)
    mkt = market.with_assets([replace(a, size_step=REPLAY_SIZE_STEP, min_notional=0.0) for a in market.assets])
    models = sorted(trades["model"].unique())
    events, skipped = _events(trades, mkt, mode, timing)
    events["schedule_fee"] = _schedule_fees(events, mkt, tiers)
    groups, deferred = _group(events)
    late = sorted({f.position for f in groups if f.bar > mkt.n_bars - 1})
    if late:
        groups = [f for f in groups if f.position not in late]
        events = events[~events["position"].isin(late)]
        extra = trades.loc[trades["position"].isin(late), ["row", "model", "symbol", "position"]]
        skipped = pd.concat([skipped, extra.assign(reason="deferred past the market's last bar")], ignore_index=True)
    rates = _fee_rates(groups, events, mkt, mode, fees, tiers)
    sim, curve, flag_counts = _run(groups, rates, events, mkt, models, mode, rules, slippage, initial_capital)
    kept = trades[~trades["row"].isin(skipped["row"])]
    positions = _positions(kept, sim, groups)
    legs = _legs(events, groups, mkt)
    positions["sim_close_time"] = (np.maximum(positions["exit_time"], positions["sim_exit_bar"]) if mode == "fills"
                                   else positions["sim_exit_bar"])
    pnl_curve = _pnl_curve(positions)
    result = ReplayResult(
        mode=mode, timing=timing if mode == "bars" else "recorded", fees=fees if mode == "fills" else "taker",
        positions=positions, models=_models(positions, trades, skipped, legs), legs=legs,
        checkpoints=_checkpoints(checkpoints, curve, pnl_curve, initial_capital), curve=curve,
        pnl_curve=pnl_curve, skipped=skipped, deferred=deferred,
        flags=flag_counts, market_name=market.name,
        bar=pd.Timedelta(seconds=market.bar_seconds), initial_capital=initial_capital,
    )
    result.notes = _notes(result, market, tiers)
    return result


# ---------------------------------------------------------------------- events and fills
def _bar_of(market: MarketData, times: pd.Series) -> np.ndarray:
    """Index of the bar containing each time; -1 before the data, n_bars after its end."""
    grid = market.timestamps.astype("datetime64[ns]").astype(np.int64)
    t = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]").astype(np.int64)
    idx = np.searchsorted(grid, t, side="right") - 1
    end = grid[-1] + market.bar_seconds * 1_000_000_000
    return np.where(t >= end, market.n_bars, idx)


def _events(trades: pd.DataFrame, market: MarketData, mode: str, timing: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per fill (entries and exits), with the bar it is booked in; and the skipped rows."""
    common = ["row", "model", "symbol", "position"]
    entries = trades[common].assign(time=trades["entry_time"], qty=trades["quantity"], price=trades["entry_price"],
                                    fee=trades["entry_fee"], maker=trades["entry_maker"], is_exit=False)
    exits = trades[common].assign(time=trades["exit_time"], qty=-trades["quantity"], price=trades["exit_price"],
                                  fee=trades["exit_fee"], maker=trades["exit_maker"], is_exit=True)
    ev = pd.concat([entries, exits], ignore_index=True)
    bar = _bar_of(market, ev["time"])
    if mode == "bars" and timing == "next_open":
        bar = np.where((bar >= 0) & (bar < market.n_bars), bar + 1, bar)
    ev["bar"] = bar
    symbols = set(market.symbols)
    reason = np.where(~ev["symbol"].isin(symbols), "coin not in the market",
                      np.where(bar < 1, "in the market's first bar or before it",
                               np.where(bar > market.n_bars - 2, "in the market's last bar or after it", "")))
    ev["reason"] = reason
    bad_positions = ev.loc[ev["reason"] != "", ["position", "reason"]].drop_duplicates("position")
    skipped_rows = trades.loc[trades["position"].isin(bad_positions["position"]),
                              ["row", "model", "symbol", "position"]]
    skipped = skipped_rows.merge(bad_positions, on="position", how="left")
    ev = ev[~ev["position"].isin(bad_positions["position"])]
    ev = ev.sort_values(["model", "symbol", "time", "is_exit", "row"], ascending=[True, True, True, False, True],
                        kind="stable", ignore_index=True)
    return ev, skipped.reset_index(drop=True)


@dataclass
class _Fill:
    """Events of one position booked together in one bar of one lane (see :func:`_group`)."""

    model: str
    symbol: str
    position: int
    bar: int
    increase: bool
    deferred: bool = False
    lane: int = 0
    qty: float = 0.0
    notional: float = 0.0
    rows: list = field(default_factory=list)      # indices into the events frame
    target: float = 0.0


def _group(events: pd.DataFrame) -> tuple[list[_Fill], int]:
    """Fills per bar: at most one per engine account and coin and bar.

    Within a position, events of one bar that go the same way are merged (one fill at their
    volume-weighted price); an event that reverses the way within a bar is deferred to the next
    bar. Positions of one model and coin that follow each other within a bar (an exit and a new
    entry minutes apart) go to different lanes, i.e. different engine accounts of the same
    model, so that neither is delayed: with margin out of the way the lanes of a model add up
    to one netted account.
    """
    fills: list[_Fill] = []
    deferred = 0
    for (_, _), part in events.groupby(["model", "symbol"], sort=False):
        lane_end: list[int] = []
        for _, pos_events in part.groupby("position", sort=False):
            pos, scale = 0.0, float(pos_events["qty"].abs().max())
            mine: list[_Fill] = []
            for k, model, symbol, position, bar, qty, price in zip(
                    pos_events.index, pos_events["model"], pos_events["symbol"], pos_events["position"],
                    pos_events["bar"], pos_events["qty"], pos_events["price"]):
                increase = pos == 0.0 or np.sign(pos) == np.sign(qty)
                last = mine[-1] if mine else None
                if not (last is not None and last.bar >= bar and last.increase == increase
                        and np.sign(last.qty) == np.sign(qty)):
                    booked = int(bar) if last is None else max(int(bar), last.bar + 1)
                    deferred += booked > bar
                    mine.append(_Fill(model, symbol, int(position), booked, increase, deferred=booked > bar))
                    last = mine[-1]
                pos += qty
                if abs(pos) <= 1e-9 * scale:
                    pos = 0.0
                last.qty += qty
                last.notional += abs(qty) * price
                last.rows.append(k)
                last.target = pos
            lane = next((i for i, end in enumerate(lane_end) if end < mine[0].bar), len(lane_end))
            if lane == len(lane_end):
                lane_end.append(mine[-1].bar)
            lane_end[lane] = mine[-1].bar
            for f in mine:
                f.lane = lane
            fills.extend(mine)
    return fills, deferred


def _schedule_fees(events: pd.DataFrame, market: MarketData, tiers: list[FeeTier]) -> np.ndarray:
    """Fee of every event at the taker or maker rate its flag selects (contract fees or tiers)."""
    taker = events["symbol"].map({a.symbol: a.taker_fee for a in market.assets}).to_numpy(float)
    maker = events["symbol"].map({a.symbol: a.maker_fee for a in market.assets}).to_numpy(float)
    for tier in tiers:
        after = (events["time"] >= tier.start).to_numpy()
        taker = np.where(after, tier.taker_fee, taker)
        maker = np.where(after, tier.maker_fee, maker)
    rate = np.where(events["maker"].to_numpy(bool), maker, taker)
    return rate * events["qty"].abs().to_numpy() * events["price"].to_numpy()


def _taker_rate(symbol: str, when: pd.Timestamp, market: MarketData, tiers: list[FeeTier]) -> float:
    tier = next((t for t in reversed(tiers) if when >= t.start), None)
    return tier.taker_fee if tier else next(a.taker_fee for a in market.assets if a.symbol == symbol)


def _fee_rates(fills: list[_Fill], events: pd.DataFrame, market: MarketData, mode: str, fees: str,
               tiers: list[FeeTier]) -> np.ndarray:
    """Fee rate (fraction of fill notional) of every fill; NaN leaves the engine's taker fee."""
    out = np.full(len(fills), np.nan)
    if mode == "bars":
        if tiers:
            times = pd.DatetimeIndex(market.timestamps, tz="UTC")
            out[:] = [_taker_rate(f.symbol, times[f.bar], market, tiers) for f in fills]
        return out
    column = events["fee"] if fees == "recorded" else events["schedule_fee"]
    for i, f in enumerate(fills):
        out[i] = float(column.loc[f.rows].sum()) / f.notional
    return out


def _run(fills: list[_Fill], rates: np.ndarray, events: pd.DataFrame, market: MarketData, models: list[str],
         mode: str, rules: str, slippage: str, initial_capital: float
         ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Step the exchange over the bars the fills span; returns (sim trades, curve, flag counts)."""
    accounts = sorted({(f.model, f.lane) for f in fills}) or [(m, 0) for m in models]
    acc_of = {key: i for i, key in enumerate(accounts)}
    ast_of = {s: j for j, s in enumerate(market.symbols)}
    n, a = len(accounts), market.n_assets
    ex = Exchange(market, n, ENGINE_CAPITAL, rules=rules, slippage="none" if mode == "fills" else slippage,
                  ledger="full")
    by_bar: dict[int, list[tuple[_Fill, float]]] = {}
    for f, r in zip(fills, rates):
        by_bar.setdefault(f.bar, []).append((f, r))
    first, last = (min(by_bar), max(by_bar)) if by_bar else (1, 1)
    start, stop = first - 1, min(last + 1, market.n_bars - 1)
    ex.reset(start)
    totals = {name: 0 for name in count_flags(np.zeros((n, a), np.int64))}
    snapshots = []
    s = ex.state
    makers = events["maker"]
    for b in range(start + 1, stop + 1):
        batch = by_bar.get(b)
        if batch:
            orders = Orders.hold(n, a)
            price = np.full((n, a), np.nan)
            fee = np.full((n, a), np.nan)
            maker = np.zeros((n, a), bool)
            for f, r in batch:
                i, j = acc_of[(f.model, f.lane)], ast_of[f.symbol]
                orders.size[i, j] = f.target
                fee[i, j] = r
                if mode == "fills":
                    price[i, j] = f.notional / abs(f.qty)
                    maker[i, j] = bool(makers.loc[f.rows].all())
            report = ex.step(orders, fill_price=price if mode == "fills" else None, fee_rate=fee, maker=maker)
            for name, counts in count_flags(report.flags).items():
                totals[name] += int(counts.sum())
        else:
            ex.step(None)
        snapshots.append((b, s.equity - ENGINE_CAPITAL, s.realized_pnl - s.fees_paid, s.fees_paid.copy(),
                          s.funding_paid.copy()))
    close_time = pd.DatetimeIndex(market.timestamps, tz="UTC") + pd.Timedelta(seconds=market.bar_seconds)
    per_account = pd.DataFrame({
        "time": np.repeat(close_time[[snap[0] for snap in snapshots]], n),
        "model": np.tile([m for m, _ in accounts], len(snapshots)),
        "account_value": np.concatenate([snap[1] for snap in snapshots]),
        "realized_net": np.concatenate([snap[2] for snap in snapshots]),
        "fees": np.concatenate([snap[3] for snap in snapshots]),
        "funding": np.concatenate([snap[4] for snap in snapshots]),
    })
    curve = per_account.groupby(["time", "model"], as_index=False).sum()
    curve["account_value"] += initial_capital
    sim = trades_from_ledger(ex.ledger, market.timestamps, market.symbols)
    acc = sim["account"].to_numpy()
    sim["model"] = [accounts[i][0] for i in acc]
    sim["lane"] = [accounts[i][1] for i in acc]
    return sim, curve, totals


# ---------------------------------------------------------------------- comparison
def _positions(trades: pd.DataFrame, sim: pd.DataFrame, fills: list[_Fill]) -> pd.DataFrame:
    """Recorded against simulated values per position."""
    rec = trades.assign(entry_notional=trades["quantity"].abs() * trades["entry_price"],
                        exit_notional=trades["quantity"].abs() * trades["exit_price"],
                        size=trades["quantity"].abs(), fees=trades["entry_fee"] + trades["exit_fee"])
    total = lambda v: v.sum(skipna=False)  # NaN when any row lacks the value
    agg = rec.groupby("position").agg(
        model=("model", "first"), symbol=("symbol", "first"), rows=("row", lambda r: "+".join(map(str, r))),
        n_rows=("row", "size"), side=("quantity", lambda q: int(np.sign(q.iloc[0]))),
        entry_time=("entry_time", "min"), exit_time=("exit_time", "max"), size=("size", "sum"),
        entry_notional=("entry_notional", "sum"), exit_notional=("exit_notional", "sum"),
        rec_gross=("gross_pnl", total), rec_fees=("fees", total), rec_net=("net_pnl", total),
    )
    agg["rec_entry_price"] = agg["entry_notional"] / agg["size"]
    agg["rec_exit_price"] = agg["exit_notional"] / agg["size"]
    deferred: dict[int, int] = {}
    for f in fills:
        deferred[f.position] = deferred.get(f.position, 0) + int(f.deferred)
    agg["deferred_fills"] = pd.Series(deferred).reindex(agg.index).fillna(0).astype(int)
    agg["lane"] = pd.Series({f.position: f.lane for f in fills}).reindex(agg.index)
    agg = agg.sort_values(["model", "lane", "symbol", "entry_time"])
    sim = sim.sort_values(["model", "lane", "symbol", "entry_time"], kind="stable")
    sim_cols = {"entry_time": "sim_entry_bar", "exit_time": "sim_exit_bar", "entry_price": "sim_entry_price",
                "exit_price": "sim_exit_price", "gross_pnl": "sim_gross", "fees": "sim_fees",
                "funding": "sim_funding", "exit_reason": "sim_exit_reason"}
    matched = []
    for (model, lane, symbol), part in agg.groupby(["model", "lane", "symbol"], sort=False):
        got = sim[(sim["model"] == model) & (sim["lane"] == lane) & (sim["symbol"] == symbol)]
        if len(got) != len(part):
            raise RuntimeError(f"{model} {symbol} lane {lane}: {len(part)} recorded positions but the exchange "
                               f"produced {len(got)} "
                               f"round trips (exit reasons {got['exit_reason'].value_counts().to_dict()})")
        matched.append(got[list(sim_cols)].rename(columns=sim_cols).set_index(part.index))
    out = agg.join(pd.concat(matched)) if matched else agg.assign(**{c: np.nan for c in sim_cols.values()})
    out["sim_net"] = out["sim_gross"] - out["sim_fees"]
    out["sim_net_after_funding"] = out["sim_net"] - out["sim_funding"]
    out["err_gross"] = out["sim_gross"] - out["rec_gross"]
    out["err_fees"] = out["sim_fees"] - out["rec_fees"]
    out["err_net"] = out["sim_net"] - out["rec_net"]
    out["err_net_bp"] = 1e4 * out["err_net"] / out["entry_notional"]
    out["err_entry_bp"] = 1e4 * out["side"] * (out["sim_entry_price"] / out["rec_entry_price"] - 1.0)
    out["err_exit_bp"] = -1e4 * out["side"] * (out["sim_exit_price"] / out["rec_exit_price"] - 1.0)
    out = out.sort_values(["model", "symbol", "entry_time"]).reset_index().drop(columns=["exit_notional", "lane"])
    first = ["model", "symbol", "position", "rows", "n_rows", "side", "size", "entry_time", "exit_time",
             "sim_entry_bar", "sim_exit_bar", "rec_entry_price", "sim_entry_price", "rec_exit_price", "sim_exit_price"]
    return out[first + [c for c in out.columns if c not in first]]


def _pct(sim: pd.Series, rec: pd.Series) -> pd.Series:
    return 100.0 * (sim - rec) / rec.abs()


def _legs(events: pd.DataFrame, fills: list[_Fill], market: MarketData) -> pd.DataFrame:
    """One row per recorded entry or exit, with its fee by flag and the bar it was booked in."""
    booked = pd.Series(0, index=events.index)
    for f in fills:
        booked.loc[f.rows] = f.bar
    legs = events[["row", "model", "symbol", "position", "time", "qty", "price", "maker", "fee", "schedule_fee"]].copy()
    legs.insert(4, "leg", np.where(events["is_exit"], "exit", "entry"))
    legs["notional"] = legs["qty"].abs() * legs["price"]
    legs = legs.rename(columns={"fee": "rec_fee"})
    legs["fee_mismatch"] = (legs["rec_fee"] - legs["schedule_fee"]).abs() > FEE_MISMATCH * legs["schedule_fee"]
    legs["booked_bar"] = pd.DatetimeIndex(market.timestamps, tz="UTC")[booked.to_numpy()]
    legs["deferred"] = booked.to_numpy() > events["bar"].to_numpy()
    return legs.sort_values(["row", "leg"], ascending=[True, False], ignore_index=True)


def _models(positions: pd.DataFrame, trades: pd.DataFrame, skipped: pd.DataFrame, legs: pd.DataFrame) -> pd.DataFrame:
    """Totals per account over the replayed positions, with percentage errors."""
    sums = positions.groupby("model")[["rec_gross", "sim_gross", "rec_fees", "sim_fees", "rec_net", "sim_net",
                                       "sim_funding", "sim_net_after_funding", "deferred_fills"]].sum(min_count=1)
    out = pd.DataFrame(index=pd.Index(sorted(trades["model"].unique()), name="model"))
    out["rows"] = trades.groupby("model").size()
    out["rows_skipped"] = skipped.groupby("model").size().reindex(out.index).fillna(0).astype(int)
    out["positions"] = positions.groupby("model").size().reindex(out.index).fillna(0).astype(int)
    out = out.join(sums)
    out["gross_err_pct"] = _pct(out["sim_gross"], out["rec_gross"])
    out["fees_err_pct"] = _pct(out["sim_fees"], out["rec_fees"])
    out["net_err_pct"] = _pct(out["sim_net"], out["rec_net"])
    abs_err = positions.assign(abs_err=positions["err_net"].abs()).groupby("model")["abs_err"]
    out["fee_mismatch_fills"] = legs.groupby("model")["fee_mismatch"].sum().reindex(out.index).fillna(0).astype(int)
    out["median_abs_err_net"] = abs_err.median()
    out["p90_abs_err_net"] = abs_err.quantile(0.9)
    order = ["rows", "rows_skipped", "positions", "rec_net", "sim_net", "net_err_pct", "rec_fees", "sim_fees",
             "fees_err_pct", "rec_gross", "sim_gross", "gross_err_pct", "sim_funding", "sim_net_after_funding",
             "median_abs_err_net", "p90_abs_err_net", "deferred_fills", "fee_mismatch_fills"]
    return out[order].reset_index()


def _checkpoints(checkpoints: pd.DataFrame | None, curve: pd.DataFrame, pnl_curve: pd.DataFrame,
                 initial_capital: float) -> pd.DataFrame:
    """Simulated values beside each reported checkpoint.

    ``net_pnl`` and ``fees``: positions the simulation had closed by the checkpoint time (as a
    venue reports realized PnL); ``account_value``: the engine's equity at the last bar close
    before it, plus ``initial_capital``.
    """
    if checkpoints is None or len(checkpoints) == 0:
        return pd.DataFrame(columns=["model", "time"])
    missing = [c for c in ("model", "time") if c not in checkpoints.columns]
    quantities = [c for c in ("account_value", "net_pnl", "fees") if c in checkpoints.columns]
    if missing or not quantities:
        raise ValueError(f"checkpoints need columns model, time and any of account_value, net_pnl, fees; "
                         f"they have {list(checkpoints.columns)}")
    closed = pnl_curve[pnl_curve["source"] == "simulated"]
    rows = []
    for _, cp in checkpoints.iterrows():
        when = utc_timestamp(cp["time"])
        row = {"model": cp["model"], "time": when}
        for q in quantities:
            if pd.isna(cp[q]):
                continue
            if q == "account_value":
                mine = curve[(curve["model"] == cp["model"]) & (curve["time"] <= when)]
                sim = float(mine["account_value"].iloc[-1]) if len(mine) else initial_capital
            else:
                mine = closed[(closed["model"] == cp["model"]) & (closed["time"] <= when)]
                sim = float(mine["realized_net" if q == "net_pnl" else "fees"].iloc[-1]) if len(mine) else 0.0
            row[f"reported_{q}"] = float(cp[q])
            row[f"sim_{q}"] = sim
            row[f"err_{q}"] = sim - float(cp[q])
        rows.append(row)
    return pd.DataFrame(rows)


def _pnl_curve(positions: pd.DataFrame) -> pd.DataFrame:
    """Cumulative realized net PnL and fees per model at each position close, recorded and simulated."""
    parts = []
    for source, time, net, fees in (("recorded", "exit_time", "rec_net", "rec_fees"),
                                    ("simulated", "sim_close_time", "sim_net", "sim_fees")):
        p = positions.sort_values(time)
        part = pd.DataFrame({"model": p["model"].to_numpy(), "time": p[time].to_numpy(), "source": source,
                             "realized_net": p.groupby("model")[net].cumsum().to_numpy(),
                             "fees": p.groupby("model")[fees].cumsum().to_numpy()})
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _notes(result: ReplayResult, market: MarketData, tiers: list[FeeTier]) -> list[str]:
    """Plain-language settings and counters for the summary."""
    notes = [f"market {market.name}: {len(market.symbols)} coins ({', '.join(market.symbols)}), "
             f"{market.bar_seconds // 60}-minute bars"]
    fee_text = ", ".join(f"from {t.start:%Y-%m-%d %H:%M} taker {t.taker_fee:.5%} maker {t.maker_fee:.5%}" for t in tiers)
    specs = market.assets[0]
    base = f"contract fees taker {specs.taker_fee:.4%} maker {specs.maker_fee:.4%}"
    if result.mode == "fills":
        how = "recorded fee of each fill" if result.fees == "recorded" else \
            f"rate by the recorded maker/taker flag: {base}" + (f"; {fee_text}" if tiers else "")
        notes.append(f"fills at the recorded times and prices; fees: {how}")
    else:
        notes.append(f"fills at the bar open ({result.timing}) plus slippage, taker fee ({base}"
                     + (f"; {fee_text}" if tiers else "") + ")")
    if len(result.skipped):
        by = result.skipped.groupby("reason").size()
        notes.append("rows not replayed: " + "; ".join(f"{n} ({r})" for r, n in by.items()) + " - by coin: "
                     + ", ".join(f"{c} {n}" for c, n in result.skipped.groupby("symbol").size().items()))
    notes.append(f"{result.deferred} fill(s) booked in a later bar than recorded (one fill per coin per bar)")
    bad = {k: v for k, v in result.flags.items() if v}
    notes.append("order validation flags: " + (", ".join(f"{k} {v}" for k, v in bad.items()) if bad else "none"))
    return notes
