"""The command line: the demo end to end (short), resuming it, and clear errors for bad input."""

from __future__ import annotations

import re
import time

import pytest

from arena_gym import cli

EVALUATION_COMMANDS = ("train", "eval", "arena", "report", "demo")


@pytest.fixture(autouse=True)
def commands(monkeypatch):
    """Make sure the evaluation commands are registered in the command line."""
    monkeypatch.setattr(cli, "COMMANDS", tuple(dict.fromkeys(cli.COMMANDS + EVALUATION_COMMANDS)))


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
])
def test_bad_input_names_what_is_wrong_and_what_exists(argv, message, capsys, tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"not a zip archive")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] in ("eval", "arena"):
        argv = [*argv, "--out", str(tmp_path / "run"), "--no-progress"]
    assert cli.main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.slow
def test_the_default_demo_finishes_within_five_minutes(tmp_path, capsys):
    t0 = time.perf_counter()
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--no-progress", "--llm", "none"]) == 0
    assert time.perf_counter() - t0 < 300
    assert "Leaderboard" in capsys.readouterr().out


@pytest.mark.slow
def test_an_evaluation_killed_with_sigkill_resumes_to_the_uninterrupted_table(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    import pandas as pd

    common = ["arena", "--windows", "10", "--seeds", "0,1", "--no-progress"]
    assert cli.main([*common, "--out", str(tmp_path / "whole")]) == 0
    log = tmp_path / "cut" / "episodes.jsonl"
    code = (f"from arena_gym import cli; cli.COMMANDS = tuple(dict.fromkeys(cli.COMMANDS + {EVALUATION_COMMANDS!r})); "
            f"cli.main({[*common, '--out', str(tmp_path / 'cut')]!r})")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.read_text().count("\n") >= 30):
        assert process.poll() is None and time.monotonic() < deadline, "the evaluation ended before it was killed"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = log.read_text().count("\n")
    assert 30 <= killed_at < 100                                   # 5 baselines x 10 windows x 2 seeds
    assert cli.main([*common, "--out", str(tmp_path / "cut")]) == 0
    assert log.read_text().count("\n") == 100
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cut" / "results.parquet"),
                                  pd.read_parquet(tmp_path / "whole" / "results.parquet"))
    assert (tmp_path / "cut" / "leaderboard.csv").read_text() == (tmp_path / "whole" / "leaderboard.csv").read_text()
