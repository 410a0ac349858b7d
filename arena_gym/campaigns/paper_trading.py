"""Paper trading: several contestants in lockstep on bars that close in real time.

A :class:`PaperSession` runs the same policies as an offline evaluation (LLM presets, PPO
checkpoints, baselines, any harness policy), each with its own account, through the same
:class:`~arena_gym.env.PerpTradingEnv` and exchange core, on the closed bars of a
:class:`~arena_gym.data.live.LiveFeed`. Fills are simulated; no order goes to an exchange.

How the env steps over a growing market
    The session keeps one :class:`~arena_gym.market.MarketData` of every bar so far and grows it
    in place (:meth:`~arena_gym.market.MarketData.append`) as each bar closes; every
    contestant's env follows it (:meth:`~arena_gym.env.PerpTradingEnv.market_extended`) and is
    stepped by one decision on the new bar with the action decided at the previous close, then
    the policy decides on the new observation. Indicators, observation features, the exchange's
    tables and the prompt are extended by the new bar's rows only, so a bar costs the same at
    bar 10,000 as at bar 10. An env needs the bars its first decision runs over, so it is built
    when the first ``bars_per_decision`` live bars are in; its first decision is the one at the
    last history bar (the prompt shows the bar's time, never the wall clock, so it is the
    decision the policy would have taken then). Every indicator and feature is causal: the
    exchange cannot look ahead.

When a decision is taken
    At the close of every bar (every ``bars_per_decision`` bars), as soon as the feed serves it
    (see :mod:`arena_gym.data.live` for late, missing and revised bars and for outages). The
    orders fill at the next bar's open, as offline.

Persistence and restarts
    ``out_dir`` holds ``bars.npz`` (the history, written once), ``live_bars.jsonl`` (one line
    per live bar: its open time, candles, funding and gap-rule flags) and ``journal.jsonl``
    (one line per decision stepped: the contestant, its step and bar, and the action; and a
    line for a contestant that failed). Both are appended, flushed and fsynced after every
    bar, bars first, so a bar costs the same to persist at any point of a run; a torn last line
    left by a kill is dropped on the next start. The account state is not stored: it is
    recomputed from these files, which makes a step idempotent per bar index: a decision is
    journaled once, at the index of the bar it was taken on, and a rerun never steps a bar
    twice. After a crash or kill, rerunning the same command rebuilds the market from the
    stored bars and every contestant's env from its journal, once (resetting each policy with
    its seed and letting it decide again on each journaled bar, so random generators and other
    policy state are where they were; a decision that comes out differently is logged as
    ``diverged`` and the journaled one is kept), then catches up: every bar that closed while
    the session was down is fetched and decided in order, as it would have been live. The
    result equals an uninterrupted run bit for bit. LLM contestants get a response cache in
    ``auto`` mode under ``out_dir/llm-cache``: a decision taken before the crash is served from
    it (no second call, no second charge), and a missed bar's prompt is the one the model
    would have seen live.

Outputs
    ``config.json``, ``episodes.jsonl`` (one line per contestant: the episode so far) and
    ``episodes/<policy>/w000-s<seed>.steps.parquet`` / ``.trades.parquet``: the files of an
    offline evaluation, so ``arena-gym report`` works on the folder while the session runs.
    They hold the whole episode, so writing them grows with its length: they are rewritten
    (atomically) after a bar when ``outputs_every_s`` seconds have passed since the last time
    (every bar of a 5-minute feed with the default 60 s) and when a run ends.
    ``events.jsonl`` logs every feed event and policy error.
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
from arena_gym.evaluation.runner import (CONFIG_NAME, LOG_NAME, EpisodeKey, EpisodeRecorder, episode_stem, make_env,
                                         market_summary, policy_seed)
from arena_gym.market.data import MarketData
from arena_gym.row_buffer import RowBuffer
from arena_gym.venue import asset_specs, load_rules

BARS_NAME = "bars.npz"
LIVE_BARS_NAME = "live_bars.jsonl"
JOURNAL_NAME = "journal.jsonl"
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
        from arena_gym.agents.response import LLMResponse

        return LLMResponse.from_record(record["record"])
    return record["value"]


def same_action(a: Any, b: Any) -> bool:
    """Whether two actions are the same decision (arrays bitwise, LLM answers by text and error)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if hasattr(a, "prompt_tokens") or hasattr(b, "prompt_tokens"):
        return getattr(a, "text", None) == getattr(b, "text", None) and getattr(a, "error", None) == getattr(b, "error", None)
    return a == b


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of ``path`` (none when it is missing), after cutting a torn last line (no
    newline, left by a kill) off the file, so appends start on a fresh line."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    whole = data[:data.rfind(b"\n") + 1]
    if len(whole) != len(data):
        with path.open("r+b") as fh:
            fh.truncate(len(whole))
    return [json.loads(line) for line in whole.decode("utf-8").splitlines()]


class AppendLog:
    """A JSON-lines file that is appended to and made durable once per bar (``flush`` fsyncs)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = None

    def write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(json.dumps(record, default=str) + "\n")

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class BarStore:
    """Every bar of the session, growing in place: ``times`` (n,) open times in ms, ``ohlcv``
    (n, A, 5), ``funding`` (n, A), ``filled`` (n, A), and how many of them were history (served
    before the session began)."""

    def __init__(self, coins: Sequence[str], bars: Bars, n_history: int) -> None:
        self.coins = tuple(coins)
        self.n_history = int(n_history)
        self._rows = {name: RowBuffer(np.asarray(getattr(bars, name)), frozen=False)
                      for name in ("times", "ohlcv", "funding", "filled")}

    @property
    def times(self) -> np.ndarray:
        return self._rows["times"].table

    @property
    def ohlcv(self) -> np.ndarray:
        return self._rows["ohlcv"].table

    @property
    def funding(self) -> np.ndarray:
        return self._rows["funding"].table

    @property
    def filled(self) -> np.ndarray:
        return self._rows["filled"].table

    @property
    def n_bars(self) -> int:
        return self._rows["times"].n

    def append(self, bars: Bars) -> None:
        if len(bars) and bars.times[0] != self.times[-1] + (self.times[-1] - self.times[-2]):
            raise ValueError(f"bar at {bars.times[0]} ms does not follow the last stored bar {self.times[-1]} ms")
        for name, buffer in self._rows.items():
            buffer.append(np.asarray(getattr(bars, name)))

    def save_history(self, path: Path) -> None:
        import io

        buf = io.BytesIO()
        n = self.n_history
        np.savez(buf, coins=np.array(self.coins), times=self.times[:n], ohlcv=self.ohlcv[:n],
                 funding=self.funding[:n], filled=self.filled[:n], n_history=np.array(n))
        write_atomically(path, buf.getvalue())

    @staticmethod
    def live_record(bars: Bars, i: int) -> dict[str, Any]:
        """Bar ``i`` of ``bars`` as a line of ``live_bars.jsonl`` (floats in full precision)."""
        return {"time": int(bars.times[i]), "ohlcv": bars.ohlcv[i].tolist(), "funding": bars.funding[i].tolist(),
                "filled": bars.filled[i].tolist()}

    @classmethod
    def load(cls, history: Path, live: Path) -> "BarStore":
        with np.load(history) as z:
            store = cls(tuple(str(c) for c in z["coins"]), Bars(z["times"], z["ohlcv"], z["funding"], z["filled"]),
                        int(z["n_history"]))
        for record in read_lines(live):
            store.append(Bars(np.array([record["time"]], np.int64), np.array([record["ohlcv"]], np.float64),
                              np.array([record["funding"]], np.float64), np.array([record["filled"]], bool)))
        return store

    def market(self, exchange_preset: str, name: str) -> MarketData:
        """The bars as a MarketData: built on the history, then grown by the live bars, as an
        uninterrupted session grew it (so its tables are the same, bit for bit)."""
        rules = load_rules(exchange_preset)
        n = self.n_history
        ohlcv = self.ohlcv[:n]
        market = MarketData(timestamps=self.times[:n].astype("datetime64[ms]"), open=ohlcv[:, :, 0],
                            high=ohlcv[:, :, 1], low=ohlcv[:, :, 2], close=ohlcv[:, :, 3], volume=ohlcv[:, :, 4],
                            funding_rate=self.funding[:n], assets=asset_specs(self.coins, rules),
                            filled=self.filled[:n], name=name, funding_interval_hours=rules.funding_interval_hours)
        if self.n_bars > n:
            self.append_to(market, Bars(self.times[n:], self.ohlcv[n:], self.funding[n:], self.filled[n:]))
        return market

    @staticmethod
    def append_to(market: MarketData, bars: Bars) -> None:
        """Grow ``market`` in place by ``bars``."""
        market.append(bars.times.astype("datetime64[ms]"), bars.ohlcv[:, :, 0], bars.ohlcv[:, :, 1],
                      bars.ohlcv[:, :, 2], bars.ohlcv[:, :, 3], bars.ohlcv[:, :, 4], bars.funding, filled=bars.filled)


# ---------------------------------------------------------------------- contestants
def policies_for(specs: Sequence[str], out_dir: str | Path):
    """The policies of ``specs`` (see :func:`~.arena_campaign.built_policies`), each LLM contestant with
    its response cache in ``auto`` mode at ``out_dir/llm-cache/<spec>.jsonl``; closed afterwards."""
    from .arena_campaign import built_policies

    return built_policies(specs, llm_cache_dir=Path(out_dir) / "llm-cache")


@dataclass
class Contestant:
    """One policy with its account: its env as of the last bar and how many decisions it stepped."""

    policy: Any
    seed: int
    journal: list[dict[str, Any]] = field(default_factory=list)   # journaled actions not replayed yet
    steps: int = 0
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
        outputs_every_s: least seconds (wall clock) between two rewrites of the evaluation files
            (they are also written when a run ends).
    """

    def __init__(self, feed: LiveFeed, policies: Sequence[Any], config: EnvConfig, out_dir: str | Path, *,
                 history_bars: int = 500, seed: int = 0, status: Callable[[str], None] | None = None,
                 log: Callable[[str], None] | None = None, outputs_every_s: float = 60.0) -> None:
        from .arena_campaign import shared_config

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
        self.outputs_every_s = float(outputs_every_s)
        self.contestants = [Contestant(p, self.seed) for p in policies]
        self.store: BarStore | None = None
        self._market: MarketData | None = None
        self._journal = AppendLog(self.out_dir / JOURNAL_NAME)
        self._live_bars = AppendLog(self.out_dir / LIVE_BARS_NAME)
        self._outputs_at = -np.inf
        #: wall seconds each rewrite of the evaluation files took, in order
        self.output_seconds: list[float] = []
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
        """Every bar so far as one market, grown in place as bars close."""
        if self._market is None:
            f = self.feed
            self._market = self.store.market(f.venue.preset, f"{f.venue.id}-{f.timeframe}-live")
        return self._market

    def _begin(self, c: Contestant) -> None:
        """Build ``c``'s env at the start bar, reset the policy with its seed and replay the
        journaled actions, letting the policy decide again on each of those bars."""
        env = make_env(self.market(), self.config, c.policy)
        observation, info = env.reset(seed=c.seed, options={"start": self.start_bar})
        bind = getattr(c.policy, "bind", None)
        if bind is not None:
            bind(env)
        c.policy.reset(policy_seed(c.seed, self.start_bar))
        recorder = EpisodeRecorder(env, info)
        done = False
        for i, record in enumerate(c.journal):
            action = decode_action(record["action"])
            if c.error is None:
                again = c.policy.act(observation, info)
                if not same_action(again, action):
                    self._event({"kind": "diverged", "policy": c.name, "step": i, "bar": int(info["bar"]),
                                 "detail": f"{c.name} decided differently on replay; the journaled decision is kept"})
            observation, reward, terminated, truncated, info = env.step(action)
            recorder.record(action, reward, info)
            done = terminated
        c.steps, c.journal = len(c.journal), []
        c.env, c.observation, c.info, c.recorder, c.done = env, observation, info, recorder, done or c.error is not None
        if bind is not None:
            bind(env)

    def _advance(self, c: Contestant) -> None:
        """Step ``c`` over every bar it has not stepped yet, deciding at each close (the env is
        built once the bars of its first decision are in)."""
        if c.done and c.env is not None:
            return
        k = self.config.bars_per_decision
        last_real = self.store.n_bars - 1
        if c.env is None:
            if last_real < self.start_bar + k:
                return
            self._begin(c)
        else:
            c.env.market_extended()
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
            self._journal.write({"policy": c.name, "step": c.steps, "bar": int(c.info["bar"]), "action": record})
            c.steps += 1
            c.done = bool(terminated)

    def _fail(self, c: Contestant, err: BaseException) -> None:
        c.error = f"{type(err).__name__}: {err}"
        c.done = True
        self._journal.write({"policy": c.name, "error": c.error})
        self._event({"kind": "policy_error", "policy": c.name, "bar": None if c.info is None else int(c.info["bar"]),
                     "detail": c.error})
        if self.log is not None:
            self.log(f"[policy_error] {c.name}: {c.error}")

    # ------------------------------------------------------------------ outputs
    def _write_outputs(self) -> None:
        t0 = time.perf_counter()
        records = []
        for c in self.contestants:
            if c.recorder is None or not c.steps:
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
        self._outputs_at = time.monotonic()
        self.output_seconds.append(time.perf_counter() - t0)

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
        """Load the session folder or fetch the history; rebuild every contestant from its journal."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._check_plan()
        bars_path = self.out_dir / BARS_NAME
        if bars_path.is_file():
            self.store = BarStore.load(bars_path, self.out_dir / LIVE_BARS_NAME)
            if list(self.store.coins) != list(self.feed.coins):
                raise ValueError(f"{bars_path} holds bars of {list(self.store.coins)}, not {list(self.feed.coins)}")
        else:
            history = self.feed.history(self.history_bars)
            self.store = BarStore(self.feed.coins, history, len(history))
            self.store.save_history(bars_path)
        by_name = {c.name: c for c in self.contestants}
        for record in read_lines(self.out_dir / JOURNAL_NAME):
            c = by_name.get(record["policy"])
            if c is None:
                continue
            if "error" in record:
                c.error = record["error"]
            else:
                c.journal.append(record)
        for c in self.contestants:
            self._advance(c)
        self._journal.flush()
        self._write_outputs()

    def step_bars(self, bars: Bars) -> None:
        """Take new final bars one at a time: store, grow the market, step every contestant by
        one bar, persist, report."""
        for i in range(len(bars)):
            one = Bars(bars.times[i:i + 1], bars.ohlcv[i:i + 1], bars.funding[i:i + 1], bars.filled[i:i + 1])
            self._live_bars.write(BarStore.live_record(bars, i))
            self._live_bars.flush()
            self.store.append(one)
            BarStore.append_to(self.market(), one)
            for c in self.contestants:
                self._advance(c)
            self._journal.flush()
            if time.monotonic() - self._outputs_at >= self.outputs_every_s:
                self._write_outputs()
            if self.status is not None:
                self.status(self.status_line())

    def run(self, max_bars: int | None = None, max_wait_s: float | None = None) -> dict[str, Any]:
        """Run until ``max_bars`` live bars are in (counting those of earlier runs of this folder),
        every contestant is done, or no bar arrives within ``max_wait_s``; the evaluation files
        are written when it ends, however it ends. Returns a summary: ``live_bars``, ``equity``
        per contestant, ``events``."""
        if self.store is None:
            self.start()
        t0 = time.perf_counter()
        try:
            while True:
                live = self.store.n_bars - self.store.n_history
                if (max_bars is not None and live >= max_bars) or all(c.done for c in self.contestants):
                    break
                prev_close = self.store.ohlcv[-1, :, 3]
                bars = self.feed.next_bars(int(self.store.times[-1]), prev_close, max_wait_s=max_wait_s)
                if not len(bars):
                    break
                if max_bars is not None:
                    bars = Bars(bars.times[:max_bars - live], bars.ohlcv[:max_bars - live],
                                bars.funding[:max_bars - live], bars.filled[:max_bars - live])
                self.step_bars(bars)
        finally:  # also on Ctrl-C: the evaluation files show every bar stepped
            self._journal.close()
            self._live_bars.close()
            self._write_outputs()
        return {"live_bars": self.store.n_bars - self.store.n_history, "events": self.events,
                "equity": {c.name: None if c.info is None else float(c.info["equity"]) for c in self.contestants},
                "seconds": time.perf_counter() - t0}
