"""Serve :class:`~arena_gym.openenv.environment.ArenaEnvironment` with OpenEnv's server.

OpenEnv's ``HTTPEnvServer`` (FastAPI) gives every WebSocket connection on ``/ws`` its own
environment instance: a session is a connection, so no session can read or step another's
episode. Messages are OpenEnv's: ``{"type": "reset", "data": {"seed": 3}}``,
``{"type": "step", "data": {"text": "<answer>"}}``, ``{"type": "state"}``,
``{"type": "close"}``; answers are ``{"type": "observation" | "state" | "error", "data": ...}``.
OpenEnv's stateless HTTP ``/reset`` and ``/step`` (a fresh env per request) cannot play a
multi-step episode, so they are not mounted (OpenEnv's ``production`` mode); HTTP serves
``/health``, ``/schema`` and ``/metadata``.

Bounds: at most ``max_sessions`` sessions at once (a further connection gets a
``CAPACITY_REACHED`` error and is closed); a session idle for ``idle_timeout_s`` is ended by
OpenEnv's reaper, which looks every ``max(idle_timeout_s / 4, 5)`` seconds (the session's next
message gets an error saying so, and its place is free); a WebSocket message above
``max_request_bytes`` closes the connection (code 1009) and an HTTP request body above it gets
413. Errors never change an episode: a malformed message or action (``VALIDATION_ERROR``,
``INVALID_JSON``), or a step the episode cannot take (``EXECUTION_ERROR``: step before reset,
after the end, in an ended session) is answered and the session goes on.
"""

from __future__ import annotations

import functools
from typing import Any

from .environment import DEFAULT_PRESET, ArenaEnvironment, episode_config
from .models import ArenaObservation, TradeAction

from .limits import DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_SESSIONS, DEFAULT_PORT, LOOPBACK


def build_app(preset: str = DEFAULT_PRESET, overrides: dict[str, Any] | None = None, *,
              max_sessions: int = DEFAULT_MAX_SESSIONS, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
              max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES):
    """The FastAPI app serving ``preset`` with ``overrides`` (see the module docstring).

    The preset is loaded and checked here, so a bad name or field fails before serving.
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from openenv.core.env_server.http_server import HTTPEnvServer
    from openenv.core.env_server.types import ConcurrencyConfig, ServerMode

    if max_sessions < 1:
        raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
    if idle_timeout_s <= 0:
        raise ValueError(f"idle_timeout_s must be > 0, got {idle_timeout_s}")
    if max_request_bytes < 1024:
        raise ValueError(f"max_request_bytes must be >= 1024, got {max_request_bytes}")
    episode_config(preset, overrides)  # fails now on an unknown preset or field
    app = FastAPI(title=f"arena-gym OpenEnv server ({preset})")

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_request_bytes):
            return JSONResponse({"detail": f"request body larger than {max_request_bytes} bytes"}, status_code=413)
        return await call_next(request)

    server = HTTPEnvServer(functools.partial(ArenaEnvironment, preset, overrides), TradeAction, ArenaObservation,
                           concurrency_config=ConcurrencyConfig(max_concurrent_envs=max_sessions,
                                                                session_timeout=idle_timeout_s))
    server.register_routes(app, mode=ServerMode.PRODUCTION)
    app.state.env_server = server
    app.state.max_request_bytes = max_request_bytes
    return app


def uvicorn_config(app, host: str = LOOPBACK, port: int = DEFAULT_PORT, log_level: str = "warning"):
    """uvicorn's config for ``app``, with the WebSocket message limit set to the app's request limit."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level=log_level, ws="websockets-sansio",
                          ws_max_size=app.state.max_request_bytes, lifespan="on")


def serve(preset: str = DEFAULT_PRESET, overrides: dict[str, Any] | None = None, *, host: str = LOOPBACK,
          port: int = DEFAULT_PORT, max_sessions: int = DEFAULT_MAX_SESSIONS,
          idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
          announce: Any = print) -> None:
    """Serve until interrupted (blocking). ``announce`` gets one line saying where, once the app
    is built (so a bad preset or bound fails before anything says it is serving)."""
    import uvicorn

    app = build_app(preset, overrides, max_sessions=max_sessions, idle_timeout_s=idle_timeout_s,
                    max_request_bytes=max_request_bytes)
    announce(f"serving {preset} on ws://{host}:{port}/ws (at most {max_sessions} sessions; idle sessions end after "
             f"{idle_timeout_s:g} s); Ctrl-C stops")
    uvicorn.Server(uvicorn_config(app, host, port, log_level="info")).run()


class ServerThread:
    """The app served by uvicorn on a background thread of this process (tests, benchmarks).

    ``with ServerThread(app) as server:`` serves on a free port of 127.0.0.1 (``server.url``)
    until the block ends.
    """

    def __init__(self, app, host: str = LOOPBACK, port: int | None = None) -> None:
        import socket

        if port is None:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self.app, self.host, self.port = app, host, port
        self.url = f"http://{host}:{port}"
        import uvicorn

        self._server = uvicorn.Server(uvicorn_config(app, host, port))
        self._thread = None

    def __enter__(self) -> ServerThread:
        import threading
        import time

        self._thread = threading.Thread(target=self._server.run, name="env-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the env server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30.0)
