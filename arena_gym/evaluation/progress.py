"""Progress lines for the decisions of policies that wait on a model.

An LLM's decision takes seconds (a hosted model) to minutes (the local model on a small CPU),
so an evaluation with one would otherwise sit silent behind its per-episode progress bar.
:class:`DecisionProgress` writes a line for such a policy's decisions: which decision of how
many, where in which episode, how long it took (the model's answer and the env step, in
seconds) and whether the answer was used (:func:`decision_outcome`).

So that a fast hosted model does not flood the terminal, a policy gets at most one line every
``every_s`` seconds (10 by default; its first and last planned decisions always get one); a
line that follows skipped decisions says how many. A model slower than that, such as the local
one, gets a line for every decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Default seconds between two decision lines of one policy.
DEFAULT_EVERY_S = 10.0


def answers_text_prompts(policy: Any) -> bool:
    """Whether ``policy`` reads the text prompt (an LLM): its decisions wait on a model."""
    return dict(getattr(policy, "env_overrides", {}) or {}).get("observation_mode") == "text"


def decision_outcome(action: Any, info: Mapping[str, Any]) -> str:
    """What became of one decision: ``valid``, ``valid, N fallback(s)`` (parts of the answer
    repaired or dropped, see :mod:`arena_gym.protocol.decision`) or ``invalid: held`` (nothing of the
    answer could be used; with the request's error code when the model did not answer)."""
    if info.get("invalid_output"):
        code = getattr(action, "error_code", None)
        return f"invalid: held ({code})" if code else "invalid: held"
    fallbacks = int(info.get("decision_fallbacks", 0) or 0)
    return f"valid, {fallbacks} fallback{'s' if fallbacks != 1 else ''}" if fallbacks else "valid"


@dataclass
class _Tally:
    planned: int | None       # decisions still to play (None: episodes without a set length)
    episode_length: int | None
    done: int = 0
    invalid: int = 0
    last_line_at: float | None = None
    last_line_done: int = 0


class DecisionProgress:
    """Decision lines of the policies of one evaluation (see the module docstring).

    Args:
        planned: per policy name, ``(episodes to play, decisions per episode or None)``; only
            these policies are reported.
        write: receives each line (e.g. ``tqdm.write`` to stderr, so the progress bar stays intact).
        every_s: least seconds between two lines of one policy; 0 writes every decision.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, planned: Mapping[str, tuple[int, int | None]], write: Callable[[str], None],
                 every_s: float = DEFAULT_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        if not every_s >= 0:
            raise ValueError(f"seconds between decision lines must be >= 0, got {every_s}")
        self.write = write
        self.every_s = float(every_s)
        self.clock = clock
        self._tallies = {name: _Tally(episodes * length if length else None, length)
                         for name, (episodes, length) in planned.items() if episodes}

    def __contains__(self, policy: str) -> bool:
        return policy in self._tallies

    def step(self, policy: str, window: int, seed: int, action: Any, info: Mapping[str, Any], seconds: float) -> None:
        """Count one decision of ``policy`` (its episode's ``window`` and ``seed``, the action it
        returned, the env's ``info`` after the step, and the seconds the decision and step took)
        and write its line when due."""
        tally = self._tallies.get(policy)
        if tally is None:
            return
        tally.done += 1
        outcome = decision_outcome(action, info)
        tally.invalid += outcome.startswith("invalid")
        now = self.clock()
        due = (tally.last_line_at is None or now - tally.last_line_at >= self.every_s
               or tally.done == tally.planned)
        if not due:
            return
        skipped = tally.done - tally.last_line_done - 1
        tally.last_line_at, tally.last_line_done = now, tally.done
        of = f"/{tally.planned}" if tally.planned else ""
        step = f"step {info['step']}" + (f"/{tally.episode_length}" if tally.episode_length else "")
        notes = []
        if skipped > 0:
            notes.append(f"{skipped} more since the last line")
        if tally.invalid:
            notes.append(f"{tally.invalid} invalid so far")
        self.write(f"{policy}: decision {tally.done}{of} (window {window}, seed {seed}, {step}): {seconds:.1f} s, "
                   f"{outcome}" + (f" [{'; '.join(notes)}]" if notes else ""))
