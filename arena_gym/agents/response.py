"""The outcome of one LLM decision request.

An :class:`LLMResponse` is what a policy hands to the environment: the raw completion text
and, when the request could not produce one, a machine-readable error. The policy never
parses the text; the environment's decision parser does, and treats a response whose
``error`` is set as "hold every coin".

Error strings start with a code followed by ``": "`` and a human-readable message, e.g.
``"timeout: Timeout: request exceeded 30.0 s"``. Codes without a message (such as
``"budget_exhausted"``) stand alone. The codes are listed in :data:`ERROR_CODES`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

#: Every error code an :class:`LLMResponse` can carry, with what it means.
ERROR_CODES: dict[str, str] = {
    "timeout": "no answer within the per-call timeout",
    "rate_limit": "the provider refused the call for rate or quota reasons (HTTP 429)",
    "connection": "the provider could not be reached",
    "service_unavailable": "the provider reported itself unavailable (HTTP 503)",
    "bad_gateway": "a gateway in front of the provider failed (HTTP 502)",
    "server_error": "the provider failed internally (HTTP 5xx)",
    "authentication": "the API key was missing or rejected (HTTP 401)",
    "permission_denied": "the key may not use this model (HTTP 403)",
    "not_found": "the model or endpoint does not exist (HTTP 404)",
    "context_window": "the prompt does not fit the model's context window",
    "content_policy": "the provider's content filter refused the request",
    "bad_request": "the provider rejected the request as malformed (HTTP 400)",
    "provider_error": "any other provider or client failure, including unreadable replies",
    "empty_response": "the call succeeded but the completion text was empty",
    "budget_exhausted": "the run's token or USD budget was spent; no call was made",
    "cache_miss": "replay mode and the request was never recorded; no call was made",
}


@dataclass(frozen=True)
class LLMResponse:
    """One decision request's result.

    Attributes:
        text: the raw completion text; ``""`` when the request failed.
        error: ``None`` on success, else ``"<code>: <message>"`` or a bare code
            (see :data:`ERROR_CODES`).
        model: the model string the request was sent to.
        prompt_tokens: input tokens billed (0 when no call completed).
        completion_tokens: output tokens billed, reasoning tokens included.
        cost_usd: price of the call in US dollars; ``None`` when the model's price is unknown.
        latency_s: wall-clock seconds from the first attempt to the outcome, backoff included;
            for a cached response, the latency measured when it was recorded.
        attempts: calls made to the provider (1 + retries); 0 when none was made.
        cached: ``True`` when the response was served from the record/replay cache.
        reasoning: the model's reasoning text when the profile keeps it, else ``None``.
    """

    text: str
    error: str | None = None
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    latency_s: float = 0.0
    attempts: int = 0
    cached: bool = False
    reasoning: str | None = None

    @property
    def ok(self) -> bool:
        """True when the request produced completion text."""
        return self.error is None

    @property
    def error_code(self) -> str | None:
        """The machine code part of :attr:`error` (``None`` on success)."""
        if self.error is None:
            return None
        return self.error.split(":", 1)[0]

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable dict holding every field."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> LLMResponse:
        """Rebuild a response from :meth:`to_record` output; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


def error_response(code: str, message: str | None = None, *, model: str = "", attempts: int = 0,
                   latency_s: float = 0.0) -> LLMResponse:
    """A failed :class:`LLMResponse` with ``error = "<code>: <message>"`` (or the bare code)."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code!r}; known codes: {', '.join(ERROR_CODES)}")
    error = code if not message else f"{code}: {message}"
    return LLMResponse(text="", error=error, model=model, attempts=attempts, latency_s=latency_s)
