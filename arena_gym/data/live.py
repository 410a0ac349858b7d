"""A live market source: closed bars and their funding, polled from an exchange through ccxt.

:class:`LiveFeed` serves whole bars of every coin at once, in time order, only once they are
final. No order is ever sent: the feed reads public market data only.

When a bar counts as closed
    Bars are stamped by their **open** time ``t`` (ms, UTC) and close at ``t + bar``. The feed
    asks for a bar once the clock reads ``t + bar + grace`` (``grace_s``, default 5 s, leaves
    the exchange time to publish it), and ignores the bar still forming. The clock is the
    local one (:class:`SystemClock`, which ccxt's exchanges also use); tests inject a fake one.
    A bar is final when every coin's candle for it has arrived, together with every funding
    settlement the exchange's schedule puts inside it (hourly on Hyperliquid, 8-hourly on
    Binance USD-M; a settlement stamped inside a bar belongs to it, summed when several).

A late bar
    If a coin's candle (or an expected settlement) is not there yet, the feed logs ``late`` and
    polls again every ``poll_s`` seconds, up to ``late_limit_s`` after the bar's close.

A missing bar
    Past that limit, a missing candle gets the offline gap rule of
    :class:`~arena_gym.market.MarketData`: a flat bar at the previous close, zero volume, no
    funding, flagged ``filled``; a missing settlement counts as zero funding. Both are logged
    (``missing``, ``funding_missing``). Nothing else is ever invented.

A revised bar
    Every poll re-reads the last ``recheck_bars`` final bars. When the exchange now reports
    other values for one (or a candle for a bar the gap rule filled), the feed logs
    ``revised`` with the old and new values and keeps the values already served: decisions
    taken on a bar are never rewritten.

An outage
    Each request is retried with :class:`~arena_gym.data.fetch.Backoff` (ccxt's rate limiter
    spaces requests; rate-limit and network errors back off exponentially). When the backoff
    gives up, the feed logs ``outage`` and keeps trying, waiting ``outage_retry_s`` doubled per
    failure up to ``outage_max_s``, and logs ``retry`` before every wait with the time of the
    next try; while the exchange is unreachable no bar is filled by the gap rule (an outage of
    the connection is not a gap in the market). On recovery it logs ``recovered`` and serves
    every bar that closed meanwhile, in order (catch-up). A feed that has not reached the
    exchange once since it was made gives up instead after ``connect_timeout_s`` (plus the
    request in flight) and raises :class:`VenueUnreachable`: that is a missing network or a
    wrong address, not an outage to wait out. An error that cannot heal (the exchange refusing
    the request, an unknown coin) raises :class:`~arena_gym.data.symbols.DataError` at once.

Every event goes to the ``log`` callback as a :class:`FeedEvent` (the paper session appends
them to ``events.jsonl``). All waiting goes through the injected clock's ``sleep``, and every
blocking call takes a bound (``max_wait_s``), so a test drives the feed without real time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np

from .fetch import Backoff, check_coins, make_client
from .symbols import DataError, check_timeframe, iso, parse_coins, require_ccxt, venue

#: Candle fields served per coin, in this order.
CANDLE_FIELDS = ("open", "high", "low", "close", "volume")


class VenueUnreachable(DataError):
    """The exchange never answered within the feed's ``connect_timeout_s``."""


class Clock(Protocol):
    """Milliseconds since the epoch (UTC), and a way to wait."""

    def now(self) -> int: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clock and :func:`time.sleep`."""

    def now(self) -> int:
        return int(time.time() * 1000)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@dataclass(frozen=True)
class FeedEvent:
    """Something about the data worth knowing: ``kind`` (``late``, ``missing``,
    ``funding_missing``, ``revised``, ``outage``, ``retry``, ``recovered``), when it was seen (``at``, ms),
    the bar it concerns (open time, ms; None for outages), the coin, and a sentence."""

    kind: str
    at: int
    bar: int | None
    coin: str | None
    detail: str

    def to_record(self) -> dict:
        out = asdict(self)
        out["at_iso"] = iso(self.at)
        out["bar_iso"] = None if self.bar is None else iso(self.bar)
        return out


@dataclass(frozen=True)
class Bars:
    """Consecutive final bars of every coin: ``times`` (n,) open times in ms; ``ohlcv`` (n, A, 5)
    in :data:`CANDLE_FIELDS` order (volume in coins); ``funding`` (n, A) the rates settled in each
    bar (fraction of notional, positive: longs pay); ``filled`` (n, A) True where the gap rule
    made the bar."""

    times: np.ndarray
    ohlcv: np.ndarray
    funding: np.ndarray
    filled: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def empty(cls, n_assets: int) -> "Bars":
        return cls(np.zeros(0, np.int64), np.zeros((0, n_assets, 5)), np.zeros((0, n_assets)), np.zeros((0, n_assets), bool))


@dataclass
class _Pending:
    """What the feed has been told about one coin so far: candles and settlements by bar."""

    candles: dict[int, tuple[float, ...]] = field(default_factory=dict)
    funding: dict[int, list[float]] = field(default_factory=dict)


class LiveFeed:
    """Final bars of ``coins`` on ``exchange`` at ``timeframe`` (see the module docstring).

    Args:
        exchange: ccxt id (``hyperliquid``, ``binanceusdm``, ``bybit``, ``okx``).
        coins: base codes, the order of the served arrays.
        timeframe: bar length, e.g. ``5m``.
        client: a ccxt exchange instance (default: a new one, rate limiter on).
        clock: time source and sleeper (default :class:`SystemClock`).
        backoff: per-request retry policy (default: :class:`Backoff` sleeping on ``clock``).
        grace_s: seconds after a bar's close before it is asked for.
        late_limit_s: seconds after a bar's close after which a missing candle is gap-filled
            (default: one bar, at least 60 s).
        poll_s: seconds between polls while a bar is late (default: a tenth of the late limit,
            at least 1 s).
        recheck_bars: final bars re-read on every poll to notice revisions.
        outage_retry_s, outage_max_s: first and longest wait between tries during an outage.
        connect_timeout_s: seconds after the first request after which a feed that never
            reached the exchange gives up (:class:`VenueUnreachable`).
        funding_interval_hours: hours between settlements (default: the exchange preset's).
        log: receives every :class:`FeedEvent`.
    """

    def __init__(self, exchange: str, coins: str | Sequence[str], timeframe: str, *, client=None,
                 clock: Clock | None = None, backoff: Backoff | None = None, grace_s: float = 5.0,
                 late_limit_s: float | None = None, poll_s: float | None = None, recheck_bars: int = 3,
                 outage_retry_s: float = 5.0, outage_max_s: float = 300.0, connect_timeout_s: float = 120.0,
                 funding_interval_hours: int | None = None, log: Callable[[FeedEvent], None] | None = None) -> None:
        self.venue = venue(exchange)
        self.coins = parse_coins(coins)
        self.clock = clock if clock is not None else SystemClock()
        self.client = client if client is not None else make_client(self.venue.id)
        self.bar_ms = check_timeframe(self.venue.id, timeframe, self.client)
        self.timeframe = timeframe
        self.backoff = backoff if backoff is not None else Backoff(sleep=self.clock.sleep)
        if grace_s < 0 or recheck_bars < 0:
            raise DataError(f"grace_s and recheck_bars must be >= 0, got {grace_s} and {recheck_bars}")
        self.grace_ms = int(grace_s * 1000)
        self.late_limit_ms = int(1000 * (late_limit_s if late_limit_s is not None else max(60.0, self.bar_ms / 1000)))
        if self.late_limit_ms < self.grace_ms:
            raise DataError(f"late_limit_s ({self.late_limit_ms / 1000:g}) must be >= grace_s ({grace_s:g})")
        self.poll_s = poll_s if poll_s is not None else max(1.0, self.late_limit_ms / 10_000)
        self.recheck_bars = int(recheck_bars)
        self.outage_retry_s = float(outage_retry_s)
        self.outage_max_s = float(outage_max_s)
        if not connect_timeout_s > 0:
            raise DataError(f"connect_timeout_s must be > 0, got {connect_timeout_s}")
        self.connect_timeout_s = float(connect_timeout_s)
        if funding_interval_hours is None:
            from arena_gym.venue import load_rules

            funding_interval_hours = load_rules(self.venue.preset).funding_interval_hours
        self.funding_ms = int(funding_interval_hours) * 3_600_000
        self.log = log
        self._markets_loaded = False
        self._told: set[tuple] = set()
        self._served: dict[int, Bars] = {}  # the last recheck_bars final bars, by open time, one row each
        self._outage_since: int | None = None
        self._outage_failures = 0
        self._first_request: int | None = None   # clock time of the first request (ms)
        self._reached = False                    # whether the exchange ever answered

    # ------------------------------------------------------------------ public
    def last_closed_bar(self, now: int | None = None) -> int:
        """Open time (ms) of the latest bar that may be asked for at ``now`` (close + grace passed)."""
        now = self.clock.now() if now is None else now
        return (now - self.grace_ms) // self.bar_ms * self.bar_ms - self.bar_ms

    def history(self, n_bars: int) -> Bars:
        """The latest ``n_bars`` closed bars (for indicators and the lookback), gaps filled by the
        gap rule; at least one coin must have the first bar (else its listing is too recent)."""
        if n_bars < 2:
            raise DataError(f"need at least 2 bars of history, got {n_bars}")
        last = self.last_closed_bar()
        first = last - (n_bars - 1) * self.bar_ms
        bars = self._wait_for(first, last, max_wait_s=None, history=True)
        if bars is None or len(bars) < n_bars:
            raise DataError(f"{self.venue.id} served no complete history from {iso(first)} to {iso(last)}")
        return bars

    def next_bars(self, after: int, prev_close: np.ndarray, max_wait_s: float | None = None) -> Bars:
        """Every final bar opening after ``after`` (ms) up to the latest one closed, waiting for the
        first of them; empty when ``max_wait_s`` seconds pass first. ``prev_close`` (A,) is the
        close of bar ``after`` (the gap rule's price)."""
        first = after + self.bar_ms
        deadline = None if max_wait_s is None else self.clock.now() + int(max_wait_s * 1000)
        while True:
            now = self.clock.now()
            due = first + self.bar_ms + self.grace_ms
            if now < due:
                if deadline is not None and now >= deadline:
                    return Bars.empty(len(self.coins))
                self.clock.sleep((min(due, deadline) - now) / 1000 if deadline is not None else (due - now) / 1000)
                continue
            left = None if deadline is None else max(0.0, (deadline - now) / 1000)
            bars = self._wait_for(first, self.last_closed_bar(now), max_wait_s=left, prev_close=prev_close)
            return bars if bars is not None else Bars.empty(len(self.coins))

    # ------------------------------------------------------------------ fetching
    def _wait_for(self, first: int, last: int, *, max_wait_s: float | None, prev_close: np.ndarray | None = None,
                  history: bool = False) -> Bars | None:
        """Poll until bars ``first..last`` are final (or given up by the late limit); None when
        ``max_wait_s`` passes first (during an outage or while the first bar is late)."""
        start = self.clock.now()
        pending = {c: _Pending() for c in self.coins}
        recheck_from = min(self._served, default=first) if self._served else first
        while True:
            now = self.clock.now()
            last = max(last, self.last_closed_bar(now)) if not history else last
            got = self._poll(pending, min(recheck_from, first), last)
            if got:
                self._check_revisions(pending)
                bars = self._assemble(pending, first, last, now, prev_close, history)
                if bars is not None:
                    self._remember(bars)
                    return bars
            now = self.clock.now()
            if max_wait_s is not None and now - start >= max_wait_s * 1000:
                return None
            wait = self._next_wait()
            if self._outage_since is not None:
                wait = self._outage_wait(now, wait)
            self.clock.sleep(wait)

    def _outage_wait(self, now: int, wait: float) -> float:
        """During an outage: give up when the exchange was never reached and the connect timeout
        has passed; else log ``retry`` with the next try's time and return the wait (s)."""
        down_s = (now - self._outage_since) / 1000
        if not self._reached:
            left = self.connect_timeout_s - (now - self._first_request) / 1000
            if left <= 0:
                raise VenueUnreachable(
                    f"{self.venue.id} did not answer in {self.connect_timeout_s:g} s ({self._outage_failures} "
                    f"failed tries); check the network connection, then rerun the same command")
            wait = min(wait, left)
        self._tell(FeedEvent("retry", now, None, None,
                             f"{self.venue.id} still unreachable after {down_s:.0f} s ({self._outage_failures} failed "
                             f"tries); next try at {iso((now + int(wait * 1000)) // 1000 * 1000)} (in {wait:.0f} s)"))
        return wait

    def _next_wait(self) -> float:
        if self._outage_since is None:
            return self.poll_s
        return min(self.outage_max_s, self.outage_retry_s * 2 ** max(0, self._outage_failures - 1))

    def _poll(self, pending: dict[str, _Pending], first: int, last: int) -> bool:
        """One round of requests for ``[first, last]``; False during an outage."""
        ccxt = require_ccxt()
        if self._first_request is None:
            self._first_request = self.clock.now()
        try:
            if not self._markets_loaded:
                self.backoff.call(f"{self.venue.id}: loading markets", self.client.load_markets)
                check_coins(self.client, self.venue, self.coins)
                self._markets_loaded = True
            for coin in self.coins:
                self._fetch_candles(coin, pending[coin], first, last)
                self._fetch_funding(coin, pending[coin], first, last)
        except DataError as err:
            if not isinstance(err.__cause__, ccxt.NetworkError):
                raise
            now = self.clock.now()
            if self._outage_since is None:
                self._outage_since = now
                self._outage_failures = 0
                self._tell(FeedEvent("outage", now, None, None, f"{self.venue.id} unreachable: {err}"))
            self._outage_failures += 1
            return False
        self._reached = True
        if self._outage_since is not None:
            now = self.clock.now()
            self._tell(FeedEvent("recovered", now, None, None,
                                 f"{self.venue.id} reachable again after {(now - self._outage_since) / 1000:.0f} s"))
            self._outage_since = None
        return True

    def _fetch_candles(self, coin: str, pending: _Pending, first: int, last: int) -> None:
        symbol, page = self.venue.unified_symbol(coin), self.venue.candle_page
        cursor = first
        while cursor <= last:
            top = min(last, cursor + (page - 1) * self.bar_ms)
            rows = self.backoff.call(f"{coin} {self.timeframe} candles from {iso(cursor)}", self.client.fetch_ohlcv,
                                     symbol, self.timeframe, since=cursor, limit=page,
                                     params={"until": top + self.bar_ms - 1})
            for r in rows:
                t = int(r[0])
                if cursor <= t <= top and t % self.bar_ms == 0 and all(v is not None for v in r[1:6]):
                    pending.candles[t] = tuple(float(v) for v in r[1:6])
            cursor = top + self.bar_ms

    def _fetch_funding(self, coin: str, pending: _Pending, first: int, last: int) -> None:
        symbol, limit = self.venue.unified_symbol(coin), self.venue.funding_page
        end = last + self.bar_ms
        params = {"after": end} if self.venue.funding_end_param == "after" else {"until": end - 1}
        seen: dict[int, dict[int, float]] = {}
        cursor = first
        while True:
            rows = self.backoff.call(f"{coin} funding from {iso(cursor)}", self.client.fetch_funding_rate_history,
                                     symbol, since=cursor, limit=limit, params=params)
            stamps = [int(r["timestamp"]) for r in rows if r.get("timestamp") is not None]
            for r in rows:
                stamp, rate = r.get("timestamp"), r.get("fundingRate")
                if stamp is None or rate is None or not first <= stamp < end:
                    continue
                seen.setdefault(int(stamp) // self.bar_ms * self.bar_ms, {})[int(stamp)] = float(rate)
            if len(rows) < limit or not stamps or max(stamps) + 1 >= end or max(stamps) + 1 <= cursor:
                break
            cursor = max(stamps) + 1
        for bar, by_stamp in seen.items():
            pending.funding[bar] = [by_stamp[s] for s in sorted(by_stamp)]

    # ------------------------------------------------------------------ deciding what is final
    def _settlements_in(self, bar: int) -> int:
        """How many funding settlements the schedule puts in the bar opening at ``bar``."""
        f = self.funding_ms
        return (bar + self.bar_ms - 1) // f - (bar - 1) // f

    def _assemble(self, pending: dict[str, _Pending], first: int, last: int, now: int,
                  prev_close: np.ndarray | None, history: bool) -> Bars | None:
        """The final bars ``first..`` (stopping before the first bar still late), or None when
        even ``first`` is not final yet."""
        n = (last - first) // self.bar_ms + 1
        A = len(self.coins)
        times = first + self.bar_ms * np.arange(n, dtype=np.int64)
        ohlcv = np.zeros((n, A, 5))
        funding = np.zeros((n, A))
        filled = np.zeros((n, A), bool)
        close = None if prev_close is None else np.asarray(prev_close, float).copy()
        ready = 0
        for i, t in enumerate(times.tolist()):
            overdue = history or now >= t + self.bar_ms + self.late_limit_ms
            late = [c for c in self.coins if t not in pending[c].candles]
            short = [c for c in self.coins if len(pending[c].funding.get(t, ())) < self._settlements_in(t)]
            if (late or short) and not overdue:
                for c in late:
                    self._tell(FeedEvent("late", now, t, c, f"{c} candle for {iso(t)} not served yet; waiting up "
                                                            f"to {self.late_limit_ms / 1000:g} s after its close"))
                for c in short:
                    if c not in late:
                        self._tell(FeedEvent("late", now, t, c, f"{c} funding settlement in {iso(t)} not served yet"))
                break
            for a, c in enumerate(self.coins):
                candle = pending[c].candles.get(t)
                if candle is None:
                    if close is None or not np.isfinite(close[a]):
                        if history:
                            continue  # before the first candle of a coin: trimmed below
                        raise DataError(f"{c}: no candle for {iso(t)} and no earlier close to fill it from")
                    ohlcv[i, a, :4] = close[a]
                    filled[i, a] = True
                    self._tell(FeedEvent("missing", now, t, c, f"{c} candle for {iso(t)} never served: flat bar at "
                                                               f"the previous close {close[a]:g}, zero volume, no funding"))
                    continue
                ohlcv[i, a] = candle
                rates = pending[c].funding.get(t, [])
                funding[i, a] = float(sum(rates))
                if len(rates) < self._settlements_in(t) and not history:
                    self._tell(FeedEvent("funding_missing", now, t, c, f"{c}: {self._settlements_in(t) - len(rates)} "
                                                                       f"funding settlement(s) in {iso(t)} never served; "
                                                                       f"counted as zero"))
            if history and close is None:
                close = np.full(A, np.nan)
            have = ~filled[i] & (ohlcv[i, :, 3] > 0)
            if close is not None:
                close[have] = ohlcv[i, have, 3]
            ready = i + 1
        if ready == 0:
            return None
        bars = Bars(times[:ready], ohlcv[:ready], funding[:ready], filled[:ready])
        if history:
            bars = self._trim_history(bars)
        return bars

    def _trim_history(self, bars: Bars) -> Bars:
        """Drop the leading bars before every coin has its first candle (a coin listed during the
        window); later holes were already filled by the gap rule."""
        has = bars.ohlcv[:, :, 3] > 0
        if not has.any(axis=0).all():
            missing = [c for c, ok in zip(self.coins, has.any(axis=0)) if not ok]
            raise DataError(f"{self.venue.id} served no candles of {missing} in the history window")
        start = int(np.argmax(has.all(axis=1)))
        return Bars(bars.times[start:], bars.ohlcv[start:], bars.funding[start:], bars.filled[start:])

    # ------------------------------------------------------------------ revisions
    def _remember(self, bars: Bars) -> None:
        for i, t in enumerate(bars.times.tolist()):
            self._served[t] = Bars(bars.times[i:i + 1], bars.ohlcv[i:i + 1], bars.funding[i:i + 1], bars.filled[i:i + 1])
        keep = sorted(self._served)[-self.recheck_bars:] if self.recheck_bars else []
        self._served = {t: self._served[t] for t in keep}

    def _check_revisions(self, pending: dict[str, _Pending]) -> None:
        now = self.clock.now()
        for t, old in self._served.items():
            for a, c in enumerate(self.coins):
                candle = pending[c].candles.get(t)
                if candle is None:
                    continue
                before = tuple(float(v) for v in old.ohlcv[0, a])
                if old.filled[0, a]:
                    self._tell(FeedEvent("revised", now, t, c, f"{c} candle for {iso(t)} arrived after the gap rule "
                                                               f"filled it: {candle}; the filled bar is kept"))
                elif candle != before:
                    self._tell(FeedEvent("revised", now, t, c, f"{c} candle for {iso(t)} revised from {before} to "
                                                               f"{candle}; the bar already served is kept"))

    def _tell(self, event: FeedEvent) -> None:
        key = (event.kind, event.bar, event.coin, event.detail if event.kind == "revised" else None)
        if event.kind in ("outage", "retry", "recovered") or key not in self._told:
            self._told.add(key)
            if self.log is not None:
                self.log(event)
