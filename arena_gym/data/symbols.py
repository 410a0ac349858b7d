"""Supported exchanges, their perpetual symbols, timeframes and time parsing.

Conventions:

* exchanges are named by their ccxt id (``hyperliquid``, ``binanceusdm``, ``bybit``, ``okx``);
  the rule-preset spelling ``binance-usdm`` is accepted as an alias of ``binanceusdm``;
* coins are base codes (``BTC``); :func:`unified_symbol` maps them to ccxt's unified linear
  perpetual symbol on each exchange (``BTC/USDC:USDC`` on Hyperliquid, ``BTC/USDT:USDT`` on
  the others);
* times are integer milliseconds since the epoch, UTC. :func:`to_millis` reads ISO strings,
  datetimes and pandas timestamps; naive values are taken as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from arena_gym.venue import available_rules
from arena_gym.market.data import utc_timestamp
from arena_gym.market.timeframes import timeframe_seconds

#: Kinds of series the downloader knows: trade candles, funding settlements, mark-price
#: candles and open-interest samples.
KINDS = ("ohlcv", "funding", "mark", "open_interest")

HOUR_MS = 3_600_000


class DataError(ValueError):
    """Bad input to the data tools, a failed download or an unusable cache file."""


@dataclass(frozen=True)
class Venue:
    """What arena-gym needs to know about one exchange's public market-data API.

    Attributes:
        id: ccxt exchange id.
        quote: quote and settlement currency of its linear perpetuals.
        kinds: series the exchange serves as history (see :data:`KINDS`).
        candle_page: candles per request (the exchange's or ccxt's cap).
        funding_page: funding rows per request.
        open_interest_page: open-interest rows per request (0 when not offered).
        candle_history: how many most recent candles per timeframe the exchange serves at
            all (0: no such limit).
        open_interest_days: how many days of open-interest history it serves (0: no limit).
        open_interest_timeframes: bar lengths its open-interest history comes in.
        funding_end_param: how ccxt passes a page's end to its funding history: ``"until"``
            (inclusive, ccxt's unified parameter) or ``"after"`` (OKX: exclusive, sent as is).
        client_options: ccxt options that keep market loading to linear perpetuals.
    """

    id: str
    quote: str
    kinds: tuple[str, ...]
    candle_page: int
    funding_page: int
    open_interest_page: int = 0
    candle_history: int = 0
    open_interest_days: int = 0
    open_interest_timeframes: tuple[str, ...] = ()
    funding_end_param: str = "until"
    client_options: dict = field(default_factory=dict)

    def unified_symbol(self, coin: str) -> str:
        return f"{coin}/{self.quote}:{self.quote}"

    @property
    def preset(self) -> str:
        """The exchange-rules preset used for contract specs of this exchange's assets.

        Hyperliquid and Binance USD-M have their own presets; another exchange uses a preset
        of its own name when one exists under ``arena_gym/venue/``, else Binance
        USD-M's (same USDT collateral and 8-hour funding).
        """
        if self.id == "binanceusdm":
            return "binance-usdm"
        return self.id if self.id in available_rules() else "binance-usdm"


VENUES: dict[str, Venue] = {
    v.id: v
    for v in (
        Venue("hyperliquid", "USDC", ("ohlcv", "funding"), candle_page=5000, funding_page=500, candle_history=5000,
              client_options={"fetchMarkets": {"types": ["swap"]}}),
        Venue("binanceusdm", "USDT", KINDS, candle_page=1000, funding_page=1000, open_interest_page=500,
              open_interest_days=30, open_interest_timeframes=("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"),
              client_options={"fetchMarkets": {"types": ["linear"]}}),
        Venue("bybit", "USDT", KINDS, candle_page=1000, funding_page=200, open_interest_page=200,
              open_interest_timeframes=("5m", "15m", "30m", "1h", "4h", "1d"),
              client_options={"fetchMarkets": {"types": ["linear"]}}),
        Venue("okx", "USDT", ("ohlcv", "funding", "mark"), candle_page=100, funding_page=100, funding_end_param="after",
              client_options={"fetchMarkets": {"types": ["swap"]}}),
    )
}

ALIASES = {"binance-usdm": "binanceusdm"}


def venue(exchange: str) -> Venue:
    """The :class:`Venue` of a ccxt exchange id (or alias); an unknown one lists what exists."""
    key = ALIASES.get(exchange, exchange)
    if key not in VENUES:
        raise DataError(f"unknown exchange {exchange!r}; supported: {sorted(VENUES)}")
    return VENUES[key]


def check_coin(coin: str) -> str:
    """A coin code, upper-cased; full symbols like ``BTC/USDT:USDT`` are refused."""
    code = coin.strip().upper()
    if not code or not code.isalnum():
        raise DataError(f"coin {coin!r} is not a base code such as 'BTC' (give coins, not market symbols)")
    return code


def parse_coins(coins: str | list[str] | tuple[str, ...]) -> list[str]:
    """Coins from a comma-separated string or a sequence, upper-cased, order kept, no repeats."""
    items = coins.split(",") if isinstance(coins, str) else list(coins)
    out = list(dict.fromkeys(check_coin(c) for c in items if c.strip()))
    if not out:
        raise DataError("no coins given; e.g. BTC,ETH,SOL")
    return out


def timeframe_millis(timeframe: str) -> int:
    """Length of a ccxt timeframe string (``1m``, ``4h``, ``1d``, ``1w``) in milliseconds."""
    try:
        return 1000 * timeframe_seconds(timeframe)
    except ValueError:
        raise DataError(f"unknown timeframe {timeframe!r}; use e.g. 1m, 5m, 15m, 1h, 4h, 1d") from None


def require_ccxt():
    """The ccxt module, or a DataError saying how to install it."""
    try:
        import ccxt
    except ModuleNotFoundError as err:
        raise DataError("downloading needs ccxt: pip install -e '.[data]' in the arena-gym checkout") from err
    return ccxt


def check_timeframe(exchange: str, timeframe: str, client=None) -> int:
    """Validate ``timeframe`` against the exchange's ccxt timeframes; returns its length in ms."""
    if client is None:
        client = getattr(require_ccxt(), venue(exchange).id)()
    supported = client.timeframes
    if timeframe not in supported:
        have = sorted(supported, key=lambda tf: timeframe_millis(tf) if tf[-1] in "smhdw" else 10**15)
        raise DataError(f"{venue(exchange).id} has no timeframe {timeframe!r}; it offers {have}")
    return timeframe_millis(timeframe)


def to_millis(when: str | int | datetime | pd.Timestamp) -> int:
    """Milliseconds since the epoch (UTC) of ``when``; naive values are taken as UTC."""
    if isinstance(when, bool):
        raise DataError(f"not a time: {when!r}")
    if isinstance(when, int):
        return when
    try:
        ts = pd.Timestamp(when)
    except (ValueError, TypeError) as err:
        raise DataError(f"cannot read {when!r} as a time; use e.g. 2025-01-01 or 2025-01-01T12:00Z") from err
    if ts is pd.NaT:
        raise DataError(f"cannot read {when!r} as a time")
    return int(utc_timestamp(ts).value // 1_000_000)


def iso(ms: int) -> str:
    """ISO-8601 UTC text of a millisecond timestamp (for messages)."""
    return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat().replace("+00:00", "Z")
