"""Download candles, funding, mark prices and open interest through ccxt into the local cache.

How a download proceeds, per coin and kind:

1. The asked range ``[since, until)`` is cut to what can exist: candles that have closed
   (a bar opening at ``t`` is kept when ``t + bar <= now``), funding settled by now, and for
   open interest the exchange's history window. ``until`` is exclusive; naive times are UTC.
2. The parts of that range the cache does not cover yet are fetched page by page, oldest
   first. Each request asks for a window no longer than one page can hold (``page x bar``;
   ``page`` hours for funding, one hour being the shortest settlement interval in use), so no
   exchange has to truncate a response; the next request starts right after the last row
   received, or after the window when it was empty. ccxt's rate limiter spaces the requests;
   rate-limit and network errors are retried with exponential backoff (:class:`Backoff`).
3. Pages are validated as they arrive and written to the cache with the range they cover
   every ``flush_rows`` rows and when the download ends or is interrupted, so a rerun resumes
   where it stopped, without duplicates or holes.

Hyperliquid serves only its latest 5,000 candles per timeframe and 500 funding rows per
request; a range older than that is reported (see :attr:`DownloadReport.notices`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .cache import Cache, SeriesKey, add_interval, read_or_empty, uncovered
from .symbols import (HOUR_MS, KINDS, DataError, Venue, check_timeframe, iso, parse_coins, require_ccxt,
                      to_millis, venue)
from .validate import BAR_KINDS, SeriesStats, empty_series, merge_series, series_from_rows, validate_series

DAY_MS = 24 * HOUR_MS


@dataclass
class Backoff:
    """Retry policy for exchange calls.

    Rate-limit and network errors (ccxt's ``NetworkError`` family: ``RateLimitExceeded``,
    ``DDoSProtection``, ``RequestTimeout``, ``ExchangeNotAvailable``) are retried up to
    ``attempts`` calls in all, waiting ``base_delay * 2**k`` seconds (at most ``max_delay``)
    before retry ``k + 1``. Other ccxt errors fail at once. ``sleep`` is injectable for tests;
    ``waits`` records every wait in seconds; ``on_retry`` (if set) is told of every retry before
    its wait, as one line (what failed, why, which retry, and the wait in seconds).
    """

    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    waits: list[float] = field(default_factory=list)
    on_retry: Callable[[str], None] | None = None

    def call(self, what: str, fn: Callable, *args, **kwargs):
        ccxt = require_ccxt()
        for attempt in range(self.attempts):
            try:
                return fn(*args, **kwargs)
            except ccxt.NetworkError as err:
                if attempt == self.attempts - 1:
                    raise DataError(f"{what}: gave up after {self.attempts} attempts; "
                                    f"last error {type(err).__name__}: {err}") from err
                delay = min(self.max_delay, self.base_delay * 2 ** attempt)
                self.waits.append(delay)
                if self.on_retry is not None:
                    reason = (str(err).strip().splitlines() or [""])[0][:160]
                    self.on_retry(f"{what}: {type(err).__name__} ({reason}); retry {attempt + 1} of "
                                  f"{self.attempts - 1} in {delay:g} s")
                self.sleep(delay)
            except ccxt.BaseError as err:
                raise DataError(f"{what}: the exchange refused the request: {type(err).__name__}: {err}") from err


@dataclass(frozen=True)
class SeriesResult:
    """Outcome of downloading one series: its file, rows now cached, rows added, requests made."""

    key: SeriesKey
    path: Path
    stats: SeriesStats
    added: int
    requests: int
    duplicates: int = 0

    def summary(self) -> str:
        span = f"{iso(self.stats.first)} .. {iso(self.stats.last)}" if self.stats.rows else "no rows"
        gaps = f", {self.stats.missing_bars} gaps" if self.stats.missing_bars else ""
        repeats = f", {self.duplicates} repeated rows dropped" if self.duplicates else ""
        return (f"{self.key.describe()}: {self.stats.rows} rows ({span}), +{self.added} new, "
                f"{self.requests} requests{gaps}{repeats}")


@dataclass
class DownloadReport:
    """Every series downloaded, the notices shown to the user, and the backoff waits."""

    results: list[SeriesResult] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)


def make_client(exchange: str):
    """A ccxt client for ``exchange`` with its rate limiter on, loading linear perpetuals only."""
    v = venue(exchange)
    return getattr(require_ccxt(), v.id)({"enableRateLimit": True, "options": copy.deepcopy(v.client_options)})


def check_kinds(v: Venue, kinds: Sequence[str] | str | None) -> tuple[str, ...]:
    """The kinds to download (default: all ``v`` offers); unknown or unoffered kinds are refused."""
    if kinds is None:
        return v.kinds
    items = [k.strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds) if k.strip()]
    bad = [k for k in items if k not in KINDS]
    if bad:
        raise DataError(f"unknown kinds {bad}; kinds: {list(KINDS)}")
    unoffered = [k for k in items if k not in v.kinds]
    if unoffered:
        raise DataError(f"{v.id} offers no history of {unoffered}; it offers {list(v.kinds)}")
    return tuple(dict.fromkeys(items))


def check_coins(client, v: Venue, coins: Sequence[str]) -> None:
    """Refuse coins without a linear perpetual on the loaded exchange, listing those it has."""
    markets = client.markets or {}
    missing = [c for c in coins if v.unified_symbol(c) not in markets]
    if missing:
        have = sorted({m["base"] for m in markets.values()
                       if m.get("swap") and m.get("linear") and m.get("settle") == v.quote})
        shown = ", ".join(have[:80]) + (" ..." if len(have) > 80 else "")
        raise DataError(f"{v.id} has no {v.quote}-settled perpetual for {missing}; it lists {len(have)}: {shown}")


def download(
    exchange: str,
    coins: str | Sequence[str],
    timeframe: str,
    since,
    until=None,
    *,
    kinds: Sequence[str] | str | None = None,
    cache_dir: str | Path | None = None,
    client=None,
    backoff: Backoff | None = None,
    progress: bool = True,
    notify: Callable[[str], None] | None = None,
    refresh: bool = False,
    flush_rows: int = 20_000,
    now: int | None = None,
) -> DownloadReport:
    """Download ``kinds`` of ``coins`` from ``exchange`` over ``[since, until)`` into the cache.

    Args:
        exchange: ccxt id (``hyperliquid``, ``binanceusdm``, ``bybit``, ``okx``).
        coins: base codes, a list or a comma-separated string.
        timeframe: ccxt timeframe of candles, mark prices and open interest (``1h``).
        since, until: range start (inclusive) and end (exclusive, default now), as ISO text,
            datetimes or epoch milliseconds; naive values are UTC.
        kinds: subset of ``ohlcv, funding, mark, open_interest``; default all the exchange offers.
        cache_dir: cache folder (default: see :func:`arena_gym.data.cache.default_cache_dir`).
        client: a ccxt exchange instance to use instead of a new one.
        backoff: retry policy (default :class:`Backoff`).
        progress: show tqdm progress bars.
        notify: called with each notice as it happens (notices are also in the report), with a line
            before the first request, and with each retry of a network error (see :class:`Backoff`).
        refresh: ignore what is cached for these series and fetch the whole range again.
        flush_rows: write to the cache at least every this many new rows.
        now: the current time in ms (default: the client's clock).
    """
    v = venue(exchange)
    coin_list = parse_coins(coins)
    kind_list = check_kinds(v, kinds)
    if flush_rows < 1:
        raise DataError(f"flush_rows must be >= 1, got {flush_rows}")
    client = client if client is not None else make_client(v.id)
    bar_ms = check_timeframe(v.id, timeframe, client)
    now = int(client.milliseconds()) if now is None else int(now)
    start = to_millis(since)
    end = now if until is None else to_millis(until)
    if start >= end:
        raise DataError(f"empty or reversed range: since {iso(start)} is not before until {iso(end)}")
    if start >= now:
        raise DataError(f"since {iso(start)} is in the future (now is {iso(now)})")
    backoff = backoff if backoff is not None else Backoff(on_retry=notify)
    report = DownloadReport(waits=backoff.waits)

    def tell(message: str) -> None:
        if message not in report.notices:
            report.notices.append(message)
            if notify is not None:
                notify(message)

    if notify is not None:
        notify(f"contacting {v.id}: loading its markets (network errors are retried {backoff.attempts - 1} times, "
               f"{sum(min(backoff.max_delay, backoff.base_delay * 2 ** k) for k in range(backoff.attempts - 1)):g} s "
               f"of waits in all)")
    backoff.call(f"{v.id}: loading markets", client.load_markets)
    check_coins(client, v, coin_list)
    cache = Cache(cache_dir)
    for coin in coin_list:
        for kind in kind_list:
            key = SeriesKey(v.id, coin, kind, None if kind == "funding" else timeframe)
            job = _SeriesDownload(client, v, key, bar_ms, cache, backoff, tell, progress, flush_rows)
            result = job.run(start, end, now, refresh)
            if result is not None:
                report.results.append(result)
    return report


def rows_in_window(raw: list[list], lo: int, hi: int) -> tuple[list[list], int]:
    """Rows of a response stamped in ``[lo, hi)``, in time order, one per timestamp (the last
    one received), and how many repeated timestamps were dropped. Rows outside the window
    (overlapping pages) are ignored."""
    inside = [list(r) for r in raw if r and r[0] is not None and lo <= r[0] < hi]
    by_time = {int(r[0]): r for r in inside}
    return [by_time[t] for t in sorted(by_time)], len(inside) - len(by_time)


@dataclass
class _SeriesDownload:
    """Fetch the uncovered parts of one series' range and keep the cache file up to date."""

    client: object
    venue: Venue
    key: SeriesKey
    bar_ms: int
    cache: Cache
    backoff: Backoff
    tell: Callable[[str], None]
    progress: bool
    flush_rows: int

    @property
    def is_bar_kind(self) -> bool:
        return self.key.kind in BAR_KINDS

    def clip(self, start: int, end: int, now: int) -> tuple[int, int] | None:
        """The part of ``[start, end)`` that can exist now, or None (with a notice) if none."""
        v, key = self.venue, self.key
        if key.kind == "open_interest" and key.timeframe not in v.open_interest_timeframes:
            self.tell(f"{v.id} keeps open-interest history only at {list(v.open_interest_timeframes)}, "
                      f"not {key.timeframe}: open interest skipped")
            return None
        if not self.is_bar_kind:
            return start, min(end, now)
        bar = self.bar_ms
        lo, hi = -(-start // bar) * bar, min(end, now // bar * bar)
        if key.kind == "open_interest" and v.open_interest_days:
            oldest = -(-(now - v.open_interest_days * DAY_MS) // bar) * bar
            if lo < oldest:
                self.tell(f"{v.id} keeps only its last {v.open_interest_days} days of open interest: "
                          f"{key.coin} open interest starts at {iso(oldest)}")
                lo = oldest
        return (lo, hi) if lo < hi else None

    def fetch_page(self, lo: int, hi: int) -> list[list]:
        """Rows ``[ms, values...]`` the exchange returns for ``[lo, hi)`` (one request)."""
        c, key = self.client, self.key
        symbol, limit, params = self.venue.unified_symbol(key.coin), self.page_size, {"until": hi - 1}
        if key.kind == "ohlcv":
            return c.fetch_ohlcv(symbol, key.timeframe, since=lo, limit=limit, params=params)
        if key.kind == "mark":
            return c.fetch_mark_ohlcv(symbol, key.timeframe, since=lo, limit=limit, params=params)
        if key.kind == "funding":
            if self.venue.funding_end_param == "after":
                params = {"after": hi}
            rows = c.fetch_funding_rate_history(symbol, since=lo, limit=limit, params=params)
            return [[r["timestamp"], r["fundingRate"]] for r in rows]
        rows = c.fetch_open_interest_history(symbol, key.timeframe, since=lo, limit=limit, params=params)
        return [[r["timestamp"], r.get("openInterestAmount")] for r in rows]

    @property
    def page_size(self) -> int:
        v = self.venue
        return {"funding": v.funding_page, "open_interest": v.open_interest_page}.get(self.key.kind, v.candle_page)

    def run(self, start: int, end: int, now: int, refresh: bool) -> SeriesResult | None:
        span = self.clip(start, end, now)
        if span is None:
            return None
        lo, hi = span
        key, bar_ms = self.key, (self.bar_ms if self.is_bar_kind else None)
        if refresh:
            frame, coverage = empty_series(key.kind), []
        else:
            cached = read_or_empty(self.cache, key, bar_ms)
            frame, coverage = cached.frame, list(cached.coverage)
        holes = uncovered(coverage, lo, hi)
        self.warn_history_limit(holes, now)
        step = self.bar_ms if self.is_bar_kind else 1
        window = self.page_size * (self.bar_ms if self.is_bar_kind else HOUR_MS)
        unit = self.bar_ms if self.is_bar_kind else HOUR_MS
        pending: list[list] = []
        added = requests = duplicates = 0
        first_seen: int | None = None
        written = [frame, coverage]  # what the file holds after the last flush

        def flush() -> None:
            if pending or written[1] != coverage:
                merged = merge_series(written[0], series_from_rows(key.kind, pending))
                self.cache.write(key, merged, coverage, bar_ms)
                written[0], written[1] = merged, list(coverage)
                pending.clear()

        from tqdm.auto import tqdm

        done_ms = 0
        bar = tqdm(total=-(-sum(b - a for a, b in holes) // unit), desc=f"{key.coin} {key.kind}",
                   unit="bar" if self.is_bar_kind else "h", disable=not self.progress or not holes, leave=False)
        try:
            for a, b in holes:
                cursor = a
                while cursor < b:
                    top = min(b, cursor + window)
                    what = f"{key.describe()} from {iso(cursor)}"
                    page, repeats = rows_in_window(self.backoff.call(what, self.fetch_page, cursor, top), cursor, top)
                    requests += 1
                    duplicates += repeats
                    validate_series(key.kind, series_from_rows(key.kind, page), f"{what}: page from the exchange", bar_ms)
                    nxt = page[-1][0] + step if page else top
                    if page and first_seen is None:
                        first_seen = page[0][0]
                    pending.extend(page)
                    added += len(page)
                    coverage = add_interval(coverage, cursor, nxt)
                    done_ms += nxt - cursor
                    bar.update(min(bar.total, -(-done_ms // unit)) - bar.n)
                    cursor = nxt
                    if len(pending) >= self.flush_rows:
                        flush()
        finally:
            flush()
            bar.close()
        if holes and holes[0][0] == lo:
            self.warn_late_start(lo, hi, first_seen)
        stats = validate_series(key.kind, written[0], key.describe(), bar_ms)
        return SeriesResult(key, self.cache.path(key), stats, added, requests, duplicates)

    def warn_history_limit(self, holes: list[tuple[int, int]], now: int) -> None:
        v, key = self.venue, self.key
        if not (v.candle_history and key.kind == "ohlcv" and holes):
            return
        oldest = now // self.bar_ms * self.bar_ms - (v.candle_history - 1) * self.bar_ms  # the forming bar counts
        if holes[0][0] < oldest:
            self.tell(f"{v.id} serves only its latest {v.candle_history} {key.timeframe} candles (from about "
                      f"{iso(oldest)}); earlier bars cannot be downloaded from it. For older history import a "
                      f"freqtrade data folder: arena-gym download --from-freqtrade DIR")

    def warn_late_start(self, lo: int, hi: int, first_seen: int | None) -> None:
        key = self.key
        if first_seen is None:
            self.tell(f"{self.venue.id} returned no {key.kind} for {key.coin} between {iso(lo)} and {iso(hi)}")
            return
        slack = self.bar_ms if self.is_bar_kind else DAY_MS
        if first_seen - lo > slack:
            self.tell(f"{self.venue.id} has no {key.kind} for {key.coin} before {iso(first_seen)} (asked from {iso(lo)})")
