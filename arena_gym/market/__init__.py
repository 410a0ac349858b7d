"""Market data: contract specs, exchange presets, aligned bars, indicators, synthetic markets."""

from .data import MarketData, MarketDataError, utc_timestamp
from .indicators import Indicators
from .spec import AssetSpec, ExchangeRules, asset_specs, available_rules, load_rules
from .synthetic import DEFAULT_PROFILES, AssetProfile, SyntheticParams, synthetic_market
from .timeframes import timeframe_seconds

__all__ = ["AssetProfile", "AssetSpec", "DEFAULT_PROFILES", "ExchangeRules", "Indicators", "MarketData", "MarketDataError",
           "SyntheticParams", "asset_specs", "available_rules", "load_rules", "synthetic_market", "timeframe_seconds",
           "utc_timestamp"]
