"""GRPO fine-tuning of a chat model on the contest env with TRL's ``GRPOTrainer``.

Each training example is the contest prompt at a window of the train split; ``GRPOTrainer``
samples ``num_generations`` answers to it, and the reward function plays each answer as one
episode of :class:`~arena_gym.openenv.environment.ArenaEnvironment` (the OpenEnv environment
``arena-gym serve-env`` serves), which owns the reward (see
:mod:`arena_gym.llm_training.episodes`). TRL's ``environment_factory`` is not used: it drives
the env through tool calls, while the contest's action is the answer text itself.

GRPO settings: no KL term (``beta=0``, TRL's default: no reference model to hold or run),
sampling at temperature 1, one optimizer step per group of answers, no gradient checkpointing
(a 135M model fits). The trainer uses a GPU when torch sees one, else the CPU. Training runs in
bfloat16 only on a GPU that supports it; on the CPU it stays in float32 (``GRPOConfig`` turns
bfloat16 on by default, and a CPU without bfloat16 matrix units multiplies bfloat16 matrices
through a slow generic kernel: in one measurement a GRPO step took many times longer).

Before and after training the model answers the same validation windows greedily; the mean
episode return and the share of invalid answers are printed and saved. Output folder:

=========================  ==========================================================
``model/``                 the trained model (LoRA merged into the weights) and its
                           tokenizer, with ``arena_gym_llm.json``: a policy spec
                           ``llm-local:<out>/model``
``training.json``          settings, windows, rewards per step, validation before/after,
                           wall times
=========================  ==========================================================
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from .episodes import EpisodeProtocol, chat_messages, play_answer, split_windows
from .policy import TRAINING_FILE, generate_answer
from .weights import LOCAL_MODEL, load_model_and_tokenizer


def validate(model: Any, tokenizer: Any, protocol: EpisodeProtocol, starts: list[int], overrides: dict[str, Any],
             max_new_tokens: int) -> dict[str, Any]:
    """Greedy answers on the validation windows: mean return %, mean reward, invalid and
    fallback shares (% of answers), and each answer's outcome."""
    from arena_gym.openenv.environment import ArenaEnvironment

    env = ArenaEnvironment(protocol.preset, overrides)
    rows = []
    for start in starts:
        first = env.reset(start=start)
        answer = generate_answer(model, tokenizer, env.system_prompt, first.prompt, max_new_tokens,
                                 protocol.answer_prefix)
        outcome = play_answer(env, start, answer, protocol.invalid_penalty)
        rows.append({"start": start, "answer": answer, **outcome.__dict__})
    n = len(rows)
    return {"mean_return_pct": sum(r["return_pct"] for r in rows) / n,
            "mean_reward": sum(r["reward"] for r in rows) / n,
            "invalid_pct": 100.0 * sum(r["invalid"] for r in rows) / n,
            "with_fallback_pct": 100.0 * sum(r["fallbacks"] > 0 for r in rows) / n,
            "episodes": rows}


class EpisodeReward:
    """TRL reward function: plays each sampled answer (the protocol's answer prefix, then the
    completion TRL sampled after it) as an episode from its example's window."""

    def __init__(self, protocol: EpisodeProtocol, overrides: dict[str, Any]) -> None:
        from arena_gym.openenv.environment import ArenaEnvironment

        self.__name__ = "episode_reward"  # TRL logs a reward function under its name
        self.protocol = protocol
        self.env = ArenaEnvironment(protocol.preset, overrides)
        self.history: list[dict[str, Any]] = []

    def __call__(self, prompts: list, completions: list, start: list[int], **kwargs: Any) -> list[float]:
        rewards = []
        for completion, bar in zip(completions, start):
            text = completion[0]["content"] if isinstance(completion, list) else completion
            answer = self.protocol.answer_prefix + text
            outcome = play_answer(self.env, int(bar), answer, self.protocol.invalid_penalty)
            self.history.append({"start": int(bar), "answer": answer, **outcome.__dict__})
            rewards.append(outcome.reward)
        return rewards


def train_grpo(out_dir: str | Path, *, model: str = LOCAL_MODEL, protocol: EpisodeProtocol = EpisodeProtocol(),
               steps: int = 2, num_generations: int = 2, max_completion_length: int = 64,
               learning_rate: float = 5e-5, lora: bool = True, lora_rank: int = 8, train_windows: int = 16,
               validation_windows: int = 2, seed: int = 0, log: Callable[[str], None] | None = print
               ) -> dict[str, Any]:
    """Fine-tune ``model`` with GRPO for ``steps`` optimizer steps and save it under ``out_dir``.

    Args:
        out_dir: output folder (see the module docstring).
        model: ``local-smollm2`` or a transformers folder / hub name (see :mod:`.weights`).
        protocol: env preset, fields and invalid-answer penalty.
        steps: GRPO optimizer steps; each samples ``num_generations`` answers for one window.
        num_generations: answers sampled per window (GRPO's group; at least 2).
        max_completion_length: tokens per sampled answer (also the validation answers').
        learning_rate: AdamW learning rate.
        lora: train LoRA adapters (peft) on the attention projections, merged at the end;
            ``False`` trains every weight.
        lora_rank: the adapters' rank.
        train_windows: windows of the train split the examples cycle through.
        validation_windows: windows of the validation split answered before and after.
        seed: seed of the window draws, the sampling and the trainer.

    Returns:
        the summary written to ``training.json``.
    """
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from arena_gym.openenv.environment import ArenaEnvironment

    if steps < 1 or num_generations < 2 or max_completion_length < 1:
        raise ValueError(f"need steps >= 1, num_generations >= 2 and max_completion_length >= 1; got {steps}, "
                         f"{num_generations}, {max_completion_length}")
    say = log or (lambda line: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    train_starts, train_overrides = split_windows(protocol, "train", train_windows, seed)
    val_starts, val_overrides = split_windows(protocol, "validation", validation_windows, seed)

    started = time.perf_counter()
    network, tokenizer = load_model_and_tokenizer(model)
    load_s = time.perf_counter() - started
    say(f"loaded {model} ({sum(p.numel() for p in network.parameters()) / 1e6:.0f}M parameters) in {load_s:.0f} s")

    t0 = time.perf_counter()
    before = validate(network, tokenizer, protocol, val_starts, val_overrides, max_completion_length)
    before_s = time.perf_counter() - t0
    say(f"validation before: mean return {before['mean_return_pct']:+.3f} %, invalid answers "
        f"{before['invalid_pct']:.0f} %, answers with a fallback {before['with_fallback_pct']:.0f} % "
        f"({len(val_starts)} windows, {before_s:.0f} s)")

    env = ArenaEnvironment(protocol.preset, train_overrides)
    examples = []
    for bar in train_starts:
        first = env.reset(start=bar)
        examples.append({"prompt": chat_messages(env.system_prompt, first.prompt, protocol.answer_prefix),
                         "start": bar})
    reward = EpisodeReward(protocol, train_overrides)
    peft_config = None
    if lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, lora_dropout=0.0, task_type="CAUSAL_LM",
                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    config = GRPOConfig(output_dir=str(out / "trainer"), max_steps=steps, per_device_train_batch_size=num_generations,
                        num_generations=num_generations, max_completion_length=max_completion_length,
                        learning_rate=learning_rate, beta=0.0, temperature=1.0, gradient_checkpointing=False,
                        logging_steps=1, report_to="none", save_strategy="no", use_cpu=not torch.cuda.is_available(),
                        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(), fp16=False,
                        seed=seed, data_seed=seed, dataloader_num_workers=0, disable_tqdm=True)
    trainer = GRPOTrainer(model=network, reward_funcs=reward, args=config, train_dataset=Dataset.from_list(examples),
                          processing_class=tokenizer, peft_config=peft_config)
    t0 = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - t0
    logged = [{k: v for k, v in row.items() if isinstance(v, (int, float))} for row in trainer.state.log_history]
    say(f"trained {steps} GRPO steps x {num_generations} answers in {train_s:.0f} s; reward per step: "
        + ", ".join(f"{row['reward']:+.3f}" for row in logged if "reward" in row))

    trained = trainer.model.merge_and_unload() if lora else trainer.model
    trained.eval()
    t0 = time.perf_counter()
    after = validate(trained, tokenizer, protocol, val_starts, val_overrides, max_completion_length)
    after_s = time.perf_counter() - t0
    say(f"validation after:  mean return {after['mean_return_pct']:+.3f} %, invalid answers "
        f"{after['invalid_pct']:.0f} %, answers with a fallback {after['with_fallback_pct']:.0f} %")

    summary = {
        "model": model, "protocol": protocol.as_dict(), "steps": steps, "num_generations": num_generations,
        "max_completion_length": max_completion_length, "learning_rate": learning_rate, "lora": lora,
        "lora_rank": lora_rank if lora else None, "seed": seed, "train_windows": train_starts,
        "train_split": train_overrides["split"], "validation_windows": val_starts,
        "validation_split": val_overrides["split"], "log_history": logged, "train_answers": reward.history,
        "validation_before": before, "validation_after": after,
        "seconds": {"load": round(load_s, 1), "validation_before": round(before_s, 1), "train": round(train_s, 1),
                    "validation_after": round(after_s, 1), "total": round(time.perf_counter() - started, 1)},
        "versions": _versions(),
    }
    model_dir = out / "model"
    trained.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    (model_dir / TRAINING_FILE).write_text(json.dumps(
        {k: summary[k] for k in ("model", "protocol", "steps", "num_generations", "max_completion_length", "lora",
                                 "seed", "train_split")}, indent=2))
    (out / "training.json").write_text(json.dumps(summary, indent=2, default=float))
    say(f"saved {model_dir} (policy spec llm-local:{model_dir}) and {out / 'training.json'}")
    return summary


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers
    import trl

    return {"trl": trl.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "torch": torch.__version__}
