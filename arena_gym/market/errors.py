"""The market layer's error: raised by the loaders, the registry and the checks of
:class:`~arena_gym.market.data.MarketData` (importable from :mod:`arena_gym.market` and
:mod:`arena_gym.market.data` as well)."""


class MarketDataError(ValueError):
    """Invalid market data; the message names the asset and the timestamp."""
