"""A transformers checkpoint plays in `arena-gym eval` as `llm-local:<folder>` (a tiny randomly
initialised model built here: the plumbing, not skill)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers", reason="needs the train-llm extra (transformers)")
pytest.importorskip("openenv", reason="needs the train-llm extra (openenv-core)")

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-layer Llama with a byte-level BPE tokenizer trained on a few decisions, saved as a folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = ['{"BTC": {"signal": "buy_to_enter", "quantity": 0.01, "leverage": 5}}', '{"BTC": {"signal": "hold"}}',
              "current_price = 100.0, RSI, MACD, EMA, account value, positions"] * 20
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|im_start|>", "<|im_end|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    import torch

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                         max_position_embeddings=16384, bos_token_id=tokenizer.bos_token_id,
                                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    folder = tmp_path_factory.mktemp("tiny-llm")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "arena_gym_llm.json").write_text(json.dumps({"max_completion_length": 12}))
    return folder


def test_checkpoint_answers_like_any_llm_contestant(tiny_model):
    from arena_gym.campaigns.policy_specs import policy_from_spec
    from arena_gym.openenv.environment import ArenaEnvironment

    policy = policy_from_spec(f"tiny=llm-local:{tiny_model}")
    assert policy.name == "tiny" and policy.max_new_tokens == 12
    env = ArenaEnvironment(overrides={"assets": ["BTC"], "episode_length": 2})
    first = env.reset(seed=0)
    policy.bind(env.env)
    answer = policy.act(first.prompt, {})
    assert isinstance(answer, str) and answer == policy.act(first.prompt, {})  # greedy: repeatable


def test_checkpoint_starts_answers_with_its_training_prefix(tiny_model, tmp_path):
    import shutil

    from arena_gym.campaigns.policy_specs import policy_from_spec
    from arena_gym.openenv.environment import ArenaEnvironment

    prefix = '{"BTC": {"signal": "'
    folder = tmp_path / "prefixed"
    shutil.copytree(tiny_model, folder)
    (folder / "arena_gym_llm.json").write_text(json.dumps({"max_completion_length": 6,
                                                            "protocol": {"answer_prefix": prefix}}))
    plain, prefixed = policy_from_spec(f"llm-local:{tiny_model}"), policy_from_spec(f"llm-local:{folder}")
    env = ArenaEnvironment(overrides={"assets": ["BTC"], "episode_length": 2})
    first = env.reset(seed=0)
    prefixed.bind(env.env)
    answer = prefixed.act(first.prompt, {})
    assert prefixed.answer_prefix == prefix and answer.startswith(prefix) and len(answer) > len(prefix)
    assert plain.answer_prefix == ""


@pytest.mark.slow  # a full eval run with its report: minutes on a busy two-core machine
def test_checkpoint_plays_in_eval_table(tiny_model, tmp_path):
    from arena_gym.cli import main

    out = tmp_path / "eval"
    code = main(["eval", "--env", "alpha-arena-s1", "--policy", f"tiny=llm-local:{tiny_model}", "--policy", "hold_cash",
                 "--set", 'assets=["BTC"]', "--set", "episode_length=2", "--windows", "2", "--seeds", "0",
                 "--no-progress", "--out", str(out)])
    assert code == 0
    episodes = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    played = {e["policy"] for e in episodes if not e.get("error")}
    assert played == {"tiny", "hold_cash"}, episodes


def test_missing_folder_is_a_clear_error(tmp_path):
    from arena_gym.cli import main

    code = main(["eval", "--env", "alpha-arena-s1", "--policy", f"llm-local:{tmp_path / 'nothing'}",
                 "--windows", "1", "--seeds", "0", "--no-progress", "--out", str(tmp_path / "e")])
    assert code == 2
