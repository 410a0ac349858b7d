"""Report: tables agree with the episodes, the leaderboard ranks a sure winner first, the
HTML is self-contained and its PNGs are real images."""

from __future__ import annotations

import base64
import json
import re

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from markets import bars_market

from arena_gym.env import EnvConfig
from arena_gym.agents.baselines import BuyAndHold, HoldCash, RandomWeights
from arena_gym.evaluation.evaluation_report import write_report
from arena_gym.evaluation.runner import evaluate


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """An up-only market: buying and holding beats holding cash on every window."""
    n = 200
    rows = [(100.0 * 1.002 ** t, 100.0 * 1.002 ** t * 1.003, 100.0 * 1.002 ** t * 0.999, 100.0 * 1.002 ** (t + 1))
            for t in range(n)]
    market = bars_market({"BTC": rows, "ETH": [tuple(4 * v for v in r) for r in rows]})
    out = tmp_path_factory.mktemp("report")
    evaluate([BuyAndHold(), HoldCash(), RandomWeights()], market, EnvConfig(episode_length=10), [60, 90, 120, 150],
             [0, 1], out, progress=False)
    return out


def test_tables_match_the_episodes_and_the_winner_leads(run_dir):
    summary = write_report(run_dir, n_boot=200)
    results = pd.read_parquet(run_dir / "results.parquet")
    means = results.groupby("policy")["total_return"].mean()
    metrics = pd.read_csv(run_dir / "metrics.csv", index_col="policy")
    np.testing.assert_allclose(metrics.loc[means.index, "total_return"], means.to_numpy())
    assert json.loads((run_dir / "metrics.json").read_text())[0]["policy"] == "buy_and_hold"
    assert pd.read_parquet(run_dir / "metrics.parquet").shape[0] == 3
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert board["policy"].iloc[0] == "buy_and_hold"
    buy = board.set_index("policy").loc["buy_and_hold"]
    assert buy["battle_win_rate"] == 1.0 and buy["n_battles"] == 16          # 8 episodes x 2 opponents, all won
    assert (summary["metrics"].loc["buy_and_hold", "total_return"] > 0
            and summary["metrics"].loc["hold_cash", "total_return"] == 0)


def test_curves_trades_and_steps_cover_every_episode(run_dir):
    write_report(run_dir, n_boot=200)
    curves = pd.read_parquet(run_dir / "equity.parquet")
    assert curves.groupby(["policy", "window", "seed"]).ngroups == 24
    first = curves[curves["step"] == 0]
    assert (first["equity"] == 10_000.0).all() and len(first) == 24
    last = curves.groupby(["policy", "window", "seed"])["equity"].last()
    results = pd.read_parquet(run_dir / "results.parquet").set_index(["policy", "window", "seed"])
    np.testing.assert_allclose(last / 10_000.0 - 1, results.loc[last.index, "total_return"])
    trades = pd.read_parquet(run_dir / "trades.parquet")
    assert set(trades["policy"]) == {"buy_and_hold", "random"}            # holding cash never trades


def test_html_is_self_contained_with_real_images(run_dir):
    summary = write_report(run_dir, title="Up-only market", n_boot=200)
    page = summary["paths"]["html"].read_text()
    assert "<h1>Up-only market</h1>" in page
    for heading in ("Leaderboard", "Metrics", "Equity curves", "Behaviour fingerprints"):
        assert f"<h2>{heading}" in page
    assert not re.search(r'(src|href)="(?!data:)', page)                  # nothing loaded from elsewhere
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2
    for data in images:
        raw = base64.b64decode(data)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(run_dir / "equity_curves.png")
    assert pixels.shape[0] > 300 and pixels.shape[1] > 600


def test_a_folder_without_an_evaluation_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no evaluation"):
        write_report(tmp_path)


def test_printed_leaderboard_states_units_and_shows_llm_costs_only_for_llms():
    from arena_gym.evaluation.evaluation_report import format_leaderboard, leaderboard_table

    board = pd.DataFrame({"policy": ["llm:x", "random"], "rating": [50.0, -50.0], "ci_low": [-10.0, -110.0],
                          "ci_high": [110.0, 10.0], "battle_win_rate": [0.75, 0.25], "n_battles": [8, 8]})
    metrics = pd.DataFrame({"total_return": [0.0064, -0.02], "sharpe": [float("nan"), -1.5],
                            "max_drawdown": [0.0113, 0.05], "n_trades": [3.0, 40.0],
                            "n_decisions": [42.0, float("nan")], "prompt_tokens": [12_000.0, float("nan")],
                            "completion_tokens": [900.0, float("nan")], "cost_usd": [0.0123, float("nan")],
                            "invalid_output_rate": [0.05, float("nan")]}, index=["llm:x", "random"])
    table = leaderboard_table(board, metrics).set_index("policy")
    assert table.loc["llm:x", "return %"] == pytest.approx(0.64)
    assert table.loc["llm:x", "max DD %"] == pytest.approx(1.13)       # a loss, positive
    assert table.loc["llm:x", "won %"] == 75.0
    assert table.loc["llm:x", "invalid %"] == pytest.approx(5.0) and table.loc["llm:x", "cost USD"] == 0.0123
    text = format_leaderboard(board, metrics)
    llm_line, random_line = text.splitlines()[1:3]
    assert "+0.64" in llm_line and " 1.13" in llm_line and "+1.13" not in llm_line
    assert "n/a" in llm_line                                             # no Sharpe from a short sample
    assert "12,000" in llm_line and "0.0123" in llm_line and "5.0" in llm_line
    assert random_line.split()[-4:] == ["-", "-", "-", "-"]              # no LLM figures for a baseline
    no_llm = leaderboard_table(board, metrics.drop(columns=["n_decisions"]))
    assert "cost USD" not in no_llm.columns


def test_hold_cash_alone_reports_without_warnings(tmp_path):
    import warnings

    rows = [(100.0 + t % 7, 101.0 + t % 7, 99.0 + t % 7, 100.5 + t % 7) for t in range(200)]
    market = bars_market({"BTC": rows})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # e.g. "All-NaN slice encountered" for its n/a columns
        evaluate([HoldCash()], market, EnvConfig(episode_length=10), [60, 90], [0], tmp_path / "run", progress=False)
        summary = write_report(tmp_path / "run")
    assert summary["metrics"].loc["hold_cash", "n_trades"] == 0
