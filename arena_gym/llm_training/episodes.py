"""The training protocol: which episodes a model plays while it learns, and what it earns.

An episode starts at a window of the **train split** (the time splits PPO trains on, with the
same gaps, so no training episode reads a validation or test bar) and runs ``episode_length``
decisions. The model answers the first decision; the later ones hold every coin, so an entry
runs with its own stop and target to the episode's end. One answer, one episode: GRPO compares
the answers sampled for the same window.

The env owns the reward (:func:`play_answer`): the episode's return in percent of the initial
capital, minus ``invalid_penalty`` percentage points for each fallback the parser and decoder
recorded for the answer (an answer held as a whole, a field out of range, a coin not traded,
... see :mod:`arena_gym.protocol.decision`).

``answer_prefix`` (empty by default) is text the model's answer starts with: it is written as
the start of the assistant's turn (a prefill; the model continues it) and is part of the answer
the env parses, e.g. ``{"BTC": {"signal": "`` so that a small model that never opens a JSON
object on its own writes its decision in the contest's layout. It changes what the model is
asked, not the reward; a checkpoint trained with one is played with the same prefix.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: The protocol's defaults: one coin keeps the prompt short enough for a CPU (about 5,800
#: characters with the system prompt, against 13,000 for six coins).
DEFAULT_OVERRIDES = {"assets": ["BTC"], "episode_length": 4}


@dataclass(frozen=True)
class EpisodeProtocol:
    """How training and validation episodes are played (see the module docstring).

    Attributes:
        preset: env preset in decision/text mode.
        overrides: EnvConfig fields replacing the preset's (the split is set per phase).
        invalid_penalty: percentage points taken from the return per fallback of the answer.
        answer_prefix: the start of every answer, given to the model (see the module docstring).
    """

    preset: str = "alpha-arena-s1"
    overrides: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_OVERRIDES))
    invalid_penalty: float = 1.0
    answer_prefix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


@dataclass(frozen=True)
class EpisodeOutcome:
    """What one answer earned: ``reward`` = ``return_pct`` - penalty x ``fallbacks``."""

    return_pct: float
    fallbacks: int
    invalid: bool
    reward: float


def split_windows(protocol: EpisodeProtocol, split: str, k: int, seed: int) -> tuple[list[int], dict[str, Any]]:
    """``k`` start bars of ``split`` (``"train"`` or ``"validation"``) and the env overrides that
    confine episodes to it."""
    from dataclasses import replace

    from arena_gym.evaluation.splits import evaluation_windows, split_config, time_splits
    from arena_gym.openenv.environment import episode_config

    market, config = episode_config(protocol.preset, protocol.overrides)
    splits = time_splits(market.n_bars, lookback=config.lookback)
    confined = split_config(replace(config, start="random"), splits, split)
    overrides = {**protocol.overrides, "split": list(splits[split])}
    return evaluation_windows(market, confined, k, seed=seed), overrides


def chat_messages(system_prompt: str, prompt: str, answer_prefix: str = "") -> list[dict[str, str]]:
    """The conversation a model answers: the contest's system prompt and user prompt, and the
    start of the assistant's answer when ``answer_prefix`` is not empty."""
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]
    if answer_prefix:
        messages.append({"role": "assistant", "content": answer_prefix})
    return messages


def hold_all(symbols) -> str:
    """The answer that holds every coin (no fallback)."""
    return json.dumps({coin: {"signal": "hold"} for coin in symbols})


def play_answer(env, start: int, answer: str, invalid_penalty: float) -> EpisodeOutcome:
    """Play one episode of ``env`` (an :class:`~arena_gym.openenv.environment.ArenaEnvironment`)
    from bar ``start``: ``answer`` at the first decision, holds after it."""
    from arena_gym.openenv.models import TradeAction

    env.reset(start=start)
    first = env.step(TradeAction(text=answer))
    last = first
    hold = hold_all(env.env.market.symbols)
    while not last.done:
        last = env.step(TradeAction(text=hold))
    return_pct = 100.0 * last.total_return
    return EpisodeOutcome(return_pct=return_pct, fallbacks=first.decision_fallbacks, invalid=first.invalid_output,
                          reward=return_pct - invalid_penalty * first.decision_fallbacks)
