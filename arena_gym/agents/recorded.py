"""Recorded policies: a trade log played back as a contestant through the same ``env.step``.

A :class:`RecordedPolicy` is built from any trade log ``arena-gym replay`` reads (the Alpha
Arena contest's, or a user's own live or paper run, see :mod:`arena_gym.replay.tradelog`), one
policy per account (``model_id``). Every row of the log is its own entry, at its own time and
size: a position built from two entries stays two entries, sharing their exit. Each position
opens at its leverage (per position, e.g. from the records of the contest that list it; else
the policy's ``leverage``). Two executions (:data:`EXECUTIONS`):

``as traded``
    Each entry and exit fills at its recorded price inside the bar that holds its recorded time,
    at the fee rate of the env's dated fee schedule (taker or maker by the log's flag), through
    ``env.step`` of an env built with the log's fill tape
    (:mod:`arena_gym.env.recorded_fills`, open to recorded policies only: no policy deciding
    live can fill at a price from inside a bar). Funding, margin and liquidation are the env's.
``on bars``
    The contest's JSON decision, as every LLM contestant sends it: an event at ``tau`` inside bar
    ``b`` is decided at ``b``'s close and fills at the open of ``b + 1`` plus slippage, taker
    fee (no look-ahead). A second entry adds to the position (``buy_to_enter`` on a long: the env
    plays without the contest's house rule against it, since the contest's own log shows it);
    the exits of a position close it once, when its last exit is due (a decision has no partial
    close).

One order per coin per step: events of one position and kind (entries, or exits) due in the
same step are one order (as traded: at their volume-weighted price); a different event on the
same coin waits for the next step (counted in ``deferred``; as traded it keeps its recorded
price). What the env did with every recorded position is in :meth:`RecordedPolicy.outcomes`,
never silently dropped: ``closed`` at its recorded exit, ``scaled`` / ``refused`` by the margin
check (with the reason), ``closed_by_exchange`` (liquidation, stop or target before the recorded
exit), ``open_at_end`` (its exit falls after the episode), ``not_reached`` (entered inside the
window, but the episode ended before its turn: deferred behind another event on its coin at the
last step, or an episode cut short), ``before_window`` / ``after_window`` (entered before the
episode's first fill / at or after its end: not played).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from arena_gym.env.recorded_fills import FillTape, RecordedFills, RecordedOrder

#: The two ways a recorded policy executes its log (module docstring).
AS_TRADED, ON_BARS = "as traded", "on bars"
EXECUTIONS = (AS_TRADED, ON_BARS)

#: Outcome of each recorded position after an episode (see the module docstring).
STATUSES = ("closed", "scaled", "refused", "closed_by_exchange", "open_at_end", "not_reached", "before_window",
            "after_window")

#: Env fields a recorded policy needs: the contest's decision action without its house rule
#: against adding to a position (the contest's log adds to positions). The observation is not
#: read, so the cheap numeric one is used.
RECORDED_ENV = {"action_mode": "decision", "observation_mode": "numeric", "house_rules": False}


@dataclass
class RecordedLeg:
    """One recorded fill: a row's entry or exit. ``quantity`` is the signed change of the
    position in coins; ``key`` its index on the policy's fill tape."""

    key: int
    row: int
    position: int
    symbol: str
    is_entry: bool
    time: pd.Timestamp
    quantity: float
    price: float
    maker: bool


@dataclass
class RecordedPosition:
    """One recorded position (log rows of one account and coin whose holding intervals overlap).

    Sizes in coins (``size`` > 0: the sum of its rows; ``side`` +1 long / -1 short), times UTC,
    PnL in quote currency as the log records it (NaN when absent). ``leverage`` (x) and
    ``leverage_source`` (the record it comes from) are set by whoever builds the policy.
    """

    position: int
    symbol: str
    side: int
    size: float
    entry_time: pd.Timestamp
    exit_time: pd.Timestamp
    rows: int
    rec_net: float
    rec_gross: float
    rec_fees: float
    leverage: float = float("nan")
    leverage_source: str = ""
    leverage_cap: float = float("inf")
    status: str = "pending"
    reason: str = ""
    sim_size: float = 0.0
    fill_bar: pd.Timestamp | None = None
    close_time: pd.Timestamp | None = None
    deferred: int = 0
    entries_done: int = 0
    exits_done: int = 0
    short_of_size: bool = False


class RecordedPolicy:
    """One account of a trade log, replayed as a policy (see the module docstring).

    Args:
        name: label in tables.
        positions: the account's recorded positions (:func:`recorded_positions`).
        legs: their entries and exits (:func:`recorded_positions`).
        leverage: leverage of positions that carry none (integer >= 1).
        execution: ``"as traded"`` or ``"on bars"``.
        note: what is known to be missing from the log for this account (shown beside it).
        model: the account's ``model_id`` in the log (default ``name``).
    """

    def __init__(self, name: str, positions: Sequence[RecordedPosition], legs: Sequence[RecordedLeg],
                 leverage: float = 10.0, execution: str = ON_BARS, note: str = "", model: str | None = None) -> None:
        if not leverage >= 1:
            raise ValueError(f"{name}: leverage must be >= 1, got {leverage}")
        if execution not in EXECUTIONS:
            raise ValueError(f"{name}: execution must be one of {EXECUTIONS}, got {execution!r}")
        self.name = name
        self.model = model or name
        self.note = note
        self.execution = execution
        self.default_leverage = float(leverage)
        self.env_overrides = dict(RECORDED_ENV)
        self._template = list(positions)
        self._legs = sorted(legs, key=lambda g: (g.time, g.is_entry, g.key))   # exits first at equal times
        for i, leg in enumerate(self._legs):
            leg.key = i
        self._env = None
        self.reset()

    def fill_tape(self) -> FillTape:
        """The log's fills as a tape, for the env that replays it as traded."""
        legs = sorted(self._legs, key=lambda g: g.key)
        return FillTape(symbol=tuple(g.symbol for g in legs),
                        time=pd.DatetimeIndex([g.time for g in legs]).tz_convert("UTC"),
                        quantity=np.array([g.quantity for g in legs]), price=np.array([g.price for g in legs]),
                        maker=np.array([g.maker for g in legs], bool))

    # ------------------------------------------------------------------ policy protocol
    def bind(self, env: Any) -> None:
        """Called by the runner with the episode's env (already reset), before ``reset``."""
        self._env = env
        m = env.market
        self._times = pd.DatetimeIndex(m.timestamps, tz="UTC")
        self._bar = pd.Timedelta(seconds=m.bar_seconds)
        start = int(env.account.bar[0])
        k = env.config.bars_per_decision
        self._first_fill = self._times[start] + self._bar
        steps = env.config.episode_length
        self._end = (self._first_fill + steps * k * self._bar) if steps else self._times[-1] + self._bar

    def reset(self, seed: int | None = None) -> None:
        self.positions = {p.position: RecordedPosition(**{**p.__dict__}) for p in self._template}
        self._n_entries = {pid: 0 for pid in self.positions}
        self._n_exits = {pid: 0 for pid in self.positions}
        for g in self._legs:
            (self._n_entries if g.is_entry else self._n_exits)[g.position] += 1
        self._next = 0
        self._pending: list[RecordedLeg] = []
        self._issued: dict[str, tuple[list[RecordedLeg], float]] = {}   # coin -> (legs, size held before)
        self._holding: dict[str, int] = {}                               # coin -> position the env holds
        #: entries no allowed leverage carried at full size: the new positions, the time, the
        #: missing collateral ($) and the positions kept open beside them (id, notional $, leverage x)
        self.conflicts: list[dict[str, Any]] = []

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        if self._env is None:
            raise RuntimeError(f"{self.name}: bind(env) must be called before act (the runner does it)")
        bar = int(info["bar"])
        self._settle(info)
        # as traded: the events inside the bar this step fills; on bars: those before this decision
        horizon = self._times[bar] + (2 if self.execution == AS_TRADED else 1) * self._bar
        while self._next < len(self._legs) and self._legs[self._next].time < horizon:
            self._pending.append(self._legs[self._next])
            self._next += 1
        groups: dict[str, list[RecordedLeg]] = {}
        waiting: list[RecordedLeg] = []
        for leg in self._pending:
            p = self.positions[leg.position]
            if p.status == "pending" and leg.is_entry and p.entry_time < self._first_fill:
                p.status = "before_window"
            if p.status == "pending" and p.entry_time >= self._end:
                p.status = "after_window"
            if p.status in ("before_window", "after_window", "refused", "closed_by_exchange"):
                continue
            if not leg.is_entry and p.entries_done < self._n_entries[p.position]:
                waiting.append(leg)                               # its entries are still on their way
                continue
            group = groups.get(leg.symbol)
            if group is None and self.execution == ON_BARS and not leg.is_entry:
                due = [g for g in self._pending if g.position == p.position and not g.is_entry]
                if len(due) + p.exits_done < self._n_exits[p.position]:
                    waiting.append(leg)                           # a decision closes the whole position
                    continue
            if group is None:
                groups[leg.symbol] = [leg]
            elif group[0].position == leg.position and group[0].is_entry == leg.is_entry:
                group.append(leg)
            else:
                p.deferred += 1
                waiting.append(leg)
        self._pending = waiting
        held = {pos.symbol: pos.size for pos in self._env.positions()}
        self._issued = {coin: (legs, held.get(coin, 0.0)) for coin, legs in groups.items()}
        self._carry_recorded_sizes(groups, bar)
        if self.execution == AS_TRADED:
            return RecordedFills({coin: self._recorded_order(legs, held.get(coin, 0.0))
                                  for coin, legs in groups.items()})
        return json.dumps({coin: self._decision(legs) for coin, legs in groups.items()})

    async def aact(self, observation: Any, info: dict[str, Any]) -> Any:  # pragma: no cover - same as act
        return self.act(observation, info)

    # ------------------------------------------------------------------ orders
    def _carry_recorded_sizes(self, groups: dict[str, list[RecordedLeg]], bar: int) -> None:
        """Raise the leverage of this step's new positions, where their own cannot have carried the
        recorded size, to the least integer leverage that does (capped at the coin's maximum and
        at the position's ``leverage_cap``).

        The contest filled every logged entry at its full size, so its leverage was at least the
        one at which that size's initial margin (plus fees) fits the account's free collateral:
        collateral plus open losses, less the margin of the positions kept (the env's isolated
        margin check). The free collateral is estimated with a 3 % reserve, at the recorded price
        (as traded) or the last close (on bars). The position's ``leverage_source`` says so."""
        entries = {coin: legs for coin, legs in groups.items() if legs[0].is_entry
                   and self.positions[legs[0].position].entries_done == 0}
        if not entries:
            return
        m = self._env.market
        free = float(self._env.account.collateral[0])
        kept = []
        for pos in self._env.positions():
            free += min(pos.unrealized_pnl, 0.0)
            legs = groups.get(pos.symbol)
            if legs is None or not self._closes(legs):
                free -= pos.margin
                if pos.symbol in self._holding:
                    kept.append((self._holding[pos.symbol], abs(pos.size) * pos.mark_price, pos.leverage))
        free *= 0.97
        taker = max(a.taker_fee for a in m.assets) + 0.001          # fee and slippage allowance
        notional = {}
        for coin, legs in entries.items():
            price = (sum(abs(g.quantity) * g.price for g in legs) / sum(abs(g.quantity) for g in legs)
                     if self.execution == AS_TRADED else float(m.close[bar, list(m.symbols).index(coin)]))
            notional[coin] = sum(abs(g.quantity) for g in legs) * price
        total = sum(notional.values())
        need = sum(n / self._leverage(self.positions[entries[c][0].position]) for c, n in notional.items())
        if need + taker * total <= free:
            return
        least = int(np.ceil(total / (free - taker * total))) if free > taker * total else 10 ** 6
        at_caps = 0.0
        for coin, legs in entries.items():
            p = self.positions[legs[0].position]
            own = self._leverage(p)
            cap = int(min(m.assets[list(m.symbols).index(coin)].max_leverage, p.leverage_cap))
            raised = min(max(own, least), cap)
            at_caps += notional[coin] / raised
            if raised > own:
                p.leverage = float(raised)
                p.leverage_source += (f"; raised from {own}x to {raised}x, the least leverage that carries the "
                                      f"recorded size" + (" (capped: the coin's maximum or the highest it survives)"
                                                          if raised == cap and least > cap else ""))
        shortfall = at_caps + taker * total - free
        if shortfall > 0:
            self.conflicts.append({"positions": [legs[0].position for legs in entries.values()],
                                   "time": min(legs[0].time for legs in entries.values()),
                                   "shortfall_usd": shortfall / 0.97, "kept": kept})

    def _leverage(self, p: RecordedPosition) -> int:
        return int(p.leverage if np.isfinite(p.leverage) else self.default_leverage)

    def _closes(self, legs: list[RecordedLeg]) -> bool:
        p = self.positions[legs[0].position]
        return not legs[0].is_entry and p.exits_done + len(legs) >= self._n_exits[p.position]

    def _recorded_order(self, legs: list[RecordedLeg], held: float) -> RecordedOrder:
        p = self.positions[legs[0].position]
        change = sum(g.quantity for g in legs)
        if legs[0].is_entry:
            target = held + change
        elif self._closes(legs):
            target = 0.0
        else:                                   # a partial exit, never past flat
            target = held + change if np.sign(held + change) == np.sign(held) else 0.0
        return RecordedOrder(tuple(g.key for g in legs), float(target), float(self._leverage(p)))

    def _decision(self, legs: list[RecordedLeg]) -> dict[str, Any]:
        p = self.positions[legs[0].position]
        if not legs[0].is_entry:
            return {"signal": "close_position"}
        return {"signal": "buy_to_enter" if p.side > 0 else "sell_to_enter",
                "quantity": float(sum(abs(g.quantity) for g in legs)), "leverage": self._leverage(p),
                "confidence": 1.0}

    # ------------------------------------------------------------------ outcomes
    def _settle(self, info: dict[str, Any]) -> None:
        """Read what the last step did with the orders issued, and what the exchange closed."""
        held = {pos.symbol: pos.size for pos in self._env.positions()}
        when = self._times[int(info["bar"])]          # the open of the bar the last step simulated
        for coin, (legs, before) in self._issued.items():
            p = self.positions[legs[0].position]
            size = held.get(coin, 0.0)
            if legs[0].is_entry:
                wanted = abs(before) + sum(abs(g.quantity) for g in legs)
                p.entries_done += len(legs)
                if np.sign(size) == p.side and abs(size) > abs(before) * (1 + 1e-9):
                    if p.fill_bar is None:
                        p.fill_bar = when
                    p.sim_size = max(p.sim_size, abs(size))
                    self._holding[coin] = p.position
                    if p.status == "pending":
                        p.status = "opened"
                    if abs(size) < wanted * (1 - 1e-6):
                        p.short_of_size = True
                        p.reason = p.reason or self._refusal(coin, info)
                elif p.status == "pending":
                    p.status, p.reason = "refused", self._refusal(coin, info)
                else:                                 # a later entry of an open position refused
                    p.short_of_size = True
                    p.reason = p.reason or self._refusal(coin, info)
            else:
                p.exits_done += len(legs)
                if size == 0.0:
                    p.status, p.close_time = "closed", when
                    self._holding.pop(coin, None)
        self._issued = {}
        for coin, pid in list(self._holding.items()):
            if coin not in held:                                 # gone without our close
                p = self.positions[pid]
                p.status, p.close_time = "closed_by_exchange", when
                why = ("liquidation" if info.get("liquidations") or info.get("liquidated") else
                       "stop or target" if info.get("stop_fills") or info.get("take_profit_fills") else
                       "closed by the exchange")
                p.reason = f"{p.reason}; {why}" if p.reason else why
                del self._holding[coin]

    def _refusal(self, coin: str, info: dict[str, Any]) -> str:
        if info.get("orders_refused_by_margin"):
            return "margin: not enough free collateral (refused)"
        if info.get("orders_scaled_by_margin"):
            return "margin: not enough free collateral (scaled down)"
        flags = [k[len("orders_"):] for k, v in info.items() if k.startswith("orders_") and v]
        return "validation: " + (", ".join(flags) if flags else "refused")

    def outcomes(self) -> pd.DataFrame:
        """One row per recorded position with its status after the episode (module docstring)."""
        if self._issued and self._env is not None:       # the episode's last step: no act after it
            self._settle({"bar": int(self._env.account.bar[0])})
        rows = []
        for p in self.positions.values():
            status = p.status
            if status == "opened":
                status = "open_at_end"
            elif status == "pending":                 # never issued
                status = "after_window" if p.entry_time >= getattr(self, "_end", p.entry_time) else "not_reached"
            scaled = bool(p.short_of_size and status != "refused")
            rows.append({"policy": self.name, "model": self.model, "execution": self.execution,
                         **{k: v for k, v in p.__dict__.items() if k not in ("status", "short_of_size", "entries_done",
                                                                          "exits_done")},
                         "status": status, "scaled": scaled})
        return pd.DataFrame(rows)


def recorded_positions(log: pd.DataFrame) -> dict[str, tuple[list[RecordedPosition], list[RecordedLeg]]]:
    """The positions and legs (every row's entry and exit) of each account of a loaded trade log
    (:func:`~arena_gym.replay.tradelog.load_trade_log`), keyed by ``model``."""
    out: dict[str, tuple[list[RecordedPosition], list[RecordedLeg]]] = {}
    for pid, rows in log.groupby("position", sort=True):
        first = rows.sort_values("entry_time").iloc[0]
        total = lambda col: float(rows[col].sum(min_count=len(rows)))
        fees = (rows["entry_fee"] + rows["exit_fee"]).sum(min_count=len(rows))
        positions, legs = out.setdefault(str(first["model"]), ([], []))
        positions.append(RecordedPosition(
            position=int(pid), symbol=str(first["symbol"]), side=int(np.sign(first["quantity"])),
            size=float(rows["quantity"].abs().sum()), entry_time=rows["entry_time"].min(),
            exit_time=rows["exit_time"].max(), rows=len(rows), rec_net=total("net_pnl"), rec_gross=total("gross_pnl"),
            rec_fees=float(fees)))
        for _, r in rows.iterrows():
            for is_entry in (True, False):
                sign = 1.0 if is_entry else -1.0
                legs.append(RecordedLeg(
                    key=-1, row=int(r["row"]), position=int(pid), symbol=str(r["symbol"]), is_entry=is_entry,
                    time=r["entry_time" if is_entry else "exit_time"], quantity=sign * float(r["quantity"]),
                    price=float(r["entry_price" if is_entry else "exit_price"]),
                    maker=bool(r["entry_maker" if is_entry else "exit_maker"])))
    return out


def recorded_policies(log: pd.DataFrame | str, leverage: float | Mapping[str, float] = 10.0,
                      notes: Mapping[str, str] | None = None, models: Sequence[str] | None = None,
                      execution: str = ON_BARS, position_leverage: Mapping[int, tuple[float, str]] | None = None,
                      suffix: str = "") -> list[RecordedPolicy]:
    """One :class:`RecordedPolicy` per account of ``log`` (a path or a loaded log).

    ``leverage``: for positions without their own, one value or one per account;
    ``position_leverage``: ``{position id: (leverage, source[, cap])}`` for positions with their
    own (``cap``: the highest leverage a raise to carry the recorded size may reach);
    ``notes``: known gaps of the log per account; ``models``: keep only these accounts;
    ``execution``: ``"as traded"`` or ``"on bars"``; ``suffix`` is appended to each name.
    """
    from arena_gym.replay.tradelog import load_trade_log

    frame = log if isinstance(log, pd.DataFrame) and "position" in log.columns else load_trade_log(log)
    by_model = recorded_positions(frame)
    unknown = sorted(set(models or ()) - set(by_model))
    if unknown:
        raise ValueError(f"no account {unknown} in the trade log; it has {sorted(by_model)}")
    notes = notes or {}
    out = []
    for model in (models or sorted(by_model)):
        lev = leverage.get(model, 10.0) if isinstance(leverage, Mapping) else leverage
        positions, legs = by_model[model]
        for p in positions:
            own = (position_leverage or {}).get(p.position, (float(lev), "default"))
            p.leverage, p.leverage_source = own[0], own[1]
            p.leverage_cap = own[2] if len(own) > 2 else float("inf")
        out.append(RecordedPolicy(model + suffix, positions, legs, leverage=lev, execution=execution,
                                  note=notes.get(model, ""), model=model))
    return out


def outcome_summary(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Counts of each outcome per policy (columns: the statuses and ``deferred_events``)."""
    frame = outcomes.assign(status=np.where(outcomes["scaled"], "scaled", outcomes["status"]))
    counts = frame.groupby(["policy", "status"]).size().unstack(fill_value=0)
    for status in STATUSES:
        if status not in counts:
            counts[status] = 0
    counts = counts[list(STATUSES)]
    counts.insert(0, "positions", outcomes.groupby("policy").size())
    counts["deferred_events"] = outcomes.groupby("policy")["deferred"].sum().astype(int)
    return counts


def compare_with_log(outcomes: pd.DataFrame, trades: pd.DataFrame) -> pd.DataFrame:
    """Recorded against simulated net PnL (gross - fees, before funding, as venues report it) of
    every position the episode played, one row per position, with the simulated funding.

    ``trades``: the episode's round trips (``env.trades()``), matched by coin and the bar of the
    opening fill. Positions not played (before or after the window, refused) get NaN there.
    """
    played = outcomes.assign(fill_bar=pd.to_datetime(outcomes["fill_bar"], utc=True))
    sim = trades.assign(entry_time=pd.to_datetime(trades["entry_time"], utc=True))
    merged = played.merge(sim[["symbol", "entry_time", "gross_pnl", "fees", "funding", "size", "exit_reason"]],
                          left_on=["symbol", "fill_bar"], right_on=["symbol", "entry_time"], how="left",
                          suffixes=("", "_sim"))
    merged = merged.rename(columns={"gross_pnl": "sim_gross", "fees": "sim_fees"})
    merged["sim_net"] = merged["sim_gross"] - merged["sim_fees"]
    merged["err_net"] = merged["sim_net"] - merged["rec_net"]
    return merged[["policy", "model", "execution", "position", "symbol", "side", "size", "size_sim", "entry_time",
                   "exit_time", "fill_bar", "close_time", "status", "scaled", "reason", "leverage", "leverage_source",
                   "rec_gross", "rec_fees", "rec_net", "sim_gross", "sim_fees", "sim_net", "err_net", "funding",
                   "exit_reason"]]
