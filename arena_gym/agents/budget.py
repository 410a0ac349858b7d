"""A spending limit for one run of LLM calls, in tokens, US dollars or both.

The policy checks :attr:`Budget.exhausted` before each request and, once it is true,
answers ``budget_exhausted`` without calling the model, so the episode goes on holding.
A budget can be shared by several policies to cap a whole benchmark run.

Calls already in flight when the limit is reached still complete and are charged, so the
final spend can exceed the limit by at most ``concurrency`` calls' worth.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from arena_gym.agents.response import LLMResponse


@dataclass
class Budget:
    """Token and USD limits with running totals.

    Attributes:
        max_tokens: limit on prompt + completion tokens; ``None`` for no limit.
        max_usd: limit on spend in US dollars; ``None`` for no limit.
        spent_tokens: tokens charged so far.
        spent_usd: dollars charged so far (calls of unknown price add nothing).
        unpriced_calls: charged calls whose price was unknown.
    """

    max_tokens: int | None = None
    max_usd: float | None = None
    spent_tokens: int = 0
    spent_usd: float = 0.0
    unpriced_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_tokens is None and self.max_usd is None:
            raise ValueError("Budget needs max_tokens, max_usd or both")
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise ValueError(f"Budget max_tokens must be > 0, got {self.max_tokens}")
        if self.max_usd is not None and self.max_usd <= 0:
            raise ValueError(f"Budget max_usd must be > 0, got {self.max_usd}")

    @property
    def exhausted(self) -> bool:
        """True once either limit is reached."""
        with self._lock:
            over_tokens = self.max_tokens is not None and self.spent_tokens >= self.max_tokens
            over_usd = self.max_usd is not None and self.spent_usd >= self.max_usd
            return over_tokens or over_usd

    def charge(self, response: LLMResponse) -> None:
        """Add one response's tokens and cost to the totals."""
        with self._lock:
            self.spent_tokens += response.prompt_tokens + response.completion_tokens
            if response.cost_usd is None:
                if response.total_tokens:
                    self.unpriced_calls += 1
            else:
                self.spent_usd += response.cost_usd

    def reset(self) -> None:
        """Zero the totals, keeping the limits."""
        with self._lock:
            self.spent_tokens = 0
            self.spent_usd = 0.0
            self.unpriced_calls = 0
