"""The command line asks numba for optimisation level 1 (same speed, less compiling), unless told otherwise."""

from __future__ import annotations

import os

import pytest

from arena_gym.cli import NUMBA_OPT_LEVEL, main


def test_the_command_line_sets_numba_opt_when_the_user_has_not(monkeypatch):
    monkeypatch.delenv("NUMBA_OPT", raising=False)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert os.environ["NUMBA_OPT"] == NUMBA_OPT_LEVEL == "1"


def test_the_command_line_keeps_the_users_numba_opt(monkeypatch):
    monkeypatch.setenv("NUMBA_OPT", "3")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert os.environ["NUMBA_OPT"] == "3"
