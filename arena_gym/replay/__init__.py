"""Replay recorded trades through the exchange core and compare with what was recorded.

* :func:`load_trade_log`: read and validate a closed-trade log (CSV, Parquet, Feather);
* :func:`replay_trades`: push it through :class:`~arena_gym.exchange.Exchange` in ``fills``
  mode (recorded prices) or ``bars`` mode (the simulator's fill model);
* :func:`write_report`: CSV tables, a text and HTML summary and plots of a :class:`ReplayResult`;
* :func:`load_replay_market`: the market to replay on, from a file, a folder or the cache.

The replay itself is :mod:`arena_gym.replay.log_replay`, its tables and plots
:mod:`arena_gym.replay.replay_report`. Arrows: reads the exchange, the market, the venue and
the data loaders; the recorded agents and the campaigns read it.
"""

from .market import ReplayMarket, load_replay_market
from .log_replay import FEE_SOURCES, MODES, TIMINGS, FeeTier, ReplayResult, replay_trades
from .replay_report import error_distribution, summary_text, write_report
from .tradelog import LOG_COLUMNS, TradeLogError, load_trade_log, position_ids

__all__ = ["FEE_SOURCES", "FeeTier", "LOG_COLUMNS", "MODES", "ReplayMarket", "ReplayResult", "TIMINGS",
           "TradeLogError", "error_distribution", "load_replay_market", "load_trade_log", "position_ids",
           "replay_trades", "summary_text", "write_report"]
