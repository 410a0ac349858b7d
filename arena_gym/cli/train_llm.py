"""``arena-gym train-llm``: fine-tune a chat model on the contest env with GRPO (TRL).

Needs the ``train-llm`` extra. See :mod:`arena_gym.llm_training.grpo` for what is trained and
saved, and :mod:`arena_gym.llm_training.episodes` for the episodes and the reward.
"""

from __future__ import annotations

import argparse
import importlib.util


def register(sub: argparse._SubParsersAction) -> None:
    from .evaluation_options import add_env_options

    p = sub.add_parser("train-llm", help="fine-tune a chat model on the contest env with GRPO (train-llm extra)",
                       description="GRPO (TRL) on windows of the train split: each sampled answer plays one short "
                                   "episode and earns its return in %% minus a penalty per parser fallback. Prints "
                                   "the validation return and invalid-answer rate before and after, and saves the "
                                   "model as a policy (llm-local:<out>/model).")
    p.add_argument("--model", default="local-smollm2",
                   help="local-smollm2 (the local-llm extra's GGUF, default), a transformers folder, or a model "
                        "hub name when a hub is reachable (e.g. HuggingFaceTB/SmolLM2-360M-Instruct)")
    add_env_options(p, default_env="alpha-arena-s1", env_note=" in decision/text mode",
                    set_note='; default assets=["BTC"], episode_length=4')
    p.add_argument("--steps", type=int, default=2, help="GRPO optimizer steps (default 2)")
    p.add_argument("--generations", type=int, default=2, help="answers sampled per window (default 2)")
    p.add_argument("--max-completion-tokens", type=int, default=64, help="tokens per answer (default 64)")
    p.add_argument("--learning-rate", type=float, default=5e-5, help="AdamW learning rate (default 5e-5)")
    p.add_argument("--no-lora", action="store_true", help="train every weight instead of LoRA adapters")
    p.add_argument("--lora-rank", type=int, default=8, help="LoRA rank (default 8)")
    p.add_argument("--invalid-penalty", type=float, default=1.0,
                   help="percentage points taken from the return per parser fallback (default 1)")
    p.add_argument("--answer-prefix", default="", metavar="TEXT",
                   help='text every answer starts with, given to the model as the start of its turn and parsed '
                        'with the rest, e.g. \'{"BTC": {"signal": "\' (default: none)')
    p.add_argument("--train-windows", type=int, default=16, help="train-split windows to cycle through (default 16)")
    p.add_argument("--validation-windows", type=int, default=2, help="validation windows answered before and after "
                                                                     "(default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", default="runs/train-llm", help="output folder (default runs/train-llm)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    missing = [m for m in ("trl", "peft", "transformers", "gguf", "openenv", "datasets")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"train-llm needs {', '.join(missing)}: pip install -e '.[train-llm]' in the arena-gym "
                         f"checkout")
    from ..llm_training.episodes import DEFAULT_OVERRIDES, EpisodeProtocol
    from ..llm_training.grpo import train_grpo
    from .evaluation_options import parse_fields

    protocol = EpisodeProtocol(preset=args.env, overrides={**DEFAULT_OVERRIDES, **parse_fields(args.set)},
                               invalid_penalty=args.invalid_penalty, answer_prefix=args.answer_prefix)
    train_grpo(args.out, model=args.model, protocol=protocol, steps=args.steps, num_generations=args.generations,
               max_completion_length=args.max_completion_tokens, learning_rate=args.learning_rate,
               lora=not args.no_lora, lora_rank=args.lora_rank, train_windows=args.train_windows,
               validation_windows=args.validation_windows, seed=args.seed)
    return 0
