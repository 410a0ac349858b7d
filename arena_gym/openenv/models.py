"""The typed messages of the contest env under OpenEnv: action, observation and state.

They subclass OpenEnv's pydantic ``Action``, ``Observation`` and ``State`` (the
``openenv-core`` package), so OpenEnv's server validates them and publishes their JSON
schemas at ``/schema``.
"""

from __future__ import annotations

from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

#: Longest answer accepted, in characters (the parser reads at most this much anyway).
MAX_ANSWER_CHARS = 32_768


class TradeAction(Action):
    """One decision: the model's raw text answer, parsed by the env as ``env.step(text)`` does."""

    text: str = Field(..., max_length=MAX_ANSWER_CHARS,
                      description="the model's answer: the contest's JSON decision, with or without prose around it")


class ArenaObservation(Observation):
    """What a policy sees after ``reset`` or ``step``, plus the figures a reward needs.

    ``reward`` (inherited) is the env's step reward (log return of equity over the step by
    default; ``None`` after ``reset``); ``done`` is terminated or truncated.
    """

    prompt: str = Field(..., description="the contest's user prompt for the next decision")
    system_prompt: str | None = Field(None, description="the system prompt; sent with the first observation only")
    step: int = Field(..., description="decisions taken in this episode")
    bar: int = Field(..., description="index of the last closed bar in the market")
    time: str = Field(..., description="close time of that bar, UTC, ISO 8601")
    equity: float = Field(..., description="account value, USD")
    initial_capital: float = Field(..., description="account value at reset, USD")
    total_return: float = Field(..., description="equity / initial_capital - 1 (a fraction, not %)")
    fees_paid: float = Field(..., description="fees paid this episode, USD")
    funding_paid: float = Field(..., description="funding paid this episode, USD (negative: received)")
    decision_fallbacks: int = Field(0, description="fallbacks the parser and decoder recorded for the last answer")
    invalid_output: bool = Field(False, description="the last answer held as a whole (nothing valid in it)")
    terminated: bool = Field(False, description="the account was liquidated or went bankrupt")
    truncated: bool = Field(False, description="the episode reached its length or the end of its split")


class ArenaState(State):
    """The episode's bookkeeping (``episode_id`` and ``step_count`` are OpenEnv's)."""

    seed: int | None = Field(None, description="seed given to reset")
    start_bar: int | None = Field(None, description="bar of the first observation; None before the first reset")
    done: bool = Field(False, description="the episode is over; only reset is accepted")
    equity: float | None = Field(None, description="account value, USD")
    total_return: float | None = Field(None, description="equity / initial capital - 1 (a fraction)")
    invalid_answers: int = Field(0, description="answers held as a whole this episode")
    fallbacks: int = Field(0, description="fallbacks recorded this episode (all reasons)")
