"""Paper trading: several contestants in lockstep on bars that close in real time.

A :class:`PaperSession` runs the same policies as an offline evaluation (LLM presets, PPO
checkpoints, baselines, any harness policy), each with its own account, through the same
:class:`~arena_gym.env.PerpTradingEnv` and exchange core, on the closed bars of a
:class:`~arena_gym.data.live.LiveFeed`. Fills are simulated; no order goes to an exchange.

How the env steps over a growing market
    The env is rebuilt over the bars known so far at every new bar, and the contestant's
    journal of actions is replayed into it through ``reset`` and ``step``; then the pending
    action (decided at the previous close) is stepped on the new bar and the policy decides on
    the new observation. Only the env's public API is used, and because the exchange is a pure
    function of (bars, actions), the account after the replay is the account before it. The
    market the env is built on holds the real bars plus ``bars_per_decision`` flat placeholder
    bars at the last close (an env needs bars after its start); the session never steps onto a
    placeholder, and every indicator and feature is causal, so no observation or fill reads
    them: the exchange cannot look ahead. A market extended in place would avoid the replay,
    but the exchange and the prompt renderer precompute tables from the whole market when they
    are built, so in-place growth would have to reach into their internals. The replay costs
    one env step per journaled decision per new bar (a few milliseconds for numeric
    observations, about 9 ms with the contest prompt on a small CPU): ~9 s per LLM contestant
    per bar after 1,000 decisions.

When a decision is taken
    At the close of every bar (every ``bars_per_decision`` bars), as soon as the feed serves it
    (see :mod:`arena_gym.data.live` for late, missing and revised bars and for outages). The
    orders fill at the next bar's open, as offline.

Persistence and restarts
    ``out_dir`` holds ``bars.npz`` (every bar used: history and live, with funding and the
    gap-rule flags) and ``paper_state.json`` (per contestant: its seed and the journal of its
    actions, one per decision, in order), each written to a temporary file and moved into
    place with ``os.replace`` after every bar, bars first. The account state is not stored: it
    is recomputed from these two files, which makes a step idempotent per bar index: a
    decision is journaled once, at the index of the bar it was taken on, and a rerun never
    steps a bar twice. After a crash or kill, rerunning the same command rebuilds every
    contestant from the files, resets each policy with its seed and lets it decide again on
    each journaled bar (so random generators and other policy state are where they were; a
    decision that comes out differently is logged as ``diverged`` and the journaled one is
    kept), then catches up: every bar that closed while the session was down is fetched and
    decided in order, as it would have been live. LLM contestants get a response cache in
    ``auto`` mode under ``out_dir/llm-cache``: a decision taken before the crash is served from
    it (no second call, no second charge), and a missed bar's prompt is the one the model
    would have seen live, because the prompt shows the bar's time, never the wall clock.

Outputs
    ``config.json``, ``episodes.jsonl`` (one line per contestant: the episode so far, rewritten
    atomically after every bar) and ``episodes/<policy>/w000-s<seed>.steps.parquet`` /
    ``.trades.parquet``: the files of an offline evaluation, so ``arena-gym report`` works on
    the folder while the session runs. ``events.jsonl`` logs every feed event and policy
    error.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena_gym.data.live import Bars, FeedEvent, LiveFeed
from arena_gym.env.config import EnvConfig
from arena_gym.exchange.rules import asset_specs, load_rules
from arena_gym.market.data import MarketData

from .runner import (CONFIG_NAME, LOG_NAME, EpisodeKey, EpisodeRecorder, episode_stem, make_env,
                     market_summary, policy_seed)

BARS_NAME = "bars.npz"
STATE_NAME = "paper_state.json"
EVENTS_NAME = "events.jsonl"
#: Parts of ``config.json`` that must match when a session is resumed.
PLAN_KEYS = ("feed", "env", "seed", "policies")


# ---------------------------------------------------------------------- files
def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsynced, then ``os.replace``."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def encode_action(action: Any) -> dict[str, Any]:
    """A JSON form of an action that :func:`decode_action` turns back into an equal action
    (arrays keep their dtype, LLM responses every field)."""
    if isinstance(action, np.ndarray):
        return {"kind": "array", "dtype": str(action.dtype), "shape": list(action.shape), "values": action.ravel().tolist()}
    if hasattr(action, "to_record") and hasattr(action, "prompt_tokens"):
        return {"kind": "llm", "record": action.to_record()}
    if isinstance(action, (str, dict, list, int, float)) or action is None:
        return {"kind": "json", "value": action}
    raise TypeError(f"cannot journal an action of type {type(action).__name__}; paper policies must return arrays, "
                    f"LLM responses or JSON values")


def decode_action(record: dict[str, Any]) -> Any:
    kind = record["kind"]
    if kind == "array":
        return np.array(record["values"], dtype=record["dtype"]).reshape(record["shape"])
    if kind == "llm":
        from arena_gym.llm.response import LLMResponse

        return LLMResponse.from_record(record["record"])
    return record["value"]


def same_action(a: Any, b: Any) -> bool:
    """Whether two actions are the same decision (arrays bitwise, LLM answers by text and error)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if hasattr(a, "prompt_tokens") or hasattr(b, "prompt_tokens"):
        return getattr(a, "text", None) == getattr(b, "text", None) and getattr(a, "error", None) == getattr(b, "error", None)
    return a == b


@dataclass
class BarStore:
    """Every bar of the session: ``times`` (n,) open times in ms, ``ohlcv`` (n, A, 5), ``funding``
    (n, A), ``filled`` (n, A), and how many of them were history (served before the session began)."""

    coins: tuple[str, ...]
    times: np.ndarray
    ohlcv: np.ndarray
    funding: np.ndarray
    filled: np.ndarray
    n_history: int

    @classmethod
    def from_history(cls, coins: Sequence[str], bars: Bars) -> "BarStore":
        return cls(tuple(coins), bars.times, bars.ohlcv, bars.funding, bars.filled, len(bars))

    @property
    def n_bars(self) -> int:
        return len(self.times)

    def append(self, bars: Bars) -> None:
        if len(bars) and bars.times[0] != self.times[-1] + (self.times[-1] - self.times[-2]):
            raise ValueError(f"bar at {bars.times[0]} ms does not follow the last stored bar {self.times[-1]} ms")
        self.times = np.concatenate([self.times, bars.times])
        self.ohlcv = np.concatenate([self.ohlcv, bars.ohlcv])
        self.funding = np.concatenate([self.funding, bars.funding])
        self.filled = np.concatenate([self.filled, bars.filled])

    def save(self, path: Path) -> None:
        import io

        buf = io.BytesIO()
        np.savez(buf, coins=np.array(self.coins), times=self.times, ohlcv=self.ohlcv, funding=self.funding,
                 filled=self.filled, n_history=np.array(self.n_history))
        write_atomically(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "BarStore":
        with np.load(path) as z:
            return cls(tuple(str(c) for c in z["coins"]), z["times"], z["ohlcv"], z["funding"], z["filled"],
                       int(z["n_history"]))

    def market(self, exchange_preset: str, name: str, placeholders: int = 0) -> MarketData:
        """The bars as a MarketData, plus ``placeholders`` flat bars at the last close that the
        session never steps onto (see the module docstring)."""
        times, ohlcv, funding, filled = self.times, self.ohlcv, self.funding, self.filled
        if placeholders:
            step = times[-1] - times[-2]
            times = np.concatenate([times, times[-1] + step * np.arange(1, placeholders + 1)])
            flat = np.repeat(ohlcv[-1:, :, 3:4], 5, axis=2)
            flat[:, :, 4] = 0.0
            ohlcv = np.concatenate([ohlcv, np.repeat(flat, placeholders, axis=0)])
            funding = np.concatenate([funding, np.zeros((placeholders, funding.shape[1]))])
            filled = np.concatenate([filled, np.ones((placeholders, filled.shape[1]), bool)])
        rules = load_rules(exchange_preset)
        return MarketData(timestamps=times.astype("datetime64[ms]"), open=ohlcv[:, :, 0], high=ohlcv[:, :, 1],
                          low=ohlcv[:, :, 2], close=ohlcv[:, :, 3], volume=ohlcv[:, :, 4], funding_rate=funding,
                          assets=asset_specs(self.coins, rules), filled=filled, name=name,
                          funding_interval_hours=rules.funding_interval_hours)


# ---------------------------------------------------------------------- contestants
def policies_for(specs: Sequence[str], out_dir: str | Path):
    """The policies of ``specs`` (see :func:`~.arena.built_policies`), each LLM contestant with
    its response cache in ``auto`` mode at ``out_dir/llm-cache/<spec>.jsonl``; closed afterwards."""
    from .arena import built_policies

    return built_policies(specs, llm_cache_dir=Path(out_dir) / "llm-cache")


@dataclass
class Contestant:
    """One policy with its account: its journal of actions and its env as of the last bar."""

    policy: Any
    seed: int
    journal: list[dict[str, Any]] = field(default_factory=list)
    env: Any = None
    observation: Any = None
    info: dict[str, Any] | None = None
    recorder: EpisodeRecorder | None = None
    pending: Any = None
    done: bool = False
    error: str | None = None

    @property
    def name(self) -> str:
        return self.policy.name


class PaperSession:
    """Contestants in lockstep on a live feed, persisted after every bar (see the module docstring).

    Args:
        feed: the live market source.
        policies: harness policies with unique names.
        config: the env config every contestant starts from; its ``assets`` become the feed's
            coins, and it has no ``episode_length`` or ``split``: a paper episode starts at the
            last history bar and runs until stopped.
        out_dir: the session folder.
        history_bars: closed bars fetched before the first decision (indicators, lookback).
        seed: env and policy seed.
        status: receives the status line after every bar.
        log: receives the one-line description of every event.
    """

    def __init__(self, feed: LiveFeed, policies: Sequence[Any], config: EnvConfig, out_dir: str | Path, *,
                 history_bars: int = 500, seed: int = 0, status: Callable[[str], None] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        from .arena import shared_config

        names = [p.name for p in policies]
        if len(set(names)) != len(names):
            raise ValueError(f"policy names must be unique, got {names}")
        if not policies:
            raise ValueError("a paper session needs at least one policy")
        self.feed = feed
        config, self.moved = shared_config(policies, replace(config, assets=tuple(feed.coins)))
        if tuple(config.assets) != tuple(feed.coins):
            raise ValueError(f"a contestant needs the assets {list(config.assets)}; the feed serves {list(feed.coins)}: "
                             f"give those coins (--coins {','.join(config.assets)})")
        self.config = replace(config, episode_length=None, split=None)
        self.out_dir = Path(out_dir)
        self.history_bars = int(history_bars)
        self.seed = int(seed)
        self.status = status
        self.log = log
        self.contestants = [Contestant(p, self.seed) for p in policies]
        self.store: BarStore | None = None
        self._feed_log = feed.log  # the feed's own listener still hears every event
        self.feed.log = self._feed_event
        self.events = 0

    # ------------------------------------------------------------------ plan and state files
    def plan(self) -> dict[str, Any]:
        f = self.feed
        return {"feed": {"exchange": f.venue.id, "coins": list(f.coins), "timeframe": f.timeframe},
                "env": self.config.as_dict(), "seed": self.seed,
                "policies": {c.name: {"type": type(c.policy).__name__,
                                      "env_overrides": dict(getattr(c.policy, "env_overrides", {}) or {})}
                             for c in self.contestants}}

    def _check_plan(self) -> None:
        path = self.out_dir / CONFIG_NAME
        plan = json.loads(json.dumps(self.plan(), default=str))
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            differ = [k for k in PLAN_KEYS if old.get(k) != plan.get(k)]
            if differ:
                raise ValueError(f"{self.out_dir} holds a paper session with a different {', '.join(differ)}; rerun "
                                 f"the same command to resume it, or write to another --out folder")

    def _write_config(self) -> None:
        s = self.store
        start = s.n_history - 1
        plan = {**self.plan(), "market": market_summary(self.market()), "windows": [start], "seeds": [self.seed],
                "moved_fields": self.moved, "paper": {"history_bars": s.n_history, "live_bars": s.n_bars - s.n_history}}
        write_atomically(self.out_dir / CONFIG_NAME, json.dumps(plan, indent=2, default=str).encode())

    def _save_state(self) -> None:
        state = {"bars_used": self.store.n_bars,
                 "contestants": {c.name: {"seed": c.seed, "journal": c.journal, "error": c.error}
                                 for c in self.contestants}}
        write_atomically(self.out_dir / STATE_NAME, json.dumps(state).encode())

    def _feed_event(self, event: FeedEvent) -> None:
        self._event(event.to_record())
        if self._feed_log is not None:
            self._feed_log(event)
        if self.log is not None:
            self.log(f"[{event.kind}] {event.detail}")

    def _event(self, record: dict[str, Any]) -> None:
        self.events += 1
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with (self.out_dir / EVENTS_NAME).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    # ------------------------------------------------------------------ markets and envs
    @property
    def start_bar(self) -> int:
        return self.store.n_history - 1

    def market(self) -> MarketData:
        f = self.feed
        return self.store.market(f.venue.preset, f"{f.venue.id}-{f.timeframe}-live",
                                 placeholders=self.config.bars_per_decision)

    def _sync(self, c: Contestant, market: MarketData, redecide: bool) -> None:
        """Rebuild ``c``'s env over ``market``, replay its journal (deciding again on each bar when
        ``redecide``), step every bar it has not stepped yet, and decide on the latest one."""
        if c.done and not redecide:
            return
        env = make_env(market, self.config, c.policy)
        observation, info = env.reset(seed=c.seed, options={"start": self.start_bar})
        bind = getattr(c.policy, "bind", None)
        if bind is not None:
            bind(env)
        if redecide:
            c.policy.reset(policy_seed(c.seed, self.start_bar))
        recorder = EpisodeRecorder(env, info)
        done = False
        for i, record in enumerate(c.journal):
            action = decode_action(record)
            if redecide and c.error is None:
                again = c.policy.act(observation, info)
                if not same_action(again, action):
                    self._event({"kind": "diverged", "policy": c.name, "step": i, "bar": int(info["bar"]),
                                 "detail": f"{c.name} decided differently on replay; the journaled decision is kept"})
            observation, reward, terminated, truncated, info = env.step(action)
            recorder.record(action, reward, info)
            done = terminated
        c.env, c.observation, c.info, c.recorder, c.done = env, observation, info, recorder, done or c.error is not None
        if bind is not None:
            bind(env)
        last_real = self.store.n_bars - 1
        k = self.config.bars_per_decision
        while not c.done:
            if c.pending is None:
                try:
                    c.pending = c.policy.act(c.observation, c.info)
                except Exception as err:  # one failing contestant must not stop the others
                    self._fail(c, err)
                    break
            if int(c.info["bar"]) + k > last_real:
                break
            action, c.pending = c.pending, None
            try:
                record = encode_action(action)
            except TypeError as err:
                self._fail(c, err)
                break
            c.observation, reward, terminated, truncated, c.info = c.env.step(action)
            c.recorder.record(action, reward, c.info)
            c.journal.append(record)
            c.done = bool(terminated)

    def _fail(self, c: Contestant, err: BaseException) -> None:
        c.error = f"{type(err).__name__}: {err}"
        c.done = True
        self._event({"kind": "policy_error", "policy": c.name, "bar": None if c.info is None else int(c.info["bar"]),
                     "detail": c.error})
        if self.log is not None:
            self.log(f"[policy_error] {c.name}: {c.error}")

    # ------------------------------------------------------------------ outputs
    def _write_outputs(self) -> None:
        records = []
        for c in self.contestants:
            if c.recorder is None or not c.journal:
                continue
            key = EpisodeKey(c.name, 0, self.start_bar, c.seed)
            metrics, steps, trades = c.recorder.finish(c.info)
            stem = episode_stem(self.out_dir, key)
            stem.parent.mkdir(parents=True, exist_ok=True)
            _write_parquet(steps, stem.with_name(stem.name + ".steps.parquet"))
            _write_parquet(trades, stem.with_name(stem.name + ".trades.parquet"))
            records.append({"policy": c.name, "window": 0, "start": self.start_bar, "seed": c.seed,
                            "status": "ok" if c.error is None else "error", "error": c.error, "seconds": 0.0,
                            "metrics": metrics})
        text = "".join(json.dumps(r, default=float) + "\n" for r in records)
        write_atomically(self.out_dir / LOG_NAME, text.encode())
        self._write_config()

    def status_line(self) -> str:
        """Bar time, equity per contestant and when the next decision is due."""
        s, f = self.store, self.feed
        last = int(s.times[-1])
        parts = [f"bar {pd.Timestamp(last, unit='ms', tz='UTC'):%Y-%m-%d %H:%M}Z"]
        for c in self.contestants:
            if c.info is None:
                parts.append(f"{c.name} -")
                continue
            flag = " (error)" if c.error else " (closed)" if c.done else ""
            parts.append(f"{c.name} {float(c.info['equity']):,.2f}{flag}")
        due = last + f.bar_ms * (1 + self.config.bars_per_decision) + f.grace_ms
        parts.append(f"next decision {pd.Timestamp(due, unit='ms', tz='UTC'):%H:%M:%S}Z")
        parts.append(f"{s.n_bars - s.n_history} live bars, {self.events} events")
        return " | ".join(parts)

    # ------------------------------------------------------------------ the loop
    def start(self) -> None:
        """Load the session folder or fetch the history; rebuild every contestant."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._check_plan()
        bars_path, state_path = self.out_dir / BARS_NAME, self.out_dir / STATE_NAME
        if bars_path.is_file():
            self.store = BarStore.load(bars_path)
            if list(self.store.coins) != list(self.feed.coins):
                raise ValueError(f"{bars_path} holds bars of {list(self.store.coins)}, not {list(self.feed.coins)}")
        else:
            self.store = BarStore.from_history(self.feed.coins, self.feed.history(self.history_bars))
            self.store.save(bars_path)
        if state_path.is_file():
            state = json.loads(state_path.read_text(encoding="utf-8"))
            for c in self.contestants:
                saved = state["contestants"].get(c.name)
                if saved is not None:
                    c.seed, c.journal, c.error = int(saved["seed"]), list(saved["journal"]), saved.get("error")
        market = self.market()
        for c in self.contestants:
            self._sync(c, market, redecide=True)
        self._save_state()
        self._write_outputs()

    def step_bars(self, bars: Bars) -> None:
        """Take new final bars one at a time: store, step every contestant, persist, report."""
        for i in range(len(bars)):
            self.store.append(Bars(bars.times[i:i + 1], bars.ohlcv[i:i + 1], bars.funding[i:i + 1],
                                   bars.filled[i:i + 1]))
            self.store.save(self.out_dir / BARS_NAME)
            market = self.market()
            for c in self.contestants:
                self._sync(c, market, redecide=False)
            self._save_state()
            self._write_outputs()
            if self.status is not None:
                self.status(self.status_line())

    def run(self, max_bars: int | None = None, max_wait_s: float | None = None) -> dict[str, Any]:
        """Run until ``max_bars`` live bars are in (counting those of earlier runs of this folder),
        every contestant is done, or no bar arrives within ``max_wait_s``. Returns a summary:
        ``live_bars``, ``equity`` per contestant, ``events``."""
        if self.store is None:
            self.start()
        t0 = time.perf_counter()
        while True:
            live = self.store.n_bars - self.store.n_history
            if (max_bars is not None and live >= max_bars) or all(c.done for c in self.contestants):
                break
            prev_close = self.store.ohlcv[-1, :, 3]
            bars = self.feed.next_bars(int(self.store.times[-1]), prev_close, max_wait_s=max_wait_s)
            if not len(bars):
                break
            if max_bars is not None:
                bars = Bars(bars.times[:max_bars - live], bars.ohlcv[:max_bars - live], bars.funding[:max_bars - live],
                            bars.filled[:max_bars - live])
            self.step_bars(bars)
        return {"live_bars": self.store.n_bars - self.store.n_history, "events": self.events,
                "equity": {c.name: None if c.info is None else float(c.info["equity"]) for c in self.contestants},
                "seconds": time.perf_counter() - t0}
