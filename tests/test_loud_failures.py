"""Failures a user must see at once: a missing provider key, an LLM preset skipped by
``--llm auto``, a data path that does not hold what it should."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from arena_gym.cli import main
from arena_gym.cli.arena import llm_specs

pytestmark = pytest.mark.skipif(find_spec("litellm") is None, reason="needs the llm extra (litellm)")

PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "XAI_API_KEY",
                 "DEEPSEEK_API_KEY", "DASHSCOPE_API_KEY")


@pytest.fixture
def no_keys(monkeypatch):
    for name in PROVIDER_KEYS:
        monkeypatch.delenv(name, raising=False)


def test_episode_with_a_keyless_llm_exits_non_zero_naming_the_variable(no_keys, capsys):
    code = main(["episode", "--env", "alpha-arena-s1", "--llm", "gpt-5", "--steps", "2"])
    err = capsys.readouterr().err
    assert code != 0
    assert "OPENAI_API_KEY" in err and len(err.strip().splitlines()) == 1


def test_arena_with_a_named_keyless_llm_fails_before_playing(no_keys, tmp_path, capsys):
    code = main(["arena", "--baselines", "random", "--llm", "claude-sonnet-4-5", "--windows", "2", "--seeds", "0",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    assert code != 0
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "run" / "episodes.jsonl").exists()


def test_llm_auto_says_what_it_added_and_what_it_skipped(no_keys, monkeypatch):
    lines: list[str] = []
    assert llm_specs("auto", log=lines.append) == []
    text = "\n".join(lines)
    assert "added no LLM preset" in text
    assert "gpt-5 (OPENAI_API_KEY not set)" in text
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    lines.clear()
    assert llm_specs("auto", log=lines.append) == ["llm:gpt-5"]
    assert lines[0] == "--llm auto: added gpt-5"
