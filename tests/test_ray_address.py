"""A Ray address that accepts no connection fails at once with one line (Ray alone would keep
retrying for minutes)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray", reason="needs the ray extra: pip install 'arena-gym[ray]'")

from arena_gym.ray_cluster import check_reachable  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as sock:          # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_check_reachable_names_the_address_and_the_cause():
    port = _closed_port()
    with pytest.raises(ValueError, match=rf"cannot reach the Ray cluster at 127\.0\.0\.1:{port}: .*refused"):
        check_reachable(f"127.0.0.1:{port}")
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        check_reachable("10.0.0.5")
    check_reachable(None)
    check_reachable("auto")


def test_eval_with_an_unreachable_ray_address_exits_non_zero_in_one_line(tmp_path):
    port = _closed_port()
    arguments = ["eval", "--policy", "random", "--windows", "1", "--seeds", "0", "--no-progress",
                 "--ray-address", f"127.0.0.1:{port}", "--out", str(tmp_path / "run")]
    command = [sys.executable, "-c", f"import sys; from arena_gym import cli; sys.exit(cli.main({arguments!r}))"]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 100
