"""Market data: aligned bars, indicators, synthetic markets.

The contract specs and exchange rule presets are defined in :mod:`arena_gym.exchange.rules`; this
package re-exports ``AssetSpec``, ``ExchangeRules``, ``asset_specs``, ``available_rules`` and
``load_rules`` for convenience.
"""

from ..exchange.rules import AssetSpec, ExchangeRules, asset_specs, available_rules, load_rules
from .data import MarketData, MarketDataError, utc_timestamp
from .indicators import Indicators
from .synthetic import DEFAULT_PROFILES, AssetProfile, SyntheticParams, synthetic_market
from .timeframes import timeframe_seconds

__all__ = ["AssetProfile", "AssetSpec", "DEFAULT_PROFILES", "ExchangeRules", "Indicators", "MarketData", "MarketDataError",
           "SyntheticParams", "asset_specs", "available_rules", "load_rules", "synthetic_market", "timeframe_seconds",
           "utc_timestamp"]
