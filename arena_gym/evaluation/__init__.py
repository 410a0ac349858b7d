"""Evaluation: how policies are scored, whatever built them.

The runner (:mod:`~arena_gym.evaluation.runner`: paired episodes, resumable logs), the windows
and time splits they play on (:mod:`~arena_gym.evaluation.windows`,
:mod:`~arena_gym.evaluation.splits`, :mod:`~arena_gym.evaluation.days`), per-episode metrics and
their aggregation with bootstrap intervals (:mod:`~arena_gym.evaluation.metrics`), the
Bradley-Terry leaderboard (:mod:`~arena_gym.evaluation.ranking`), the null of random trades and
the significance tables (:mod:`~arena_gym.evaluation.null`, :mod:`~arena_gym.evaluation.significance`,
:mod:`~arena_gym.evaluation.sharpe`, :mod:`~arena_gym.evaluation.comparison`,
:mod:`~arena_gym.evaluation.exposure`) and the written reports
(:mod:`~arena_gym.evaluation.evaluation_report`).

Arrows: reads the env, the market and the agents (the policy protocol, recorded policies);
training, the LLM fine-tuning and the campaigns read it.
"""

from .metrics import (
    EXIT_REASONS,
    LLM_KEYS,
    TOTALS_KEYS,
    TRADE_COLUMNS,
    aggregate,
    calibration_table,
    drawdown,
    episode_metrics,
    exposure_from_positions,
    max_drawdown,
    simple_returns,
    spearman,
    steps_per_year,
)
from .ranking import fit_bradley_terry, leaderboard, pairwise_outcomes, win_probability
from .significance import Significance, significance_table

__all__ = [
    "EXIT_REASONS", "LLM_KEYS", "TOTALS_KEYS", "TRADE_COLUMNS", "aggregate", "calibration_table", "drawdown",
    "episode_metrics", "exposure_from_positions", "fit_bradley_terry", "leaderboard", "max_drawdown",
    "pairwise_outcomes", "simple_returns", "Significance", "significance_table", "spearman", "steps_per_year",
    "win_probability",
]
