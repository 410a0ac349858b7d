"""The command line: the demo end to end (short), resuming it, and clear errors for bad input."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace

import pytest

from arena_gym import cli


def test_short_demo_prints_the_leaderboard_writes_the_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--timesteps", "2048", "--windows", "3", "--llm", "none", "--no-progress"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    board = printed.split("Leaderboard (Bradley-Terry")[1].split("Report:")[0]
    for name in ("ppo", "hold_cash", "buy_and_hold", "random", "ema_momentum", "funding_carry"):
        assert re.search(rf"^\s*{name}\s+-?\d", board, re.MULTILINE), name
    assert "vs random: PPO is" in printed and "vs hold_cash: PPO is" in printed
    for name in ("report.html", "equity_curves.png", "fingerprints.png", "metrics.csv", "metrics.parquet",
                 "metrics.json", "leaderboard.csv", "steps.parquet", "trades.parquet", "config.json",
                 "ppo/best_model.zip", "ppo/best_model.json"):
        assert (out / name).is_file(), name
    episodes = (out / "episodes.jsonl").read_text().count("\n")
    assert episodes == 6 * 3
    assert cli.main(argv) == 0                                   # a rerun reuses the model and the episodes
    again = capsys.readouterr().out
    assert "Reusing the trained PPO" in again
    assert (out / "episodes.jsonl").read_text().count("\n") == episodes


@pytest.mark.parametrize("argv, message", [
    (["eval", "--env", "nowhere", "--policy", "random"], "unknown env preset 'nowhere'; available in .*synthetic"),
    (["eval", "--policy", "momentum"], "unknown policy 'momentum'; baselines: hold_cash, buy_and_hold, random"),
    (["eval", "--policy", "ppo:no/such/model.zip"], "no model file no/such/model.zip"),
    (["arena", "--llm", "gpt-9"], "no model profile 'gpt-9'; available profiles: .*gpt-5"),
    (["train", "--preset", "ppo-xl"], "no policy preset 'ppo-xl'"),
    (["eval", "--policy", "random", "--set", "episode_lenght=3"], "unknown \\[env\\] keys \\['episode_lenght'\\]"),
    (["report", "no-such-run"], "holds no evaluation"),
    (["eval", "--policy", "ppo:{tmp}/broken.zip"], "cannot load .*broken.zip as a PPO model"),
    (["eval", "--policy", "random", "--seeds", "0,x"], "--seeds must be comma-separated integers, got '0,x'"),
    (["demo", "--seeds", " , "], "--seeds needs at least one integer"),
    (["episode", "--policy", "nope"], "unknown policy 'nope'; baselines: hold_cash, buy_and_hold, random"),
    (["episode", "--env", "alpha-arena-s1"], "takes contest decisions: pass --llm"),
    (["episode", "--env", "alpha-arena-s1", "--llm", "gpt-9"], "no model profile 'gpt-9'; available profiles: .*mock"),
    (["episode", "--steps", "0"], "--steps must be >= 1, got 0"),
    (["demo", "--llm", "foo"], "no model profile 'foo'; available profiles: .*mock"),   # before training
    (["demo", "--windows", "0"], "need at least one window, got 0"),
])
def test_bad_input_names_what_is_wrong_and_what_exists(argv, message, capsys, tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"not a zip archive")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] in ("eval", "arena"):
        argv = [*argv, "--out", str(tmp_path / "run"), "--no-progress"]
    assert cli.main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


def test_demo_checks_its_llm_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    t0 = time.perf_counter()
    assert cli.main(["demo", "--llm", "gpt-5", "--out", str(tmp_path / "demo"), "--no-progress"]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "demo" / "ppo").exists() and time.perf_counter() - t0 < 30   # nothing trained


def test_episode_prints_percentages_and_n_a_with_reasons(capsys):
    assert cli.main(["episode", "--policy", "hold_cash", "--steps", "10"]) == 0
    lines = dict(line.split("  ", 1) for line in capsys.readouterr().out.splitlines())
    lines = {k.strip(): v.strip() for k, v in lines.items()}
    assert lines["total_return (% per episode)"] == "0.00" and lines["max_drawdown (% below peak)"] == "0.00"
    assert lines["trade_win_rate (% of trades)"] == "n/a (no closed trades)"
    assert lines["sharpe (annualized)"].startswith("n/a (fewer than 30 returns")
    assert lines["n_trades (per episode)"] == "0" and lines["n_liquidations"] == "0"
    assert lines["seed"] == "0" and lines["decisions"] == "10" and lines["invalid_outputs"] == "0"   # counts as counts


def test_an_llm_episode_reports_each_decision_on_stderr(capsys):
    assert cli.main(["episode", "--env", "alpha-arena-s1", "--llm", "mock", "--steps", "2"]) == 0
    err = capsys.readouterr().err
    assert "llm:mock: 2 decisions, each waits for the model's answer" in err
    assert re.search(r"decision 1/2 \(.* UTC\): [0-9.]+ s, valid, equity 10,000.00", err)
    assert "decision 2/2" in err


def test_parse_seeds_reads_comma_separated_integers():
    from arena_gym.cli.evaluation_options import parse_seeds

    assert parse_seeds("0, 1,,2") == [0, 1, 2]
    assert parse_seeds("-3") == [-3]
    with pytest.raises(ValueError, match="--seeds must be comma-separated integers, got '1;2'"):
        parse_seeds("1;2")


def run_episode(argv, capsys) -> dict:
    assert cli.main(["episode", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out.replace("NaN", "null"))


def test_episode_plays_the_harness_episode_from_the_given_start(capsys):
    from arena_gym.campaigns.policy_specs import policy_from_spec
    from arena_gym.evaluation.runner import EpisodeKey, play_episode
    from arena_gym.presets import load_env_preset

    result = run_episode(["--policy", "random", "--seed", "3", "--start", "500", "--steps", "10"], capsys)
    assert list(result) == ["env", "policy", "seed", "window", "decisions", "terminated", "final_equity",
                            "invalid_outputs", "seconds", "total_return", "sharpe", "max_drawdown", "n_trades",
                            "trade_win_rate", "fees_paid", "funding_paid", "n_liquidations", "undefined"]
    assert result["sharpe"] is None and "fewer than 30 returns" in result["undefined"]["sharpe"]  # 10 steps
    market, config = load_env_preset("synthetic")                       # hourly bars, one bar per decision
    first = market.timestamps[500].astype("datetime64[m]")
    assert result["window"] == f"{first} .. {first + 10 * 60}".replace("T", " ") + " UTC"
    assert (result["decisions"], result["terminated"], result["invalid_outputs"]) == (10, False, 0)
    assert result["final_equity"] == pytest.approx(config.initial_capital * (1 + result["total_return"]))
    harness, _, _ = play_episode(policy_from_spec("random"), market, replace(config, episode_length=10),
                                 EpisodeKey("random", 0, 500, 3))   # what `arena-gym eval` logs for this episode
    assert result["total_return"] == pytest.approx(harness["total_return"])
    assert result["n_trades"] == harness["n_trades"] > 0


@pytest.mark.parametrize("llm", ["mock", "openai/mock"])               # a profile name and a litellm model string
def test_episode_plays_an_llm_on_the_contest_preset(llm, capsys):
    result = run_episode(["--env", "alpha-arena-s1", "--llm", llm, "--steps", "2"], capsys)
    assert result["policy"] == llm
    assert (result["decisions"], result["invalid_outputs"], result["n_trades"]) == (2, 0, 0)   # "{}" holds every coin
    assert result["final_equity"] == 10_000 and result["total_return"] == 0


@pytest.mark.slow
def test_the_default_demo_finishes_within_five_minutes(tmp_path, capsys):
    t0 = time.perf_counter()
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--no-progress", "--llm", "none"]) == 0
    assert time.perf_counter() - t0 < 300
    assert "Leaderboard" in capsys.readouterr().out


@pytest.mark.slow
def test_an_evaluation_killed_with_sigkill_resumes_to_the_uninterrupted_table(tmp_path):
    import pandas as pd
    from processes import kill_once_logged

    common = ["arena", "--windows", "10", "--seeds", "0,1", "--no-progress"]
    assert cli.main([*common, "--out", str(tmp_path / "whole")]) == 0
    log = tmp_path / "cut" / "episodes.jsonl"
    killed_at = kill_once_logged([*common, "--out", str(tmp_path / "cut")], log, lines=30, timeout=120)
    assert 30 <= killed_at < 100                                   # 5 baselines x 10 windows x 2 seeds
    assert cli.main([*common, "--out", str(tmp_path / "cut")]) == 0
    assert log.read_text().count("\n") == 100
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cut" / "results.parquet"),
                                  pd.read_parquet(tmp_path / "whole" / "results.parquet"))
    assert (tmp_path / "cut" / "leaderboard.csv").read_text() == (tmp_path / "whole" / "leaderboard.csv").read_text()
