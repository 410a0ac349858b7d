"""A fine-tuned checkpoint as a contestant: spec ``llm-local:<folder>``.

The folder is one written by ``arena-gym train-llm`` (``model/``) or any transformers causal
LM with a chat template. :class:`CheckpointPolicy` runs it in this process (on the CPU) with
greedy decoding: it reads the env's system prompt and each contest prompt and returns the
answer text, which ``env.step`` parses like any LLM's. ``max_new_tokens`` comes from the
``arena_gym_llm.json`` saved beside a trained model (the completion length it was trained
with), else :data:`DEFAULT_MAX_NEW_TOKENS`; so does the answer prefix it was trained with (see
:mod:`arena_gym.llm_training.episodes`), which starts every answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .episodes import chat_messages

#: Tokens generated per answer when the checkpoint does not say.
DEFAULT_MAX_NEW_TOKENS = 256
#: The file written beside a trained model.
TRAINING_FILE = "arena_gym_llm.json"


def generate_answer(model: Any, tokenizer: Any, system_prompt: str, prompt: str, max_new_tokens: int,
                    answer_prefix: str = "") -> str:
    """The model's greedy answer to the contest prompt: ``answer_prefix`` (given to the model as
    the start of its turn) followed by the new tokens, decoded."""
    import torch

    prefilled = bool(answer_prefix)
    inputs = tokenizer.apply_chat_template(chat_messages(system_prompt, prompt, answer_prefix),
                                           add_generation_prompt=not prefilled, continue_final_message=prefilled,
                                           return_tensors="pt", return_dict=True).to(model.device)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=tokenizer.pad_token_id)
    return answer_prefix + tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


class CheckpointPolicy:
    """A transformers checkpoint playing contest decisions (see the module docstring)."""

    env_overrides = {"action_mode": "decision", "observation_mode": "text"}

    def __init__(self, folder: str | Path, name: str | None = None, max_new_tokens: int | None = None) -> None:
        from .weights import load_model_and_tokenizer

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"llm-local: no model folder {self.folder}")
        meta_path = self.folder / TRAINING_FILE
        self.training = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        self.max_new_tokens = int(max_new_tokens or self.training.get("max_completion_length", DEFAULT_MAX_NEW_TOKENS))
        self.answer_prefix = str(self.training.get("protocol", {}).get("answer_prefix", ""))
        self.model, self.tokenizer = load_model_and_tokenizer(str(self.folder))
        self.model.eval()
        self.name = name or f"llm-local:{self.folder.name}"
        self.system_prompt: str | None = None

    def bind(self, env: Any) -> None:
        """Read the episode env's system prompt (it names the env's coins and rules)."""
        self.system_prompt = env.system_prompt

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: decoding is greedy."""

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if self.system_prompt is None:
            raise RuntimeError("CheckpointPolicy.act before bind(env): the system prompt is unknown")
        return generate_answer(self.model, self.tokenizer, self.system_prompt, observation, self.max_new_tokens,
                               self.answer_prefix)
