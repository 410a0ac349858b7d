"""``arena-gym serve-env``: serve an env preset as an OpenEnv environment (WebSocket ``/ws``).

Needs the ``train-llm`` extra (openenv-core). See :mod:`arena_gym.openenv.server` for the
protocol and the bounds.
"""

from __future__ import annotations

import argparse
import importlib.util


def register(sub: argparse._SubParsersAction) -> None:
    from ..openenv.limits import (DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_SESSIONS,
                                  DEFAULT_PORT, LOOPBACK)
    from .evaluation_options import add_env_options

    p = sub.add_parser("serve-env", help="serve the contest env as an OpenEnv environment (train-llm extra)",
                       description="Serve an env preset over OpenEnv's WebSocket protocol: each connection to /ws "
                                   "is one isolated session (reset / step / state / close). Listens on 127.0.0.1 "
                                   "unless --host says otherwise.")
    add_env_options(p, default_env="alpha-arena-s1", env_note=" in decision/text mode")
    p.add_argument("--host", default=LOOPBACK, help=f"address to listen on (default {LOOPBACK})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS,
                   help=f"sessions open at once (default {DEFAULT_MAX_SESSIONS})")
    p.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT_S,
                   help=f"seconds after which an idle session is ended (default {DEFAULT_IDLE_TIMEOUT_S:g})")
    p.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES,
                   help=f"largest message or request body accepted (default {DEFAULT_MAX_REQUEST_BYTES})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("openenv") is None:
        raise ValueError("serve-env needs openenv-core: pip install -e '.[train-llm]' in the arena-gym checkout")
    from ..openenv.server import serve
    from .evaluation_options import parse_fields

    serve(args.env, parse_fields(args.set) or None, host=args.host, port=args.port, max_sessions=args.max_sessions,
          idle_timeout_s=args.idle_timeout, max_request_bytes=args.max_request_bytes)
    return 0
