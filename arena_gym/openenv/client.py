"""A typed OpenEnv client for a served :class:`~arena_gym.openenv.environment.ArenaEnvironment`.

``ArenaEnvClient("http://127.0.0.1:8765")`` is OpenEnv's ``EnvClient`` (async; ``.sync()``
gives the blocking twin) speaking the server's WebSocket protocol with the typed action,
observation and state of :mod:`arena_gym.openenv.models`. An error answer raises
``RuntimeError`` with the server's message and code.
"""

from __future__ import annotations

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from .models import ArenaObservation, ArenaState, TradeAction


class ArenaEnvClient(EnvClient[TradeAction, ArenaObservation, ArenaState]):
    """Client of ``arena-gym serve-env`` (see the module docstring)."""

    def _step_payload(self, action: TradeAction | str) -> dict[str, Any]:
        if isinstance(action, str):
            action = TradeAction(text=action)
        return action.model_dump(exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[ArenaObservation]:
        observation = ArenaObservation(**payload.get("observation", {}), reward=payload.get("reward"),
                                       done=payload.get("done", False))
        return StepResult(observation=observation, reward=payload.get("reward"), done=payload.get("done", False))

    def _parse_state(self, payload: dict[str, Any]) -> ArenaState:
        return ArenaState(**payload)
