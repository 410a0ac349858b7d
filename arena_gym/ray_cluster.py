"""Joining a Ray cluster (the ``ray`` extra): one place for the import, the address check and
``ray.init``, shared by the distributed evaluation (:mod:`arena_gym.campaigns.distributed`) and
the PPO sweeps (:mod:`arena_gym.training.ppo_sweep`). Imports nothing of arena-gym.
"""

from __future__ import annotations

import socket


def import_ray():
    """``ray``, or a clear error naming the extra to install."""
    try:
        import ray
    except ImportError as err:
        raise ValueError("distributed runs need Ray: pip install 'arena-gym[ray]'") from err
    return ray


#: The logger of Ray's note that a new local cluster uses token authentication (its default
#: since Ray 2.59), printed at every start; quiet unless asked for.
RAY_AUTH_NOTE_LOGGER = "ray._private.authentication.authentication_token_setup"


def connect(address: str | None = None, num_cpus: int | None = None, verbose: bool = False):
    """``ray`` connected to a cluster: the one already joined, else ``address`` (an existing
    cluster), else a new local one with ``num_cpus`` (default: every core).

    Ray logs its warnings and errors; its note on token authentication (left on, as Ray sets
    it) and its info lines only with ``verbose``."""
    import logging

    ray = import_ray()
    if not ray.is_initialized():
        check_reachable(address)
        note = logging.getLogger(RAY_AUTH_NOTE_LOGGER)
        level = note.level
        if not verbose:
            note.setLevel(logging.ERROR)
        try:
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     logging_level="INFO" if verbose else "WARNING")
        except (ConnectionError, RuntimeError, ValueError) as err:  # a wrong address: say so in one line
            where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
            raise ValueError(f"cannot join {where}: {str(err).strip().splitlines()[0]}") from err
        finally:
            note.setLevel(level)
    return ray


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Raise a one-line ``ValueError`` when ``address`` (``host:port`` or ``ray://host:port``)
    accepts no connection within ``timeout`` seconds. Ray itself keeps retrying a wrong address
    for minutes; ``None``, ``"auto"`` and ``"local"`` are left to Ray."""
    if address is None or address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"Ray address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379 or ray://10.0.0.5:10001)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise ValueError(f"cannot reach the Ray cluster at {address}: {err.strerror or err}") from None
