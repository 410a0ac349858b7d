"""LLMPolicy through litellm's own mock path (``mock_response``): no network, real litellm.

Each test gives litellm a scripted answer (text, a full response dict, or an exception) via
the profile's ``params`` and checks what the policy makes of it: text, tokens, cost, retries,
budget, ledger, concurrency and record/replay.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from arena_gym.agents.budget import Budget
from arena_gym.agents.llm_policy import (
    CONFIGURATION_ERRORS,
    Backoff,
    LLMConfigurationError,
    configuration_problem,
    LLMPolicy,
    arun_many,
    classify_exception,
    default_system_prompt,
    import_litellm,
    run_many,
)
from arena_gym.agents.profiles import ModelProfile, Price, available_profiles, load_profile
from arena_gym.agents.response import ERROR_CODES, LLMResponse, error_response
from arena_gym.preset_files import POLICIES_ENV_VAR

litellm = import_litellm()
errors = litellm.exceptions

PRICE = Price(input_usd_per_mtok=2.0, output_usd_per_mtok=10.0)


def answer(content: str | None, prompt_tokens: int = 1000, completion_tokens: int = 200,
           reasoning: str | None = None, finish_reason: str = "stop") -> dict:
    """A full chat-completion body for litellm's mock_response."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {"choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def mock_policy(mock_response: Any, *, model: str = "openai/mock", price: Price | None = PRICE,
                profile_fields: dict | None = None, extra_params: dict | None = None,
                **kwargs: Any) -> LLMPolicy:
    params = {"mock_response": mock_response, **(extra_params or {})}
    profile = ModelProfile(name="test", model=model, price=price, params=params, **(profile_fields or {}))
    kwargs.setdefault("sleep", SleepRecorder())
    kwargs.setdefault("backoff", Backoff(base_s=1.0, factor=2.0, max_s=30.0, jitter=0.0))
    return LLMPolicy(model, profile=profile, system_prompt="You are a trader.", **kwargs)


# ---------------------------------------------------------------- answers


def test_valid_answer_text_tokens_and_override_price():
    decision = json.dumps({"BTC": {"coin": "BTC", "signal": "hold"}})
    with mock_policy(answer(decision, prompt_tokens=1500, completion_tokens=250)) as policy:
        response = policy.act("market data")
    assert response.ok and response.error is None
    assert response.text == decision
    assert (response.prompt_tokens, response.completion_tokens) == (1500, 250)
    assert response.cost_usd == pytest.approx(1500 * 2e-6 + 250 * 10e-6)  # 0.0055
    assert response.attempts == 1 and not response.cached and response.latency_s > 0


def test_litellm_price_is_used_when_known():
    # gpt-5 in litellm's bundled table: $1.25 / $10 per million tokens
    with mock_policy(answer("{}", 1000, 1000), model="openai/gpt-5", price=None) as policy:
        response = policy.act("obs")
    assert response.cost_usd == pytest.approx(1000 * 1.25e-6 + 1000 * 10e-6)


def test_unknown_price_is_none_and_usd_budget_is_refused():
    with mock_policy(answer("{}"), model="openai/no-such-model", price=None) as policy:
        assert policy.act("obs").cost_usd is None
        assert policy.totals()["cost_usd"] is None
    with pytest.raises(ValueError, match="price_override"):
        mock_policy("{}", model="openai/no-such-model", price=None, budget=Budget(max_usd=1.0))


@pytest.mark.parametrize("text", [
    "I think BTC will go up, so buy!",          # prose, no JSON
    '{"BTC": {"signal": "moon"',                 # cut-off JSON
    "x" * 50_000,                                # absurdly long
])
def test_invalid_or_absurd_text_is_passed_through_unparsed(text):
    with mock_policy(text) as policy:
        response = policy.act("obs")
    assert response.ok and response.text == text


@pytest.mark.parametrize("content", [None, "", "   \n"])
def test_empty_answer_is_an_error_but_tokens_are_kept(content):
    with mock_policy(answer(content, 800, 4096, finish_reason="length")) as policy:
        response = policy.act("obs")
        totals = policy.totals()
    assert response.text == ""
    assert response.error_code == "empty_response"
    assert "finish_reason=length" in response.error
    assert (response.prompt_tokens, response.completion_tokens) == (800, 4096)
    assert response.attempts == 1
    assert totals["errors_by_type"] == {"empty_response": 1}


def test_reasoning_kept_only_when_the_profile_round_trips_it():
    reply = answer("{}", reasoning="BTC is trending; hold.")
    with mock_policy(reply, profile_fields={"reasoning_roundtrip": True}) as keeping:
        assert keeping.act("obs").reasoning == "BTC is trending; hold."
    with mock_policy(reply, profile_fields={"reasoning_roundtrip": False}) as dropping:
        assert dropping.act("obs").reasoning is None


# ---------------------------------------------------------------- errors and retries

TRANSIENT_CASES = [
    (lambda: errors.Timeout("slow", model="m", llm_provider="openai"), "timeout"),
    (lambda: errors.RateLimitError("429", llm_provider="openai", model="m"), "rate_limit"),
    (lambda: errors.APIConnectionError("down", llm_provider="openai", model="m"), "connection"),
    (lambda: errors.ServiceUnavailableError("503", llm_provider="openai", model="m"), "service_unavailable"),
    (lambda: errors.BadGatewayError("502", llm_provider="openai", model="m"), "bad_gateway"),
    (lambda: errors.InternalServerError("500", llm_provider="openai", model="m"), "server_error"),
]
PERMANENT_CASES = [
    (lambda: errors.AuthenticationError("401", llm_provider="openai", model="m"), "authentication"),
    (lambda: errors.PermissionDeniedError("403", llm_provider="openai", model="m",
                                          response=_response(403)), "permission_denied"),
    (lambda: errors.NotFoundError("404", model="m", llm_provider="openai"), "not_found"),
    (lambda: errors.BadRequestError("400", model="m", llm_provider="openai"), "bad_request"),
    (lambda: errors.ContextWindowExceededError("too long", model="m", llm_provider="openai"),
     "context_window"),
    (lambda: errors.ContentPolicyViolationError("no", model="m", llm_provider="openai"), "content_policy"),
    (lambda: errors.UnprocessableEntityError("422", model="m", llm_provider="openai",
                                             response=_response(422)), "provider_error"),
]


def _response(code: int) -> Any:
    import httpx

    return httpx.Response(code, request=httpx.Request("POST", "http://127.0.0.1/v1/chat/completions"))


@pytest.mark.parametrize(("make_error", "code"), TRANSIENT_CASES)
def test_transient_errors_are_retried_then_recorded(make_error, code):
    with mock_policy(make_error(), max_retries=3) as policy:
        response = policy.act("obs")
        waits = policy._sleep.waits
        row = policy.ledger[0]
    assert response.text == "" and response.error_code == code
    assert response.attempts == 4
    assert waits == [1.0, 2.0, 4.0]
    assert row["retries"] == 3 and row["retry_errors"] == ",".join([code] * 3)


@pytest.mark.parametrize(("make_error", "code"), PERMANENT_CASES)
def test_permanent_errors_fail_on_the_first_attempt(make_error, code):
    with mock_policy(make_error(), max_retries=3) as policy:
        if code in CONFIGURATION_ERRORS:
            with pytest.raises(LLMConfigurationError, match="the provider said"):
                policy.act("obs")
            row = policy.ledger[0]
            assert row["error_code"] == code and row["attempts"] == 1
        else:
            response = policy.act("obs")
            assert response.error_code == code and response.attempts == 1
        assert policy._sleep.waits == []


@pytest.mark.parametrize("make_error", [make for make, code in PERMANENT_CASES if code in CONFIGURATION_ERRORS])
def test_configuration_errors_are_never_cached(make_error, tmp_path):
    cache = tmp_path / "calls.jsonl"
    with mock_policy(make_error(), cache=cache, cache_mode="record") as policy:
        with pytest.raises(LLMConfigurationError):
            policy.act("obs")
    assert not cache.exists() or cache.read_text() == ""


def test_transient_failures_are_still_recorded_for_replay(tmp_path):
    cache = tmp_path / "calls.jsonl"
    with mock_policy(errors.InternalServerError("500", llm_provider="openai", model="m"), max_retries=1,
                     cache=cache, cache_mode="record") as policy:
        assert policy.act("obs").error_code == "server_error"
    assert len(cache.read_text().splitlines()) == 1


def test_missing_key_fails_at_construction_naming_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMConfigurationError, match="OPENAI_API_KEY"):
        LLMPolicy.from_profile("gpt-5", system_prompt="s")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(LLMConfigurationError, match="ANTHROPIC_API_KEY"):
        LLMPolicy("anthropic/claude-sonnet-4-5", system_prompt="s")


def test_unroutable_model_fails_at_construction():
    with pytest.raises(LLMConfigurationError, match="cannot route"):
        LLMPolicy("no-such-provider-model-xyz", system_prompt="s")


def test_key_given_or_replay_needs_no_environment_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert configuration_problem("openai/gpt-5", api_key="sk-test") is None
    LLMPolicy("openai/gpt-5", system_prompt="s", cache=tmp_path / "c.jsonl", cache_mode="replay").close()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert configuration_problem("openai/gpt-5") is None


def test_every_error_code_is_documented():
    produced = {code for _, code in TRANSIENT_CASES + PERMANENT_CASES}
    produced |= {"empty_response", "budget_exhausted", "cache_miss"}
    assert produced == set(ERROR_CODES)


def test_classify_exception_handles_plain_timeouts_and_unknown_failures():
    assert classify_exception(asyncio.TimeoutError()) == "timeout"
    assert classify_exception(RuntimeError("boom")) == "provider_error"


def test_timeout_is_enforced_per_attempt():
    # litellm's mock_timeout sleeps for the timeout, then raises its Timeout
    with mock_policy("{}", extra_params={"mock_timeout": True}, timeout_s=0.2, max_retries=1) as policy:
        started = time.perf_counter()
        response = policy.act("obs")
        elapsed = time.perf_counter() - started
    assert response.error_code == "timeout"
    assert response.attempts == 2
    assert 0.35 < elapsed < 2.0


def test_backoff_jitter_is_seeded_and_bounded():
    def waits(seed: int) -> list[float]:
        with mock_policy(errors.RateLimitError("429", llm_provider="openai", model="m"), max_retries=4,
                         backoff=Backoff(base_s=1.0, factor=2.0, max_s=5.0, jitter=0.5)) as policy:
            policy.reset(seed=seed)
            policy.act("obs")
            return policy._sleep.waits

    first, again, other = waits(7), waits(7), waits(8)
    assert first == again and first != other
    ceilings = [1.0, 2.0, 4.0, 5.0]  # doubling, capped at max_s
    assert all(c * 0.5 < w <= c for w, c in zip(first, ceilings, strict=True))


def test_sdk_retries_are_switched_off_and_limits_sent(monkeypatch):
    seen: list[dict] = []
    real = litellm.acompletion

    async def spy(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return await real(**kwargs)

    monkeypatch.setattr(litellm, "acompletion", spy)
    with mock_policy("{}", max_tokens=321, timeout_s=12.5) as policy:
        policy.act("obs")
    assert seen[0]["num_retries"] == 0 and seen[0]["max_retries"] == 0
    assert seen[0]["max_tokens"] == 321 and seen[0]["timeout"] == 12.5


# ---------------------------------------------------------------- concurrency


def test_concurrency_is_bounded_by_the_semaphore():
    observations = [f"obs {i}" for i in range(8)]

    def elapsed(concurrency: int) -> float:
        with mock_policy("{}", extra_params={"mock_delay": 0.3}, concurrency=concurrency) as policy:
            policy.act("warm-up")
            started = time.perf_counter()
            responses = run_many(policy, observations)
            assert all(r.ok for r in responses)
            return time.perf_counter() - started

    assert elapsed(8) < 1.2          # one wave of 0.3 s; one at a time would take 2.4 s
    assert elapsed(2) >= 4 * 0.3     # four waves of 0.3 s


def test_aact_works_in_the_callers_own_event_loop():
    with mock_policy("{}", concurrency=4) as policy:
        async def main() -> list[LLMResponse]:
            return await arun_many(policy, ["a", "b", "c", "d"], [{"step": i} for i in range(4)])

        responses = asyncio.run(main())
        assert [r.text for r in responses] == ["{}"] * 4
        assert sorted(row["step"] for row in policy.ledger) == [0, 1, 2, 3]
        # and the blocking wrapper still works afterwards, on the policy's own loop
        assert policy.act("e").ok


# ---------------------------------------------------------------- budget


def test_token_budget_degrades_to_budget_exhausted_without_calling():
    budget = Budget(max_tokens=2500)
    with mock_policy(answer("{}", 1000, 200), budget=budget) as policy:
        responses = [policy.act(f"obs {i}") for i in range(4)]
        totals = policy.totals()
    assert [r.error_code for r in responses] == [None, None, None, "budget_exhausted"]
    assert responses[3].attempts == 0 and responses[3].text == ""
    assert budget.spent_tokens == 3600  # three calls of 1,200 tokens; the third crossed 2,500
    assert totals["errors_by_type"] == {"budget_exhausted": 1} and totals["attempts"] == 3


def test_usd_budget_counts_dollars():
    budget = Budget(max_usd=0.01)  # each call costs 1000*2e-6 + 200*10e-6 = $0.004
    with mock_policy(answer("{}", 1000, 200), budget=budget) as policy:
        codes = [policy.act(f"obs {i}").error_code for i in range(5)]
    assert codes == [None, None, None, "budget_exhausted", "budget_exhausted"]
    assert budget.spent_usd == pytest.approx(0.012)


def test_budget_shared_between_policies():
    budget = Budget(max_tokens=1000)
    with mock_policy(answer("{}", 600, 100), budget=budget) as first, \
            mock_policy(answer("{}", 600, 100), budget=budget) as second:
        assert first.act("a").ok and second.act("b").ok
        assert first.act("c").error_code == "budget_exhausted"


# ---------------------------------------------------------------- ledger


def test_ledger_rows_totals_frame_and_file(tmp_path):
    ledger_path = tmp_path / "ledger.jsonl"
    rate_limited = errors.RateLimitError("429", llm_provider="openai", model="m")
    with mock_policy(answer("{}", 1000, 200), ledger_path=ledger_path) as ok_policy, \
            mock_policy(rate_limited, max_retries=2, ledger_path=ledger_path) as failing:
        ok_policy.act("a", {"agent": "gpt", "step": 0})
        assert len(ledger_path.read_text().splitlines()) == 1  # written as it happened
        failing.act("b", {"agent": "gpt", "step": 1})
        assert len(ledger_path.read_text().splitlines()) == 2
        ok_policy.act("c", {"agent": "gpt", "step": 2})
        frame = ok_policy.ledger_frame()
        totals = ok_policy.totals()
        failing_totals = failing.totals()
    assert list(frame["step"]) == [0, 2] and list(frame["prompt_tokens"]) == [1000, 1000]
    assert {"key", "cost_usd", "latency_s", "error_code", "retries"} <= set(frame.columns)
    assert totals == {"calls": 2, "cached_calls": 0, "prompt_tokens": 2000, "completion_tokens": 400,
                      "cost_usd": pytest.approx(0.008), "attempts": 2, "retries": 0, "errors": 0,
                      "errors_by_type": {}}
    assert failing_totals["retries"] == 2 and failing_totals["errors_by_type"] == {"rate_limit": 1}
    rows = [json.loads(line) for line in ledger_path.read_text().splitlines()]
    assert [row["error_code"] for row in rows] == [None, "rate_limit", None]


def test_empty_ledger_frame_has_its_columns():
    with mock_policy("{}") as policy:
        frame = policy.ledger_frame()
    assert len(frame) == 0 and "cost_usd" in frame.columns


# ---------------------------------------------------------------- record and replay


def _network_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(**kwargs: Any) -> Any:
        raise AssertionError("replay must not call the model")

    monkeypatch.setattr(litellm, "acompletion", refuse)


def test_recorded_run_replays_offline_to_identical_responses(tmp_path, monkeypatch):
    cache_path = tmp_path / "run.jsonl"
    observations = [f"bar {i}: BTC 1000{i}" for i in range(6)]
    infos = [{"coins": ["BTC"], "step": i} for i in range(6)]
    reply = answer('{"BTC": {"signal": "hold"}}', 900, 120, reasoning="flat market")
    with mock_policy(reply, cache=cache_path, cache_mode="record",
                     profile_fields={"reasoning_roundtrip": True}) as recorder:
        recorded = run_many(recorder, observations, infos)
        recorded_totals = recorder.totals()

    _network_disabled(monkeypatch)
    with mock_policy(reply, cache=cache_path, cache_mode="replay",
                     profile_fields={"reasoning_roundtrip": True}) as replayer:
        replayed = run_many(replayer, observations, infos)
        replayed_totals = replayer.totals()
        missing = replayer.act("a bar never recorded", {"coins": ["BTC"]})
    strip = [(r.text, r.error, r.prompt_tokens, r.completion_tokens, r.cost_usd, r.attempts, r.reasoning,
              r.latency_s) for r in recorded]
    assert [(r.text, r.error, r.prompt_tokens, r.completion_tokens, r.cost_usd, r.attempts, r.reasoning,
             r.latency_s) for r in replayed] == strip
    assert all(r.cached for r in replayed) and not any(r.cached for r in recorded)
    assert {k: v for k, v in replayed_totals.items() if k != "cached_calls"} == \
           {k: v for k, v in recorded_totals.items() if k != "cached_calls"} | {"calls": 6}
    assert missing.error_code == "cache_miss" and missing.attempts == 0


def test_replay_reproduces_recorded_failures_and_budget_exhaustion(tmp_path, monkeypatch):
    cache_path = tmp_path / "run.jsonl"
    observations = ["a", "b", "c"]
    with mock_policy(answer("{}", 1000, 100), cache=cache_path, cache_mode="record",
                     budget=Budget(max_tokens=2000)) as recorder:
        recorded = [recorder.act(o) for o in observations]
    with mock_policy(errors.ContentPolicyViolationError("no", model="m", llm_provider="openai"),
                     cache=cache_path, cache_mode="record") as failing:
        failed = failing.act("d")
    _network_disabled(monkeypatch)
    with mock_policy(answer("{}", 1000, 100), cache=cache_path, cache_mode="replay",
                     budget=Budget(max_tokens=2000)) as replayer:
        replayed = [replayer.act(o) for o in observations]
    with mock_policy(errors.ContentPolicyViolationError("no", model="m", llm_provider="openai"),
                     cache=cache_path, cache_mode="replay") as failing_replay:
        failed_again = failing_replay.act("d")
    assert [r.error_code for r in recorded] == [None, None, "budget_exhausted"]
    assert [r.error_code for r in replayed] == [None, None, "budget_exhausted"]
    assert failed_again.error == failed.error and failed_again.cached


def test_auto_mode_serves_successes_and_retries_recorded_failures(tmp_path):
    cache_path = tmp_path / "auto.jsonl"
    with mock_policy(errors.ServiceUnavailableError("503", llm_provider="openai", model="m"),
                     max_retries=0, cache=cache_path, cache_mode="record") as failing:
        assert failing.act("obs").error_code == "service_unavailable"
    with mock_policy("{}", cache=cache_path, cache_mode="auto") as auto:
        first = auto.act("obs")   # the recorded failure is not served: a new call succeeds
        second = auto.act("obs")  # now served from the cache
    assert (first.cached, first.text) == (False, "{}")
    assert (second.cached, second.text) == (True, "{}")
    assert len(cache_path.read_text().splitlines()) == 2


def test_cache_requires_a_file_for_record_and_replay():
    with pytest.raises(ValueError, match="needs a cache"):
        mock_policy("{}", cache_mode="replay")
    with pytest.raises(ValueError, match="cache_mode"):
        mock_policy("{}", cache_mode="sometimes")


# ---------------------------------------------------------------- requests and profiles


def test_request_follows_the_profile():
    gpt5 = load_profile("gpt-5")
    policy = LLMPolicy(gpt5.model, profile=gpt5, system_prompt="S", api_key="sk-test")
    request = policy.build_request("O", {"coins": ["BTC", "ETH"]})
    params = request["params"]
    assert request["messages"] == [{"role": "system", "content": "S"}, {"role": "user", "content": "O"}]
    assert "temperature" not in params
    assert params["max_tokens"] == 16384
    assert params["response_format"]["json_schema"]["strict"] is True
    assert params["response_format"]["json_schema"]["schema"]["required"] == ["BTC", "ETH"]

    local = load_profile("local-smollm2")
    params = LLMPolicy(local.model, profile=local, system_prompt="S", api_key="sk-test").build_request("O")["params"]
    assert params["temperature"] == 0.0
    assert params["response_format"]["type"] == "json_object"
    assert "additionalProperties" in params["response_format"]["schema"]  # any coins

    pinned = LLMPolicy(gpt5.model, profile=gpt5, system_prompt="S", coins=("SOL",), api_key="sk-test")
    schema = pinned.build_request("O")["params"]["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["SOL"]
    schema = pinned.build_request("O", {"coins": ("XRP",)})["params"]["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["XRP"]  # the request's info wins

    plain = ModelProfile(name="plain", model="openai/x", reasoning_effort="high", temperature=0.3)
    params = LLMPolicy("openai/x", profile=plain, system_prompt="S", max_tokens=77, api_key="sk-test").build_request("O")["params"]
    assert params == {"max_tokens": 77, "temperature": 0.3, "reasoning_effort": "high"}


def test_all_presets_load_and_name_their_model():
    names = available_profiles()
    assert {"gpt-5", "claude-sonnet-4-5", "gemini-2.5-pro", "deepseek-chat-v3.1", "qwen3-max", "grok-4",
            "local-smollm2", "mock"} <= set(names)
    for name in names:
        profile = load_profile(name)
        assert profile.name == name and "/" in profile.model


def test_every_remote_preset_is_priced():
    for name in ("gpt-5", "claude-sonnet-4-5", "gemini-2.5-pro", "deepseek-chat-v3.1", "qwen3-max", "grok-4"):
        policy = LLMPolicy.from_profile(name, system_prompt="S", api_key="sk-test")
        assert policy.price_known(), name
        assert policy.cost_usd(1_000, 1_000) > 0


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match="available profiles: .*gpt-5.*mock"):
        load_profile("gpt-9")


def test_profile_file_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "openai/x"\nstructured_output = "xml"\n')
    with pytest.raises(ValueError, match="structured_output 'xml' is not one of json_schema"):
        load_profile(bad)
    bad.write_text('model = "openai/x"\ntemprature = 0.1\n')
    with pytest.raises(ValueError, match=r"unknown keys \['temprature'\]"):
        load_profile(bad)


def test_policies_folder_override_and_default_system_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv(POLICIES_ENV_VAR, str(tmp_path))
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "mine.toml").write_text('model = "openai/mock"\n[params]\nmock_response = "{}"\n')
    assert available_profiles() == ["mine"]
    with pytest.raises(FileNotFoundError, match="pass system_prompt"):
        LLMPolicy.from_profile("mine")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "system.md").write_text("Trade ${assets} well.")
    with pytest.raises(ValueError, match="is a template"):
        LLMPolicy.from_profile("mine")
    (tmp_path / "prompts" / "system.md").write_text("Trade well.")
    assert default_system_prompt() == "Trade well."
    with LLMPolicy.from_profile("mine") as policy:
        assert policy.system_prompt == "Trade well."
        assert policy.act("obs").text == "{}"
    # a model string matching a preset picks that preset
    assert LLMPolicy("openai/mock").profile.name == "mine"


def test_mock_preset_answers_offline():
    with LLMPolicy.from_profile("mock", system_prompt="S") as policy:
        response = policy.act("obs", {"coins": ["BTC"]})
    assert (response.text, response.error, response.cost_usd) == ("{}", None, 0.0)


def test_error_response_rejects_unknown_codes():
    assert error_response("timeout", "30 s").error == "timeout: 30 s"
    with pytest.raises(ValueError, match="known codes"):
        error_response("oops")


def test_decision_schema_pins_each_coin_and_rejects_bad_coin_lists():
    from arena_gym.protocol.schema import decision_json_schema

    schema = decision_json_schema(["BTC", "DOGE"])
    assert schema["required"] == ["BTC", "DOGE"] and schema["additionalProperties"] is False
    doge = schema["properties"]["DOGE"]
    assert doge["properties"]["coin"] == {"type": "string", "enum": ["DOGE"]}
    assert doge["properties"]["signal"]["enum"] == ["buy_to_enter", "sell_to_enter", "hold", "close_position"]
    assert doge["properties"]["leverage"]["type"] == "integer"
    assert sorted(doge["required"]) == sorted(doge["properties"])  # strict modes need every field
    with pytest.raises(ValueError, match="duplicate"):
        decision_json_schema(["BTC", "BTC"])
    with pytest.raises(ValueError, match="at least one coin"):
        decision_json_schema([])
