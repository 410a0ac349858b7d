"""LLMPolicy over real HTTP: litellm -> OpenAI SDK -> a scripted stub server on 127.0.0.1.

The stub answers ``POST /v1/chat/completions`` in OpenAI's format. What it does for a request
is chosen by the request's user message: each message has a script of behaviours, consumed
one per request (the last one repeats), so a test can say "429, 429, then answer".
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from arena_gym.agents.budget import Budget
from arena_gym.agents.llm_policy import Backoff, LLMConfigurationError, LLMPolicy, run_many
from arena_gym.agents.profiles import ModelProfile, Price

MODEL = "openai/stub-model"


def ok(text: str, prompt_tokens: int = 100, completion_tokens: int = 20, delay_s: float = 0.0) -> dict:
    return {"kind": "ok", "text": text, "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens, "delay_s": delay_s}


def status(code: int) -> dict:
    return {"kind": "status", "code": code}


MALFORMED = {"kind": "malformed"}


class StubServer:
    """A scripted OpenAI-compatible chat endpoint on 127.0.0.1 (see module docstring)."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[dict]] = {}
        self.served: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                stub.handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.api_base = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def script(self, user_text: str, *behaviours: dict) -> None:
        self.scripts[user_text] = list(behaviours)

    def handle(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        user_text = body["messages"][-1]["content"]
        with self._lock:
            self.bodies.append(body)
            index = self.served[user_text]
            self.served[user_text] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            script = self.scripts[user_text]
            behaviour = script[min(index, len(script) - 1)]
            self._respond(handler, body, behaviour)
        finally:
            with self._lock:
                self.in_flight -= 1

    @staticmethod
    def _respond(handler: BaseHTTPRequestHandler, body: dict, behaviour: dict) -> None:
        if behaviour["kind"] == "status":
            payload = json.dumps({"error": {"message": f"scripted {behaviour['code']}",
                                            "type": "stub", "code": behaviour["code"]}}).encode()
            code = behaviour["code"]
        elif behaviour["kind"] == "malformed":
            payload, code = b'{"id": "x", "choices": [{"message": ', 200
        else:
            time.sleep(behaviour["delay_s"])
            payload = json.dumps({
                "id": "chatcmpl-stub", "object": "chat.completion", "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": behaviour["text"]}}],
                "usage": {"prompt_tokens": behaviour["prompt_tokens"],
                          "completion_tokens": behaviour["completion_tokens"],
                          "total_tokens": behaviour["prompt_tokens"] + behaviour["completion_tokens"]},
            }).encode()
            code = 200
        try:
            handler.send_response(code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); nothing to answer

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stub():
    server = StubServer()
    yield server
    server.close()


class SleepRecorder:
    """Stands in for asyncio.sleep between retries, recording the waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_policy(stub: StubServer, profile: ModelProfile | None = None, **kwargs: Any) -> LLMPolicy:
    profile = profile or ModelProfile(name="stub", model=MODEL,
                                      price=Price(input_usd_per_mtok=2.0, output_usd_per_mtok=10.0))
    kwargs.setdefault("sleep", SleepRecorder())
    kwargs.setdefault("backoff", Backoff(base_s=0.5, factor=2.0, max_s=30.0, jitter=0.0))
    return LLMPolicy(MODEL, profile=profile, system_prompt="You trade.", api_base=stub.api_base,
                     api_key="test-key", **kwargs)


def test_valid_answer_over_http_with_tokens_and_cost(stub):
    stub.script("obs", ok('{"BTC": {"signal": "hold"}}', prompt_tokens=1200, completion_tokens=300))
    with make_policy(stub) as policy:
        response = policy.act("obs")
    assert response.error is None
    assert response.text == '{"BTC": {"signal": "hold"}}'
    assert (response.prompt_tokens, response.completion_tokens, response.attempts) == (1200, 300, 1)
    assert response.cost_usd == pytest.approx(1200 * 2.0e-6 + 300 * 10.0e-6)  # 0.0054
    body = stub.bodies[0]
    assert body["messages"] == [{"role": "system", "content": "You trade."},
                                {"role": "user", "content": "obs"}]
    assert body["max_tokens"] == 4096


def test_rate_limits_then_success_are_retried_with_backoff(stub):
    stub.script("obs", status(429), status(429), ok("{}"))
    with make_policy(stub, max_retries=3) as policy:
        response = policy.act("obs")
        waits = policy._sleep.waits
        totals = policy.totals()
        row = policy.ledger[0]
    assert response.error is None and response.text == "{}"
    assert response.attempts == 3
    assert stub.served["obs"] == 3
    assert waits == [0.5, 1.0]  # base 0.5 s, doubling, no jitter
    assert totals["retries"] == 2 and totals["attempts"] == 3 and totals["errors"] == 0
    assert row["retry_errors"] == "rate_limit,rate_limit"


def test_server_errors_exhaust_retries_and_record_the_cause(stub):
    stub.script("obs", status(500))
    with make_policy(stub, max_retries=2) as policy:
        response = policy.act("obs")
        totals = policy.totals()
    assert response.text == ""
    assert response.error_code == "server_error"
    assert response.attempts == 3 and stub.served["obs"] == 3
    assert totals["errors_by_type"] == {"server_error": 1}


def test_bad_request_fails_at_once(stub):
    stub.script("obs", status(400))
    with make_policy(stub, max_retries=3) as policy:
        response = policy.act("obs")
        waits = policy._sleep.waits
    assert response.error_code == "bad_request"
    assert response.attempts == 1 and stub.served["obs"] == 1
    assert waits == []


@pytest.mark.parametrize(("code", "error_code"), [(401, "authentication"), (403, "permission_denied"),
                                                  (404, "not_found")])
def test_rejected_key_or_unknown_model_stops_loudly_and_is_not_cached(stub, tmp_path, code, error_code):
    stub.script("obs", status(code))
    cache = tmp_path / "calls.jsonl"
    with make_policy(stub, max_retries=3, cache=cache, cache_mode="record") as policy:
        with pytest.raises(LLMConfigurationError, match=f"HTTP {code}"):
            policy.act("obs")
        assert policy.ledger[0]["error_code"] == error_code
        assert policy._sleep.waits == []
    assert stub.served["obs"] == 1
    assert not cache.exists() or cache.read_text() == ""


def test_slow_answer_times_out_and_each_attempt_counts(stub):
    stub.script("obs", ok("{}", delay_s=1.5))
    with make_policy(stub, timeout_s=0.3, max_retries=1) as policy:
        started = time.perf_counter()
        response = policy.act("obs")
        elapsed = time.perf_counter() - started
    assert response.error_code == "timeout"
    assert response.attempts == 2 and stub.served["obs"] == 2
    assert elapsed < 2.5  # two 0.3 s attempts; waiting for both 1.5 s answers would take 3 s


def test_timeout_then_fast_answer_recovers(stub):
    stub.script("obs", ok("late", delay_s=1.5), ok("{}"))
    with make_policy(stub, timeout_s=0.4, max_retries=2) as policy:
        response = policy.act("obs")
        row = policy.ledger[0]
    assert response.text == "{}" and response.attempts == 2
    assert row["retry_errors"] == "timeout"


def test_malformed_body_is_a_retried_server_error_not_a_crash(stub):
    stub.script("obs", MALFORMED)
    with make_policy(stub, max_retries=1) as policy:
        response = policy.act("obs")
    # litellm reports an unreadable body as an internal server error carrying the JSON error
    assert response.text == ""
    assert response.error_code == "server_error"
    assert "Expecting value" in response.error
    assert response.attempts == 2 and stub.served["obs"] == 2


def test_empty_answer_is_an_error_with_its_tokens_charged(stub):
    stub.script("obs", ok("", prompt_tokens=500, completion_tokens=4000))
    budget = Budget(max_tokens=10_000)
    with make_policy(stub, budget=budget) as policy:
        response = policy.act("obs")
    assert response.error_code == "empty_response"
    assert "finish_reason=stop" in response.error
    assert (response.prompt_tokens, response.completion_tokens) == (500, 4000)
    assert budget.spent_tokens == 4500


def test_connection_refused_is_retried(stub):
    # litellm reports a refused connection to an OpenAI-compatible base as an internal
    # server error whose message says "Connection error"; either way it is transient.
    closed_base = stub.api_base
    stub.close()
    policy = LLMPolicy(MODEL, profile=ModelProfile(name="stub", model=MODEL), system_prompt="s",
                       api_base=closed_base, api_key="k", max_retries=2, sleep=SleepRecorder(),
                       backoff=Backoff(base_s=0.1, jitter=0.0))
    with policy:
        response = policy.act("obs")
        waits = policy._sleep.waits
    assert response.error_code == "server_error"
    assert "Connection error" in response.error
    assert response.attempts == 3
    assert waits == [pytest.approx(0.1), pytest.approx(0.2)]
    stub.httpd = _Closed()  # the fixture's close() is now a no-op


class _Closed:
    def shutdown(self) -> None:
        pass

    def server_close(self) -> None:
        pass


def test_requests_run_concurrently_up_to_the_semaphore(stub):
    observations = [f"obs-{i}" for i in range(8)]
    for obs in observations:
        stub.script(obs, ok(obs, delay_s=0.4))
    with make_policy(stub, concurrency=4) as policy:
        started = time.perf_counter()
        responses = run_many(policy, observations)
        elapsed = time.perf_counter() - started
    assert [r.text for r in responses] == observations
    assert stub.max_in_flight == 4
    assert 0.75 < elapsed < 2.4  # two waves of 0.4 s; one at a time would take 3.2 s


def test_json_object_profile_sends_schema_for_grammar_servers(stub):
    stub.script("obs", ok("{}"))
    profile = ModelProfile(name="local", model=MODEL, structured_output="json_object",
                           json_object_schema=True, temperature=0.0)
    with make_policy(stub, profile=profile) as policy:
        policy.act("obs", {"coins": ["BTC", "ETH"]})
    response_format = stub.bodies[0]["response_format"]
    assert response_format["type"] == "json_object"
    assert response_format["schema"]["required"] == ["BTC", "ETH"]
    assert stub.bodies[0]["temperature"] == 0.0


def test_json_schema_profile_sends_strict_schema(stub):
    stub.script("obs", ok("{}"))
    profile = ModelProfile(name="strict", model=MODEL, structured_output="json_schema",
                           supports_temperature=False, temperature=0.7)
    with make_policy(stub, profile=profile) as policy:
        policy.act("obs", {"coins": ["SOL"]})
    body = stub.bodies[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert list(body["response_format"]["json_schema"]["schema"]["properties"]) == ["SOL"]
    assert "temperature" not in body  # the profile says the model rejects it


def test_record_over_http_then_replay_with_server_gone(stub, tmp_path):
    observations = ["a", "b", "c"]
    stub.script("a", ok('{"BTC": {"signal": "buy_to_enter"}}', 300, 40))
    stub.script("b", status(429), ok('{"ETH": {"signal": "hold"}}', 310, 50))
    stub.script("c", status(400))
    cache_path = tmp_path / "calls.jsonl"
    with make_policy(stub, cache=cache_path, cache_mode="record") as recorder:
        recorded = run_many(recorder, observations)
    stub.close()
    stub.httpd = _Closed()
    with make_policy(stub, cache=cache_path, cache_mode="replay") as replayer:
        replayed = run_many(replayer, observations)
    assert [r.text for r in replayed] == [r.text for r in recorded]
    assert [r.error for r in replayed] == [r.error for r in recorded]
    assert [r.attempts for r in replayed] == [1, 2, 1]
    assert [r.cost_usd for r in replayed] == [r.cost_usd for r in recorded]
    assert all(r.cached for r in replayed)
