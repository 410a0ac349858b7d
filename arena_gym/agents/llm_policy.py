"""An LLM trading policy: one text observation in, one raw completion out, via litellm.

:class:`LLMPolicy` sends the system prompt and the observation to any litellm model and
returns an :class:`~arena_gym.agents.response.LLMResponse`. It never parses the answer; the
environment's decision parser does. Around each call it adds:

* a per-attempt timeout and a ``max_tokens`` limit on every request;
* its own retry loop: transient failures (timeouts, rate limits, connection errors,
  HTTP 502/503/5xx) are retried up to ``max_retries`` times with exponential backoff and
  jitter from a seeded RNG; other failures end the request at once. litellm's and the
  OpenAI SDK's own retries are switched off (``num_retries=0``, ``max_retries=0``);
* a semaphore bounding how many requests are in flight at once across all callers;
* a ledger row per request (tokens, cost, latency, attempts, outcome), optionally appended
  to a JSONL file as it happens;
* a record/replay cache keyed by a hash of the canonical request;
* a token/USD budget: once spent, requests answer ``budget_exhausted`` without a call.

Every transient or per-request failure becomes an ``LLMResponse`` with ``text=""`` and
``error`` set, so an episode goes on (holding) whatever the provider does. A wrong
*configuration* cannot heal by waiting, so it is loud instead:

* at construction, :func:`configuration_problem` asks litellm whether it can route the model
  (``litellm.get_llm_provider``) and whether the provider's key is set
  (``litellm.validate_environment``); if not, :class:`LLMConfigurationError` names the
  variable to set, before any episode starts;
* during a run, a provider answer in :data:`CONFIGURATION_ERRORS` (key rejected, model
  forbidden or unknown) raises :class:`LLMConfigurationError` with the provider's message:
  it is never retried and never written to the cache (a later run with a good key must call
  the model again).

Cache modes:

==========  ================================================================
``off``     never read or write the cache
``record``  always call the model; store every outcome
``replay``  never call the model; serve stored outcomes, ``cache_miss`` otherwise
``auto``    serve stored successes; call (and store) for anything else
==========  ================================================================

A replayed response carries the recorded tokens, cost, latency and attempts, with
``cached=True``, and is charged to the budget like the recorded call was, so a recorded run
replays to the same responses in the same order of budget exhaustion.

litellm is imported on first use, after setting ``LITELLM_LOCAL_MODEL_COST_MAP=True`` so
that its price table is read from the installed package rather than downloaded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from arena_gym.agents.budget import Budget
from arena_gym.agents.response_cache import ResponseCache, canonical_json, request_key
from arena_gym.agents.profiles import ModelProfile, Price, load_profile, profile_for_model
from arena_gym.protocol.prompt import default_template_path
from arena_gym.agents.response import ERROR_CODES, LLMResponse, error_response
from arena_gym.protocol.schema import SCHEMA_NAME, decision_json_schema

logger = logging.getLogger(__name__)

#: Completion-token limit when neither the argument nor the profile sets one.
DEFAULT_MAX_TOKENS = 4096
#: Seconds allowed per attempt when neither the argument nor the profile sets one.
DEFAULT_TIMEOUT_S = 120.0
#: Retries after the first attempt for transient failures.
DEFAULT_MAX_RETRIES = 3
#: Requests in flight at once per policy.
DEFAULT_CONCURRENCY = 8

#: Error codes retried by the retry loop; all others end the request at once.
TRANSIENT_ERRORS = frozenset(
    {"timeout", "rate_limit", "connection", "service_unavailable", "bad_gateway", "server_error"}
)
#: Error codes that mean the configuration is wrong (missing or rejected key, a model the key
#: may not use or that does not exist): never retried, never cached, raised as
#: :class:`LLMConfigurationError`.
CONFIGURATION_ERRORS = frozenset({"authentication", "permission_denied", "not_found"})
_CONFIGURATION_STATUS = {401: "authentication", 403: "permission_denied", 404: "not_found"}
CACHE_MODES: tuple[str, ...] = ("off", "record", "replay", "auto")
#: ``info`` keys copied into each ledger row when present.
LEDGER_INFO_KEYS: tuple[str, ...] = ("agent", "episode", "step")

_LEDGER_COLUMNS: tuple[str, ...] = (
    "call", "model", "key", "cached", "attempts", "retries", "retry_errors", "error_code",
    "error", "prompt_tokens", "completion_tokens", "cost_usd", "latency_s", *LEDGER_INFO_KEYS,
)
_ERROR_MESSAGE_CHARS = 300


def import_litellm() -> ModuleType:
    """Import litellm with its bundled price table (no download) and quiet error output."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


class LLMConfigurationError(ValueError):
    """The model cannot be called as configured (no usable key, unknown model): retrying or
    holding cannot help, so the run stops with the provider's message and what to fix."""


def missing_keys(model: str, api_base: str | None = None) -> list[str]:
    """The environment variables litellm needs for ``model`` that are not set (any one of
    several alternatives will do, e.g. ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY``)."""
    check = import_litellm().validate_environment(model=model, api_base=api_base)
    return list(check.get("missing_keys") or [])


def configuration_problem(model: str, api_key: str | None = None, api_base: str | None = None,
                          params: Mapping[str, Any] | None = None) -> str | None:
    """Why litellm cannot call ``model`` as configured, or ``None`` when it can.

    Checks, without a network call, that litellm knows the model's provider and that the
    provider's key is set (``api_key`` given, or the variable litellm's
    ``validate_environment`` names). litellm's offline ``mock_response`` needs neither.
    """
    if params is not None and "mock_response" in params:
        return None
    litellm = import_litellm()
    try:
        _, provider, _, _ = litellm.get_llm_provider(model, api_base=api_base)
    except Exception as exc:  # litellm raises BadRequestError for a model string it cannot route
        return (f"litellm cannot route the model {model!r} ({_exception_message(exc)}); write it with its "
                f"provider, e.g. openai/gpt-4o or anthropic/claude-sonnet-4-5")
    if api_key is not None:
        return None
    missing = missing_keys(model, api_base)
    if missing:
        names = " or ".join(missing)
        return f"{model} needs {names}, which is not set: export {missing[0]}=... (or pass api_key=...)"
    return None


def classify_exception(exc: BaseException) -> str:
    """Map an exception raised by a completion call to an error code of ``LLMResponse``."""
    if isinstance(exc, TimeoutError):  # asyncio.wait_for's timeout on Python >= 3.11
        return "timeout"
    if isinstance(exc, asyncio.TimeoutError):  # its own class on Python 3.10
        return "timeout"
    errors = import_litellm().exceptions
    ordered = (  # subclasses before their bases
        (errors.Timeout, "timeout"),
        (errors.RateLimitError, "rate_limit"),
        (errors.ContextWindowExceededError, "context_window"),
        (errors.ContentPolicyViolationError, "content_policy"),
        (errors.AuthenticationError, "authentication"),
        (errors.PermissionDeniedError, "permission_denied"),
        (errors.NotFoundError, "not_found"),
        (errors.BadRequestError, "bad_request"),
        (errors.APIConnectionError, "connection"),
        (errors.ServiceUnavailableError, "service_unavailable"),
        (errors.BadGatewayError, "bad_gateway"),
        (errors.InternalServerError, "server_error"),
    )
    for cls, code in ordered:
        if isinstance(exc, cls):
            return code
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 500:
        return "server_error"
    # litellm maps some providers' 401/403/404 to its generic APIError; the status still tells
    if status in _CONFIGURATION_STATUS:
        return _CONFIGURATION_STATUS[status]
    return "provider_error"


def _exception_message(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no message"
    if len(text) > _ERROR_MESSAGE_CHARS:
        text = text[:_ERROR_MESSAGE_CHARS] + "..."
    return f"{type(exc).__name__}: {text}"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between retries.

    The wait before retry ``k`` (1-based) is ``min(max_s, base_s * factor**(k-1))`` seconds,
    scaled down by a uniform random fraction in ``[0, jitter)``; with ``jitter=0`` the waits
    are exactly 1, 2, 4, ... times ``base_s``.
    """

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.max_s < 0:
            raise ValueError(f"Backoff base_s and max_s must be >= 0, got {self.base_s}, {self.max_s}")
        if self.factor < 1:
            raise ValueError(f"Backoff factor must be >= 1, got {self.factor}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"Backoff jitter must be in [0, 1], got {self.jitter}")

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_s, self.base_s * self.factor ** (retry - 1))
        return ceiling * (1.0 - self.jitter * rng.random())


def default_system_prompt() -> str:
    """The text of ``<policies>/prompts/system.md`` when it is a finished prompt.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: when the file is a template (it holds ``${...}`` placeholders), which must
            be rendered for a market first; the environment's ``system_prompt`` is that rendering.
    """
    path = default_template_path("system")
    if not path.is_file():
        raise FileNotFoundError(f"no system prompt given and {path} does not exist; "
                                f"pass system_prompt='...' to LLMPolicy")
    text = path.read_text(encoding="utf-8")
    if "${" in text:
        raise ValueError(f"{path} is a template with ${{...}} placeholders; pass the rendered prompt, "
                         f"e.g. LLMPolicy(..., system_prompt=env.unwrapped.system_prompt)")
    return text


def _as_price(value: Price | Mapping[str, float] | None) -> Price | None:
    if value is None or isinstance(value, Price):
        return value
    return Price(**value)


class LLMPolicy:
    """A policy that asks an LLM for each decision.

    Args:
        model: litellm model string, e.g. ``"openai/gpt-5"``; overrides the profile's.
        profile: a :class:`ModelProfile`, a preset name or TOML path; ``None`` picks the
            preset whose model string equals ``model``, else a plain prompt-only profile.
        system_prompt: the system message, e.g. the environment's ``system_prompt``; ``None``
            reads ``policies/prompts/system.md`` when that file is a finished prompt.
        max_tokens: completion-token limit per call (default: profile, else 4096).
        timeout_s: seconds allowed per attempt (default: profile, else 120).
        max_retries: retries after the first attempt for transient failures.
        backoff: waits between retries.
        budget: token/USD limit for the run (may be shared between policies).
        cache: a :class:`ResponseCache` or the path of its JSONL file.
        cache_mode: ``"off"``, ``"record"``, ``"replay"`` or ``"auto"`` (see module docs);
            ``"auto"`` without a cache means ``"off"``.
        concurrency: requests in flight at once through this policy.
        api_base: endpoint URL for OpenAI-compatible servers (default: profile's).
        api_key: API key; ``None`` lets litellm read the provider's environment variable.
        price_override: USD per million tokens, a :class:`Price` or a mapping with
            ``input_usd_per_mtok`` and ``output_usd_per_mtok``; default: profile's, else
            litellm's price table.
        coins: the tradable coins, pinning the structured-output schema to them when a
            request's ``info`` has no ``"coins"``.
        ledger_path: JSONL file to which each ledger row is appended as it is made.
        sleep: the coroutine used to wait between retries (tests inject a recorder).
        seed: seed of the jitter RNG (``reset(seed)`` reseeds it).
    """

    def __init__(
        self,
        model: str,
        *,
        profile: str | Path | ModelProfile | None = None,
        system_prompt: str | None = None,
        max_tokens: int | None = None,
        timeout_s: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: Backoff = Backoff(),
        budget: Budget | None = None,
        cache: ResponseCache | str | Path | None = None,
        cache_mode: str = "auto",
        concurrency: int = DEFAULT_CONCURRENCY,
        api_base: str | None = None,
        api_key: str | None = None,
        price_override: Price | Mapping[str, float] | None = None,
        coins: Sequence[str] | None = None,
        ledger_path: str | Path | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        seed: int | None = None,
    ) -> None:
        if isinstance(profile, ModelProfile):
            self.profile = profile
        elif profile is not None:
            self.profile = load_profile(profile)
        else:
            self.profile = profile_for_model(model)
        self.model = model
        self.system_prompt = system_prompt if system_prompt is not None else default_system_prompt()
        self.max_tokens = int(max_tokens or self.profile.max_tokens or DEFAULT_MAX_TOKENS)
        self.timeout_s = float(timeout_s or self.profile.timeout_s or DEFAULT_TIMEOUT_S)
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.max_retries = max_retries
        self.backoff = backoff
        self.concurrency = concurrency
        self.api_base = api_base if api_base is not None else self.profile.api_base
        self.api_key = api_key
        self.price = _as_price(price_override) or self.profile.price
        self.coins = tuple(coins) if coins is not None else None
        self.budget = budget
        if budget is not None and budget.max_usd is not None and not self.price_known():
            raise ValueError(f"a USD budget needs a price for {model!r}, which litellm's price table "
                             f"lacks; pass price_override={{'input_usd_per_mtok': ..., "
                             f"'output_usd_per_mtok': ...}} or use a token budget")
        if cache_mode not in CACHE_MODES:
            raise ValueError(f"cache_mode {cache_mode!r} is not one of {', '.join(CACHE_MODES)}")
        if isinstance(cache, (str, Path)):
            cache = ResponseCache(cache)
        if cache is None and cache_mode in ("record", "replay"):
            raise ValueError(f"cache_mode={cache_mode!r} needs a cache (a ResponseCache or a file path)")
        self.cache = cache
        self.cache_mode = "off" if cache is None else cache_mode
        if self.cache_mode != "replay":  # a replay makes no call, so it needs no key
            problem = configuration_problem(model, api_key, self.api_base, self.profile.params)
            if problem is not None:
                raise LLMConfigurationError(problem)
        self.ledger: list[dict[str, Any]] = []
        self.ledger_path = Path(ledger_path) if ledger_path is not None else None
        self._sleep = sleep or asyncio.sleep
        self._rng = random.Random(seed)
        self._ledger_lock = threading.Lock()
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_finalizer: weakref.finalize | None = None

    @classmethod
    def from_profile(cls, profile: str | Path | ModelProfile, **kwargs: Any) -> LLMPolicy:
        """A policy for the profile's own model string; ``kwargs`` as for the constructor."""
        resolved = profile if isinstance(profile, ModelProfile) else load_profile(profile)
        return cls(resolved.model, profile=resolved, **kwargs)

    # ------------------------------------------------------------------ requests

    def reset(self, seed: int | None = None) -> None:
        """Reseed the jitter RNG. The ledger, cache and budget span the whole run."""
        self._rng = random.Random(seed)

    def build_request(self, observation: str, info: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The request for one observation: what is hashed for the cache and sent to litellm.

        ``info["coins"]``, else the policy's ``coins``, pins the structured-output schema to
        those coins; with neither, the schema accepts any coin keys.
        """
        messages = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": observation},
        ]
        params: dict[str, Any] = {"max_tokens": self.max_tokens}
        profile = self.profile
        if profile.supports_temperature and profile.temperature is not None:
            params["temperature"] = profile.temperature
        if profile.reasoning_effort is not None:
            params["reasoning_effort"] = profile.reasoning_effort
        coins = info.get("coins") if info is not None and "coins" in info else self.coins
        if coins is not None:
            coins = list(coins)
        if profile.structured_output == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "schema": decision_json_schema(coins),
                                "strict": coins is not None},
            }
        elif profile.structured_output == "json_object":
            params["response_format"] = {"type": "json_object"}
            if profile.json_object_schema:
                params["response_format"]["schema"] = decision_json_schema(coins)
        params.update(profile.params)
        return {"model": self.model, "messages": messages, "params": params}

    def act(self, observation: str, info: Mapping[str, Any] | None = None) -> LLMResponse:
        """Blocking :meth:`aact`, run on the policy's own event-loop thread."""
        future = asyncio.run_coroutine_threadsafe(self.aact(observation, info), self._background_loop())
        return future.result()

    async def aact(self, observation: str, info: Mapping[str, Any] | None = None) -> LLMResponse:
        """Ask the model for one decision.

        Raises:
            LLMConfigurationError: the provider rejected the configuration (see
                :data:`CONFIGURATION_ERRORS`); every other failure is returned as an error response.
        """
        request = self.build_request(observation, info)
        key = request_key(request)
        retry_errors: list[str] | None = None
        cached = self._cached_response(key) if self.cache_mode in ("replay", "auto") else None
        if self.budget is not None and self.budget.exhausted:
            response = error_response("budget_exhausted", model=self.model)
        elif cached is not None:
            response = cached
        elif self.cache_mode == "replay":
            response = error_response("cache_miss", f"no recorded response for request {key[:16]} in "
                                                    f"{self.cache.path}", model=self.model)
        else:
            async with self._semaphore():
                if self.budget is not None and self.budget.exhausted:
                    response = error_response("budget_exhausted", model=self.model)
                else:
                    response, retry_errors = await self._call_with_retries(request)
            fatal = response.error_code in CONFIGURATION_ERRORS
            if self.cache is not None and self.cache_mode in ("record", "auto") and response.attempts and not fatal:
                self.cache.put(key, response)
        if self.budget is not None:
            self.budget.charge(response)
        self._append_ledger(key, response, retry_errors, info)
        if response.error_code in CONFIGURATION_ERRORS:
            raise LLMConfigurationError(f"{self.model}: {ERROR_CODES[response.error_code]}; the provider said: "
                                        f"{response.error}")
        return response

    def _cached_response(self, key: str) -> LLMResponse | None:
        hit = self.cache.get(key)
        if hit is None or (self.cache_mode == "auto" and not hit.ok):
            return None
        return replace(hit, cached=True)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = asyncio.Semaphore(self.concurrency)
            self._semaphores[loop] = semaphore
        return semaphore

    async def _call_with_retries(self, request: Mapping[str, Any]) -> tuple[LLMResponse, list[str]]:
        litellm = import_litellm()
        kwargs = {
            "model": request["model"],
            "messages": request["messages"],
            **request["params"],
            "timeout": self.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
        }
        if self.api_base is not None:
            kwargs["api_base"] = self.api_base
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key
        retry_errors: list[str] = []
        started = time.perf_counter()
        attempts = 0
        while True:
            attempts += 1
            try:
                raw = await asyncio.wait_for(litellm.acompletion(**kwargs), timeout=self.timeout_s)
            except Exception as exc:  # every provider failure becomes a recorded error code
                code = classify_exception(exc)
                if code in TRANSIENT_ERRORS and attempts <= self.max_retries:
                    delay = self.backoff.delay_s(attempts, self._rng)
                    logger.warning("%s: attempt %d failed (%s); retrying in %.2f s",
                                   self.model, attempts, code, delay)
                    retry_errors.append(code)
                    await self._sleep(delay)
                    continue
                message = _exception_message(exc)
                if isinstance(exc, TimeoutError | asyncio.TimeoutError):
                    message = f"no answer within {self.timeout_s:g} s"
                response = error_response(code, message, model=self.model, attempts=attempts,
                                          latency_s=time.perf_counter() - started)
                return response, retry_errors
            return self._completed(raw, attempts, time.perf_counter() - started), retry_errors

    def _completed(self, raw: Any, attempts: int, latency_s: float) -> LLMResponse:
        usage = getattr(raw, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        choices = getattr(raw, "choices", None) or []
        message = choices[0].message if choices else None
        text = (getattr(message, "content", None) or "") if message is not None else ""
        reasoning = None
        if self.profile.reasoning_roundtrip and message is not None:
            reasoning = getattr(message, "reasoning_content", None) or None
        error = None
        if not text.strip():
            finish_reason = getattr(choices[0], "finish_reason", None) if choices else None
            error = f"empty_response: no completion text (finish_reason={finish_reason})"
            text = ""
        return LLMResponse(
            text=text, error=error, model=self.model, prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, cost_usd=self.cost_usd(prompt_tokens, completion_tokens),
            latency_s=latency_s, attempts=attempts, cached=False, reasoning=reasoning,
        )

    # ------------------------------------------------------------------ prices

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """USD price of a call: the override or profile price, else litellm's; ``None`` if unknown."""
        if self.price is not None:
            return self.price.cost_usd(prompt_tokens, completion_tokens)
        litellm = import_litellm()
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=self.model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        except Exception:  # litellm raises for models missing from its price table
            return None
        return float(prompt_cost + completion_cost)

    def price_known(self) -> bool:
        """True when calls to this model can be priced."""
        return self.cost_usd(1, 1) is not None

    # ------------------------------------------------------------------ ledger

    def _append_ledger(self, key: str, response: LLMResponse, retry_errors: list[str] | None,
                       info: Mapping[str, Any] | None) -> None:
        with self._ledger_lock:
            row: dict[str, Any] = {
                "call": len(self.ledger),
                "model": response.model or self.model,
                "key": key,
                "cached": response.cached,
                "attempts": response.attempts,
                "retries": max(response.attempts - 1, 0),
                "retry_errors": None if retry_errors is None else ",".join(retry_errors),
                "error_code": response.error_code,
                "error": response.error,
                "prompt_tokens": response.prompt_tokens,
                "completion_tokens": response.completion_tokens,
                "cost_usd": response.cost_usd,
                "latency_s": response.latency_s,
            }
            for name in LEDGER_INFO_KEYS:
                row[name] = None if info is None else info.get(name)
            self.ledger.append(row)
            if self.ledger_path is not None:
                self.ledger_path.parent.mkdir(parents=True, exist_ok=True)
                with self.ledger_path.open("a", encoding="utf-8") as fh:
                    fh.write(canonical_json(row) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())

    def ledger_frame(self) -> Any:
        """The ledger as a pandas DataFrame, one row per request."""
        import pandas as pd

        with self._ledger_lock:
            return pd.DataFrame(list(self.ledger), columns=list(_LEDGER_COLUMNS))

    def totals(self) -> dict[str, Any]:
        """Run totals: calls, cached calls, tokens, cost, attempts, retries, errors by code.

        ``cost_usd`` is ``None`` when any priced-by-litellm call had an unknown price.
        """
        with self._ledger_lock:
            rows = list(self.ledger)
        costs = [row["cost_usd"] for row in rows]
        return {
            "calls": len(rows),
            "cached_calls": sum(row["cached"] for row in rows),
            "prompt_tokens": sum(row["prompt_tokens"] for row in rows),
            "completion_tokens": sum(row["completion_tokens"] for row in rows),
            "cost_usd": None if any(c is None for c in costs) else float(sum(costs)),
            "attempts": sum(row["attempts"] for row in rows),
            "retries": sum(row["retries"] for row in rows),
            "errors": sum(row["error_code"] is not None for row in rows),
            "errors_by_type": dict(Counter(row["error_code"] for row in rows if row["error_code"])),
        }

    # ------------------------------------------------------------------ event loop

    def _background_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="llm-policy-loop", daemon=True)
            thread.start()
            self._loop = loop
            self._loop_finalizer = weakref.finalize(self, _stop_loop, loop, thread)
        return self._loop

    def close(self) -> None:
        """Stop the background event loop used by :meth:`act` and close the cache file."""
        if self._loop is not None:
            self._loop_finalizer()
            self._loop = None
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> LLMPolicy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """Cancel what still runs on a background loop (litellm leaves workers there), stop it."""

    async def cancel_pending() -> None:
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    if loop.is_running():
        asyncio.run_coroutine_threadsafe(cancel_pending(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
    loop.close()


async def arun_many(policy: LLMPolicy, observations: Sequence[str],
                    infos: Sequence[Mapping[str, Any] | None] | None = None) -> list[LLMResponse]:
    """Send all observations concurrently (bounded by the policy's semaphore), in order."""
    if infos is not None and len(infos) != len(observations):
        raise ValueError(f"{len(observations)} observations but {len(infos)} infos")
    infos = infos if infos is not None else [None] * len(observations)
    return list(await asyncio.gather(*(policy.aact(obs, info) for obs, info in zip(observations, infos))))


def run_many(policy: LLMPolicy, observations: Sequence[str],
             infos: Sequence[Mapping[str, Any] | None] | None = None) -> list[LLMResponse]:
    """Blocking :func:`arun_many`, run on the policy's own event-loop thread."""
    future = asyncio.run_coroutine_threadsafe(arun_many(policy, observations, infos),
                                              policy._background_loop())
    return future.result()
