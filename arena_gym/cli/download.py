"""``arena-gym download``: fill the local market-data cache from an exchange or a freqtrade folder.

Examples::

    arena-gym download --exchange hyperliquid --coins BTC,ETH,SOL,BNB,DOGE,XRP --timeframe 1h --since 2025-01-01
    arena-gym download --exchange binanceusdm --coins BTC,ETH --timeframe 1h --since 2024-01-01 --until 2025-01-01
    arena-gym download --from-freqtrade user_data/data/hyperliquid --exchange hyperliquid --timeframe 1h
    arena-gym download --list
"""

from __future__ import annotations

import argparse
import sys

from arena_gym.data.cache import ENV_VAR, Cache
from arena_gym.data.symbols import KINDS, VENUES, DataError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "download",
        help="download candles and funding through ccxt into the local cache",
        description="Download OHLCV, funding-rate, mark-price and open-interest history into the local Parquet "
                    "cache (a rerun only fetches what is missing), import a freqtrade data folder into it, or list "
                    f"it. Cache folder: --cache-dir, else ${ENV_VAR}, else ~/.cache/arena-gym. Times are ISO dates "
                    "or datetimes in UTC (naive times are taken as UTC); --until is exclusive.",
    )
    p.add_argument("--exchange", default="hyperliquid", help=f"ccxt exchange id: {', '.join(sorted(VENUES))} "
                                                             "(default hyperliquid)")
    p.add_argument("--coins", help="comma-separated base coins, e.g. BTC,ETH,SOL,BNB,DOGE,XRP")
    p.add_argument("--timeframe", default="1h", help="bar length of candles, mark prices and open interest (default 1h); with "
                        "--from-freqtrade a comma-separated list of the candle timeframes to import")
    p.add_argument("--since", help="range start, e.g. 2025-01-01 (UTC)")
    p.add_argument("--until", help="range end, exclusive (default: now)")
    p.add_argument("--kinds", help=f"comma-separated subset of {','.join(KINDS)} (default: all the exchange offers)")
    p.add_argument("--cache-dir", help=f"cache folder (default ${ENV_VAR} or ~/.cache/arena-gym)")
    p.add_argument("--refresh", action="store_true",
                   help="replace the cached series with a fresh download of the range instead of extending them")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--from-freqtrade", metavar="DIR",
                   help="import the freqtrade futures feather files in DIR instead of downloading")
    p.add_argument("--list", action="store_true", help="list what is cached and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        cache = Cache(args.cache_dir)
        print(f"cache: {cache.root}")
        print(cache.describe())
        return 0
    if args.from_freqtrade:
        from arena_gym.data.freqtrade import import_freqtrade

        results = import_freqtrade(args.from_freqtrade, args.exchange, coins=args.coins, timeframes=args.timeframe,
                                   cache_dir=args.cache_dir)
        for result in results:
            print(result.summary().replace(", 0 requests", ""))
        return 0
    if not args.coins or not args.since:
        raise DataError("--coins and --since are required to download (or use --from-freqtrade DIR, or --list)")
    from tqdm import tqdm

    from arena_gym.data.fetch import download

    def notify(message: str) -> None:
        tqdm.write(f"note: {message}", file=sys.stderr)

    try:
        report = download(args.exchange, args.coins, args.timeframe, args.since, args.until, kinds=args.kinds,
                          cache_dir=args.cache_dir, progress=not args.no_progress, notify=notify, refresh=args.refresh)
    except KeyboardInterrupt:
        print("interrupted: what was fetched is cached; run the same command again to resume", file=sys.stderr)
        return 130
    for result in report.results:
        print(result.summary())
    if report.waits:
        print(f"{len(report.waits)} retries after rate-limit or network errors "
              f"({sum(report.waits):.0f} s of backoff)", file=sys.stderr)
    return 0
