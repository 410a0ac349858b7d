"""The batch perpetual-futures exchange core (no Gymnasium, no pandas in the hot path).

Reads the venue (:mod:`arena_gym.venue`: the rule schema, the per-asset contract specs and the
TOML rule presets) and takes any market with the arrays of
:class:`~arena_gym.exchange.params.MarketArrays`; it imports nothing of :mod:`arena_gym.market`.
The env, the replay and the data loaders read it.
"""

from .engine import Exchange, StepReport
from .ledger import KINDS, Ledger
from .orders import FLAG_NAMES, OrderFlag, Orders, count_flags
from .slippage import SLIPPAGE_PRESETS, SlippageModel, slippage_model
from .state import CROSS, ISOLATED, AccountState
from .trades import TRADE_COLUMNS, trades_from_ledger

__all__ = ["AccountState", "CROSS", "Exchange", "FLAG_NAMES", "ISOLATED", "KINDS", "Ledger", "OrderFlag", "Orders",
           "SLIPPAGE_PRESETS", "SlippageModel", "StepReport", "TRADE_COLUMNS", "count_flags", "slippage_model",
           "trades_from_ledger"]
