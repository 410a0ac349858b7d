"""Market data: contract specs, exchange presets, aligned bars, indicators, synthetic markets."""

from .data import MarketData, MarketDataError
from .indicators import Indicators
from .spec import AssetSpec, ExchangeRules, asset_specs, available_rules, load_rules

__all__ = ["AssetSpec", "ExchangeRules", "Indicators", "MarketData", "MarketDataError", "asset_specs",
           "available_rules", "load_rules"]
