"""Real market data: download through ccxt, a local Parquet cache, and loading into MarketData.

* :func:`download` fetches candles, funding, mark prices and open interest from Hyperliquid,
  Binance USD-M, Bybit or OKX into the cache (resumable, rate-limited, validated);
* :func:`import_freqtrade` imports a freqtrade futures data folder into the same cache;
* :func:`load_cached_market` builds a multi-asset :class:`~arena_gym.market.MarketData` from it.

ccxt (the ``data`` extra) is imported only when something is downloaded.

Arrows: reads the venue and the market; presets, the replay and the campaigns read it.
"""

from .cache import ENV_VAR, Cache, SeriesKey, default_cache_dir
from .fetch import Backoff, DownloadReport, SeriesResult, download, make_client
from .freqtrade import import_freqtrade
from .load import load_cached_market
from .symbols import KINDS, VENUES, DataError, Venue, venue

__all__ = ["Backoff", "Cache", "DataError", "DownloadReport", "ENV_VAR", "KINDS", "SeriesKey", "SeriesResult",
           "VENUES", "Venue", "default_cache_dir", "download", "import_freqtrade", "load_cached_market",
           "make_client", "venue"]
