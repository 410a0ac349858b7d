"""Market data: aligned bars, indicators, synthetic markets.

Reads the venue (:mod:`arena_gym.venue`: contract specs and rule presets) and nothing else of
arena-gym but its small helpers; the exchange, the data loaders, the contest protocol and the
env read it. This package re-exports ``AssetSpec``, ``ExchangeRules``, ``asset_specs``,
``available_rules`` and ``load_rules`` from the venue for convenience.
"""

from ..venue import AssetSpec, ExchangeRules, asset_specs, available_rules, load_rules
from .data import MarketData, MarketDataError, utc_timestamp
from .indicators import Indicators
from .synthetic import DEFAULT_PROFILES, AssetProfile, SyntheticParams, synthetic_market
from .timeframes import timeframe_seconds

__all__ = ["AssetProfile", "AssetSpec", "DEFAULT_PROFILES", "ExchangeRules", "Indicators", "MarketData", "MarketDataError",
           "SyntheticParams", "asset_specs", "available_rules", "load_rules", "synthetic_market", "timeframe_seconds",
           "utc_timestamp"]
