"""LLM policies through the environment: one step loop for text and numbers, record/replay, failures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from arena_gym.env import PerpTradingEnv
from arena_gym.agents.budget import Budget
from arena_gym.agents.llm_policy import LLMPolicy, import_litellm
from arena_gym.agents.profiles import ModelProfile, Price
from arena_gym.agents.response import LLMResponse
from arena_gym.market import synthetic_market

ENTRY = {"BTC": {"coin": "BTC", "signal": "buy_to_enter", "quantity": 0.02, "leverage": 10,
                 "profit_target": 500_000.0, "stop_loss": 1_000.0, "invalidation_condition": "4h close below 1k",
                 "confidence": 0.6, "risk_usd": 100.0, "justification": "trend"}}


@pytest.fixture(scope="module")
def market():
    return synthetic_market(n_bars=1_200, seed=5)


def mock_profile(answer: str) -> ModelProfile:
    return ModelProfile(name="mock-entry", model="openai/mock", structured_output="prompt", temperature=0.0,
                        max_tokens=256, timeout_s=10.0, price=Price(input_usd_per_mtok=1.0, output_usd_per_mtok=2.0),
                        params={"mock_response": answer})


def llm_env(market, **kw):
    return PerpTradingEnv(market, action_mode="decision", observation_mode="text", house_rules=True,
                          episode_length=6, start=400, **kw)


def run_llm(env, policy):
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
        done = terminated or truncated
    return env


def test_recorded_run_replays_offline_to_identical_ledger_and_equity(market, tmp_path, monkeypatch):
    cache = tmp_path / "calls.jsonl"
    env = llm_env(market)
    with LLMPolicy("openai/mock", profile=mock_profile(json.dumps(ENTRY)), system_prompt=env.system_prompt,
                   cache=cache, cache_mode="record") as policy:
        recorded = run_llm(env, policy)
        recorded_calls = policy.totals()
    ledger, equity = recorded.ledger_frame(), recorded.records_frame()["equity"].tolist()
    assert (ledger["kind"] == "order").sum() == 1            # one entry; later buys are refused by the house rules
    assert recorded.records[1]["decision_fallbacks"] == 1 and recorded_calls["calls"] == 6

    litellm = import_litellm()

    async def network_disabled(*args, **kwargs):
        raise AssertionError("replay must not call the model")

    monkeypatch.setattr(litellm, "acompletion", network_disabled)
    env2 = llm_env(market)
    with LLMPolicy("openai/mock", profile=mock_profile(json.dumps(ENTRY)), system_prompt=env2.system_prompt,
                   cache=cache, cache_mode="replay") as policy:
        replayed = run_llm(env2, policy)
        assert policy.totals()["cached_calls"] == 6
    assert replayed.ledger_frame().equals(ledger)
    assert replayed.records_frame()["equity"].tolist() == equity


def test_llm_and_numeric_episodes_produce_records_of_the_same_shape(market):
    text_env = llm_env(market)
    with LLMPolicy("openai/mock", profile=mock_profile(json.dumps(ENTRY)), system_prompt=text_env.system_prompt) as p:
        run_llm(text_env, p)
    numeric_env = PerpTradingEnv(market, episode_length=6, start=400)
    numeric_env.reset(seed=0)
    for _ in range(6):
        numeric_env.step(np.full(6, 0.1, np.float32))
    assert [list(r) for r in text_env.records] == [list(r) for r in numeric_env.records]
    assert text_env.records_frame().dtypes.index.tolist() == numeric_env.records_frame().dtypes.index.tolist()
    position = text_env.positions()[0]
    assert (position.symbol, position.size, position.leverage) == ("BTC", 0.02, 10.0)
    assert (position.stop_loss, position.take_profit) == (1_000.0, 500_000.0)


@pytest.mark.parametrize("failure", ["timeout: Timeout: the call took 10.0 s", "rate_limit: RateLimitError: 429",
                                     "budget_exhausted: token budget spent"])
def test_provider_failures_hold_and_are_recorded(market, failure):
    env = llm_env(market)
    env.reset(seed=0)
    env.step(json.dumps(ENTRY))
    _, _, _, _, info = env.step(LLMResponse(text="", error=failure, model="x"))
    assert info["invalid_output"] and info["decision_fallbacks"] == 1 and info["fills"] == 0
    record = env.records[-1]
    assert record["error"] == failure
    assert record["decision"]["fallbacks"][0]["reason"] == "provider_error"
    assert env.positions()[0].size == 0.02                      # the open position is kept


def test_budget_exhaustion_degrades_to_hold_and_keeps_the_episode_going(market):
    env = llm_env(market)
    budget = Budget(max_usd=1e-9)
    with LLMPolicy("openai/mock", profile=mock_profile(json.dumps(ENTRY)), system_prompt=env.system_prompt,
                   budget=budget) as policy:
        run_llm(env, policy)
    errors = [r["error"] for r in env.records]
    assert errors[0] is None and all(e and e.startswith("budget_exhausted") for e in errors[1:])
    assert len(env.records) == 6 and env.ledger_frame()["kind"].eq("order").sum() == 1
