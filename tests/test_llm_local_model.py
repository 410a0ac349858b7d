"""A real model end to end: SmolLM2-135M-Instruct served by llama.cpp on 127.0.0.1.

Opt-in (marker ``realmodel``); skipped unless the ``local-llm`` extra is installed. The model
is far too small to trade; these tests check that a real server, real tokenisation and
grammar-constrained JSON flow through LLMPolicy, its ledger and its cache.
"""

from __future__ import annotations

import json

import pytest

from arena_gym.agents.local_server import LocalModelServer, local_model_path, local_model_unavailable_reason
from arena_gym.agents.llm_policy import LLMPolicy, run_many
from arena_gym.protocol.schema import DECISION_SIGNALS

pytestmark = [
    pytest.mark.realmodel,
    pytest.mark.skipif(local_model_unavailable_reason() is not None,
                       reason=f"real local model unavailable: {local_model_unavailable_reason()}"),
]

COINS = ["BTC", "ETH"]
SYSTEM_PROMPT = (
    "You are a crypto futures trader. Answer with one JSON object keyed by coin symbol. "
    "For each coin give: signal (buy_to_enter, sell_to_enter, hold or close_position), coin, "
    "quantity, leverage, profit_target, stop_loss, invalidation_condition, confidence (0 to 1), "
    "risk_usd and justification."
)
OBSERVATION = (
    "Account value: 10000 USD, no open positions.\n"
    "BTC: price 104250.5, EMA20 103980.1, RSI14 61.2, funding 0.0000125 per hour.\n"
    "ETH: price 3890.25, EMA20 3921.7, RSI14 44.8, funding 0.0000125 per hour.\n"
    "Decide for BTC and ETH."
)


@pytest.fixture(scope="module")
def server():
    with LocalModelServer() as running:
        yield running


def local_policy(server: LocalModelServer, **kwargs) -> LLMPolicy:
    return LLMPolicy.from_profile("local-smollm2", system_prompt=SYSTEM_PROMPT, **server.policy_kwargs(),
                                  **kwargs)


def test_model_file_is_found():
    path = local_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_real_model_answers_schema_shaped_json(server):
    with local_policy(server) as policy:
        response = policy.act(OBSERVATION, {"coins": COINS, "step": 0})
        totals = policy.totals()
    print(f"\nresponse: {response}\ntotals: {totals}")
    assert response.ok, response.error
    decision = json.loads(response.text)  # the grammar makes this always parse
    assert sorted(decision) == COINS
    for coin, entry in decision.items():
        assert entry["coin"] == coin
        assert entry["signal"] in DECISION_SIGNALS
        assert isinstance(entry["leverage"], int)
    assert response.prompt_tokens > 100 and response.completion_tokens > 20
    assert response.cost_usd == 0.0 and response.attempts == 1


def test_greedy_decoding_repeats_and_replays_offline(server, tmp_path):
    cache_path = tmp_path / "local.jsonl"
    observations = [OBSERVATION, OBSERVATION.replace("104250.5", "99100.0")]
    infos = [{"coins": COINS, "step": 0}, {"coins": COINS, "step": 1}]
    with local_policy(server, cache=cache_path, cache_mode="record", concurrency=2) as recorder:
        recorded = run_many(recorder, observations, infos)
    with local_policy(server, cache_mode="off") as again:
        repeated = again.act(observations[0], infos[0])
    with LLMPolicy.from_profile("local-smollm2", system_prompt=SYSTEM_PROMPT,
                                api_base="http://127.0.0.1:9/v1", api_key="local",
                                cache=cache_path, cache_mode="replay") as replayer:
        replayed = run_many(replayer, observations, infos)
    print(f"\nrecorded: {[r.text for r in recorded]}\nlatencies: {[round(r.latency_s, 2) for r in recorded]}")
    assert all(r.ok for r in recorded)
    assert repeated.text == recorded[0].text
    assert [r.text for r in replayed] == [r.text for r in recorded]
    assert all(r.cached for r in replayed)


def test_prompt_beyond_the_context_window_is_a_recorded_error(server):
    huge = OBSERVATION + "\n" + " ".join(["BTC 104250.5"] * 6000)  # well over 8,192 tokens
    with local_policy(server, max_retries=0) as policy:
        response = policy.act(huge, {"coins": COINS})
    print(f"\noversized prompt: {response.error}")
    assert response.text == "" and response.error is not None
    assert response.error_code == "context_window" and response.attempts == 1
