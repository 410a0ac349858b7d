"""Recorded policies: a trade log played back as a contestant through the same ``env.step``.

A :class:`RecordedPolicy` is built from any trade log ``arena-gym replay`` reads (the Alpha
Arena contest's, or a user's own live or paper run, see :mod:`arena_gym.replay.tradelog`), one
policy per account (``model_id``). It plays the contest's JSON decision action
(``action_mode="decision"``, house rules on) and, stepping the env like any other policy:

* opens each recorded position with its recorded side and total size (a position logged as
  several rows is one position, opened at its first entry), at the recorded leverage when the
  log has a ``leverage`` column, else at the policy's ``leverage``, with the log's
  ``stop_loss`` / ``profit_target`` when present;
* closes it at its recorded exit time with ``close_position``.

Timing is that of ``arena-gym replay --mode bars`` (no look-ahead): an event at time ``tau``
inside bar ``b`` is decided at ``b``'s close and fills at the open of ``b + 1`` plus slippage,
taker fee. One decision holds one signal per coin, so a second event on a coin within the same
decision interval (an exit and a new entry minutes apart, or a position opened and closed
within one bar) waits for the next decision (``deferred``).

What the env did with each recorded position is tracked in :meth:`RecordedPolicy.outcomes`,
never silently dropped: ``opened`` (or ``scaled`` when the margin check cut it), ``refused``
with a reason (margin, house rules: a position still open on the coin, or the env's other
validation), ``closed`` at the recorded exit, ``closed_by_exchange`` (liquidation, stop or
target before the recorded exit), ``open_at_end``, ``before_window`` (entered before the
episode's first fill, not played) and ``after_window`` (entered after its end).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

#: Outcome of each recorded position after an episode (see the module docstring).
STATUSES = ("pending", "opened", "scaled", "refused", "closed", "closed_by_exchange", "open_at_end",
            "before_window", "after_window")

#: Env fields a recorded policy needs: the contest's decision action under its house rules. The
#: observation is not read, so the cheap numeric one is used.
RECORDED_ENV = {"action_mode": "decision", "observation_mode": "numeric", "house_rules": True}


@dataclass
class RecordedPosition:
    """One recorded position (log rows of one account and coin whose holding intervals overlap).

    Sizes in coins (``size`` > 0, ``side`` +1 long / -1 short), times UTC, PnL in quote currency
    as the log records them (NaN when absent).
    """

    position: int
    symbol: str
    side: int
    size: float
    entry_time: pd.Timestamp
    exit_time: pd.Timestamp
    rows: int
    leverage: float
    stop_loss: float
    profit_target: float
    rec_net: float
    rec_gross: float
    rec_fees: float
    status: str = "pending"
    reason: str = ""
    sim_size: float = 0.0
    fill_time: pd.Timestamp | None = None
    close_time: pd.Timestamp | None = None
    deferred: int = 0


@dataclass(order=True)
class _Event:
    time: pd.Timestamp
    is_entry: bool                       # exits first at equal times
    position: int = field(compare=False)


class RecordedPolicy:
    """One account of a trade log, replayed as a policy (see the module docstring).

    Args:
        name: label in tables (the log's ``model_id``).
        positions: the account's recorded positions (:func:`recorded_positions`).
        leverage: leverage of positions whose log row gives none (integer >= 1).
        note: what is known to be missing from the log for this account (shown beside it).
    """

    env_overrides = RECORDED_ENV

    def __init__(self, name: str, positions: Sequence[RecordedPosition], leverage: float = 10.0,
                 note: str = "") -> None:
        if not leverage >= 1:
            raise ValueError(f"{name}: leverage must be >= 1, got {leverage}")
        self.name = name
        self.note = note
        self.default_leverage = float(leverage)
        self._template = list(positions)
        self._env = None
        self.reset()

    # ------------------------------------------------------------------ policy protocol
    def bind(self, env: Any) -> None:
        """Called by the runner with the episode's env, before ``reset``."""
        if env.config.action_mode != "decision":
            raise ValueError(f"{self.name} plays the contest's decision action; the env uses "
                             f"{env.config.action_mode!r}")
        self._env = env
        self._times = pd.DatetimeIndex(env.market.timestamps, tz="UTC")
        self._bar = pd.Timedelta(seconds=env.market.bar_seconds)

    def reset(self, seed: int | None = None) -> None:
        self.positions = {p.position: RecordedPosition(**{**p.__dict__}) for p in self._template}
        events = []
        for p in self.positions.values():
            events.append(_Event(p.entry_time, True, p.position))
            events.append(_Event(p.exit_time, False, p.position))
        self._events = sorted(events)
        self._next = 0
        self._pending: list[_Event] = []
        self._issued: dict[str, tuple[str, int]] = {}   # coin -> (entry/exit, position) issued last step
        self._holding: dict[str, int] = {}               # coin -> position the env holds for us
        self._first_fill: pd.Timestamp | None = None

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        if self._env is None:
            raise RuntimeError(f"{self.name}: bind(env) must be called before act (the runner does it)")
        bar = int(info["bar"])
        self._settle(info)
        decision_time = self._times[bar] + self._bar           # the close of the observed bar
        if self._first_fill is None:
            self._first_fill = decision_time
        while self._next < len(self._events) and self._events[self._next].time < decision_time:
            self._pending.append(self._events[self._next])
            self._next += 1
        decisions: dict[str, dict[str, Any]] = {}
        waiting: list[_Event] = []
        for event in self._pending:
            p = self.positions[event.position]
            if event.is_entry and p.entry_time < self._first_fill:
                p.status = "before_window"
                continue
            if not event.is_entry and p.status == "pending":
                waiting.append(event)                          # its entry is still on its way
                continue
            if not event.is_entry and p.status not in ("opened", "scaled"):
                continue                                       # refused or closed by the exchange
            if p.symbol in decisions:
                p.deferred += 1
                waiting.append(event)
                continue
            if event.is_entry:
                decisions[p.symbol] = self._entry(p)
                self._issued[p.symbol] = ("entry", p.position)
            else:
                decisions[p.symbol] = {"signal": "close_position"}
                self._issued[p.symbol] = ("exit", p.position)
        self._pending = waiting
        return json.dumps(decisions)

    async def aact(self, observation: Any, info: dict[str, Any]) -> str:  # pragma: no cover - same as act
        return self.act(observation, info)

    # ------------------------------------------------------------------ outcomes
    def _entry(self, p: RecordedPosition) -> dict[str, Any]:
        entry = {"signal": "buy_to_enter" if p.side > 0 else "sell_to_enter", "quantity": p.size,
                 "leverage": int(p.leverage if np.isfinite(p.leverage) else self.default_leverage),
                 "confidence": 1.0}
        if np.isfinite(p.stop_loss):
            entry["stop_loss"] = p.stop_loss
        if np.isfinite(p.profit_target):
            entry["profit_target"] = p.profit_target
        return entry

    def _settle(self, info: dict[str, Any]) -> None:
        """Read what the last step did with the orders issued, and what the exchange closed."""
        held = {pos.symbol: pos for pos in self._env.positions()}
        when = self._times[int(info["bar"])]                     # the open of the bar the orders filled at
        for coin, (kind, pid) in self._issued.items():
            p = self.positions[pid]
            pos = held.get(coin)
            if kind == "entry":
                if pos is not None and np.sign(pos.size) == p.side and coin not in self._holding:
                    p.sim_size, p.fill_time = abs(pos.size), when
                    p.status = "opened" if abs(pos.size) >= p.size * (1 - 1e-6) else "scaled"
                    self._holding[coin] = pid
                else:
                    p.status = "refused"
                    p.reason = self._refusal(coin, info)
            elif pos is None:
                p.status, p.close_time = "closed", when
                self._holding.pop(coin, None)
        self._issued = {}
        for coin, pid in list(self._holding.items()):
            if coin not in held:                                 # gone without our close
                p = self.positions[pid]
                p.status, p.close_time = "closed_by_exchange", when
                del self._holding[coin]

    def _refusal(self, coin: str, info: dict[str, Any]) -> str:
        if coin in self._holding:
            return "house rules: a position is still open on the coin"
        if info.get("orders_refused_by_margin"):
            return "margin: not enough free collateral"
        flags = [k[len("orders_"):] for k, v in info.items() if k.startswith("orders_") and v]
        return "validation: " + (", ".join(flags) if flags else "refused")

    def outcomes(self) -> pd.DataFrame:
        """One row per recorded position with its status after the episode (module docstring)."""
        rows = []
        for p in self.positions.values():
            status = p.status
            if status in ("opened", "scaled"):
                status = "open_at_end"
            elif status == "pending":
                status = "after_window"
            scaled = bool(0 < p.sim_size < p.size * (1 - 1e-6))
            rows.append({"policy": self.name, **{k: v for k, v in p.__dict__.items() if k != "status"},
                         "status": status, "scaled": scaled})
        return pd.DataFrame(rows)


def recorded_positions(log: pd.DataFrame) -> dict[str, list[RecordedPosition]]:
    """The positions of each account of a loaded trade log
    (:func:`~arena_gym.replay.tradelog.load_trade_log`), keyed by ``model``."""
    out: dict[str, list[RecordedPosition]] = {}
    for pid, rows in log.groupby("position", sort=True):
        first = rows.sort_values("entry_time").iloc[0]
        total = lambda col: float(rows[col].sum(min_count=len(rows))) if col in rows else np.nan
        fees = (rows["entry_fee"] + rows["exit_fee"]).sum(min_count=len(rows))
        out.setdefault(str(first["model"]), []).append(RecordedPosition(
            position=int(pid), symbol=str(first["symbol"]), side=int(np.sign(first["quantity"])),
            size=float(rows["quantity"].abs().sum()), entry_time=rows["entry_time"].min(),
            exit_time=rows["exit_time"].max(), rows=len(rows),
            leverage=float(rows["leverage"].max()) if "leverage" in rows else np.nan,
            stop_loss=float(first["stop_loss"]) if "stop_loss" in rows else np.nan,
            profit_target=float(first["profit_target"]) if "profit_target" in rows else np.nan,
            rec_net=total("net_pnl"), rec_gross=total("gross_pnl"), rec_fees=float(fees)))
    return out


def recorded_policies(log: pd.DataFrame | str, leverage: float | dict[str, float] = 10.0,
                      notes: dict[str, str] | None = None, models: Sequence[str] | None = None
                      ) -> list[RecordedPolicy]:
    """One :class:`RecordedPolicy` per account of ``log`` (a path or a loaded log).

    ``leverage``: for positions without a logged leverage, one value or one per account;
    ``notes``: known gaps of the log per account; ``models``: keep only these accounts.
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
        lev = leverage.get(model, 10.0) if isinstance(leverage, dict) else leverage
        out.append(RecordedPolicy(model, by_model[model], leverage=lev, note=notes.get(model, "")))
    return out


def outcome_summary(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Counts of each outcome per policy (columns: the statuses, ``scaled`` and ``deferred``)."""
    counts = outcomes.groupby(["policy", "status"]).size().unstack(fill_value=0)
    for status in STATUSES[2:]:
        if status not in counts:
            counts[status] = 0
    counts = counts[[s for s in STATUSES[2:]]]
    counts.insert(0, "positions", outcomes.groupby("policy").size())
    counts["scaled"] = outcomes.groupby("policy")["scaled"].sum().astype(int)
    counts["deferred_events"] = outcomes.groupby("policy")["deferred"].sum().astype(int)
    return counts


def compare_with_log(outcomes: pd.DataFrame, trades: pd.DataFrame) -> pd.DataFrame:
    """Recorded against simulated net PnL (before funding, as venues report it) of the positions
    the episode opened and closed at their recorded exit, one row per position.

    ``trades``: the episode's round trips (``env.trades()``), matched by coin and fill time.
    """
    done = outcomes[outcomes["status"] == "closed"].assign(fill_time=lambda d: pd.to_datetime(d["fill_time"], utc=True))
    sim = trades.assign(entry_time=pd.to_datetime(trades["entry_time"], utc=True))
    merged = done.merge(sim[["symbol", "entry_time", "gross_pnl", "fees", "funding", "size"]],
                        left_on=["symbol", "fill_time"], right_on=["symbol", "entry_time"], how="left",
                        suffixes=("", "_sim"))
    merged["sim_net"] = merged["gross_pnl"] - merged["fees"]
    merged["err_net"] = merged["sim_net"] - merged["rec_net"]
    return merged[["policy", "position", "symbol", "side", "size", "entry_time", "exit_time", "fill_time",
                   "close_time", "rec_net", "sim_net", "err_net", "funding"]]
