"""Test helper: start an ``arena-gym`` command in its own process and kill it with SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def kill_once_logged(argv: list[str], log: Path, lines: int, timeout: float) -> int:
    """Run ``arena_gym.cli.main(argv)`` in a subprocess, SIGKILL it as soon as ``log`` holds
    ``lines`` lines, and return how many lines it held then. Fails if the command ends first or
    ``timeout`` seconds pass."""
    code = f"from arena_gym import cli; cli.main({argv!r})"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not (log.is_file() and log.read_text().count("\n") >= lines):
        assert process.poll() is None and time.monotonic() < deadline, "the evaluation ended before it was killed"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return log.read_text().count("\n")
