"""The JSONL record/replay cache: keys, durability, and tolerance of damaged files."""

from __future__ import annotations

import hashlib
import json

import pytest

from arena_gym.agents.response_cache import ResponseCache, canonical_json, request_key
from arena_gym.agents.response import LLMResponse

REQUEST = {"model": "openai/gpt-5", "messages": [{"role": "user", "content": "BTC 104,000 é"}],
           "params": {"max_tokens": 100, "temperature": 0.0}}


def response(text: str, **fields) -> LLMResponse:
    values = {"model": "openai/gpt-5", "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.0001,
              "latency_s": 1.5, "attempts": 1, **fields}
    return LLMResponse(text=text, **values)


def test_canonical_json_is_sorted_and_compact():
    assert canonical_json({"b": [1, 2], "a": {"d": 1, "c": "é"}}) == '{"a":{"c":"é","d":1},"b":[1,2]}'


def test_request_key_is_sha256_of_canonical_json():
    expected = hashlib.sha256('{"a":1,"b":[1,2]}'.encode()).hexdigest()
    assert request_key({"b": [1, 2], "a": 1}) == expected


def test_request_key_ignores_dict_order_but_not_content():
    reordered = {"params": {"temperature": 0.0, "max_tokens": 100}, "messages": REQUEST["messages"],
                 "model": "openai/gpt-5"}
    assert request_key(reordered) == request_key(REQUEST)
    changed = json.loads(json.dumps(REQUEST))
    changed["messages"][0]["content"] = "BTC 104,001 é"
    assert request_key(changed) != request_key(REQUEST)
    changed = json.loads(json.dumps(REQUEST))
    changed["params"]["max_tokens"] = 101
    assert request_key(changed) != request_key(REQUEST)


def test_put_appends_one_line_per_call_and_reloads(tmp_path):
    path = tmp_path / "sub" / "cache.jsonl"
    cache = ResponseCache(path)
    cache.put("k1", response("one", reasoning="why"))
    assert len(path.read_text().splitlines()) == 1  # on disk before the next call
    cache.put("k2", response("", error="timeout: no answer within 30 s", attempts=4))
    assert len(path.read_text().splitlines()) == 2
    cache.close()
    reloaded = ResponseCache(path)
    assert len(reloaded) == 2 and "k1" in reloaded and "k3" not in reloaded
    assert reloaded.get("k1") == response("one", reasoning="why")
    assert reloaded.get("k2").error_code == "timeout" and reloaded.get("k2").attempts == 4
    assert reloaded.get("k3") is None
    line = json.loads(path.read_text().splitlines()[0])
    assert line["key"] == "k1" and line["model"] == "openai/gpt-5" and line["response"]["text"] == "one"


def test_last_record_of_a_key_wins(tmp_path):
    path = tmp_path / "cache.jsonl"
    with ResponseCache(path) as cache:
        cache.put("k", response("", error="rate_limit: 429"))
        cache.put("k", response("second"))
    assert ResponseCache(path).get("k").text == "second"


def test_truncated_last_line_is_skipped_counted_and_not_merged(tmp_path):
    path = tmp_path / "cache.jsonl"
    with ResponseCache(path) as cache:
        cache.put("k1", response("one"))
        cache.put("k2", response("two"))
    with path.open("a", encoding="utf-8") as fh:  # a crash in the middle of a write
        fh.write('{"key": "k3", "model": "openai/gpt-5", "response": {"text": "thr')
    with pytest.warns(RuntimeWarning, match=r"cache.jsonl:3: skipped unreadable cache line"):
        cache = ResponseCache(path)
    assert cache.skipped_lines == 1 and len(cache) == 2
    cache.put("k4", response("four"))
    cache.close()
    with pytest.warns(RuntimeWarning):
        reloaded = ResponseCache(path)
    assert reloaded.skipped_lines == 1
    assert [reloaded.get(k).text for k in ("k1", "k2", "k4")] == ["one", "two", "four"]


def test_lines_of_the_wrong_shape_are_skipped(tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text('{"no_key": 1}\n[1, 2]\n\n' + canonical_json(
        {"key": "k", "model": "m", "response": response("ok").to_record()}) + "\n")
    with pytest.warns(RuntimeWarning):
        cache = ResponseCache(path)
    assert cache.skipped_lines == 2 and cache.get("k").text == "ok"


def test_missing_file_is_an_empty_cache(tmp_path):
    cache = ResponseCache(tmp_path / "none.jsonl")
    assert len(cache) == 0 and cache.skipped_lines == 0
    assert not (tmp_path / "none.jsonl").exists()
