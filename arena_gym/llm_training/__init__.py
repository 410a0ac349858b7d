"""Fine-tuning a chat model on the contest env with GRPO (TRL), and playing the result.

Needs the ``train-llm`` extra. Modules:

* :mod:`.weights`: the model and tokenizer to train: the local-llm extra's SmolLM2-135M-Instruct
  GGUF file read by transformers, or any transformers checkpoint (a folder or a hub name).
* :mod:`.episodes`: the training protocol: windows of the train split, one answer per episode,
  the env's reward (episode return minus a penalty per parser fallback).
* :mod:`.grpo`: :func:`train_grpo` (``arena-gym train-llm``).
* :mod:`.policy`: :class:`CheckpointPolicy`, a saved checkpoint as a contestant
  (spec ``llm-local:<folder>``).
"""
