"""Evaluation: per-episode metrics, their aggregation with bootstrap intervals, and the
Bradley-Terry leaderboard over paired episodes."""

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
