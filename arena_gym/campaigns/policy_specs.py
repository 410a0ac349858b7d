"""Policies named on the command line: the spec strings every campaign and command accepts.

A spec names a baseline (``random``), a trained PPO model (``ppo:model.zip``), an LLM preset or
model string (``llm:gpt-5``), a fine-tuned checkpoint run in this process
(``llm-local:runs/train-llm/model``) or a recorded contest trader
(``recorded:trades.csv#model``), optionally labelled (``fast=ppo:model.zip``). See
:data:`SPEC_FORMS`. :func:`check_spec` checks a spec without building anything;
:func:`policy_from_spec` builds it.

It sits above the agents and the LLM fine-tuning (which provides the ``llm-local`` checkpoint
policy), so the agents never import what is built on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arena_gym.agents.baselines import BASELINES, make_baseline
from arena_gym.agents.policies import LLMTrader, SB3Policy, check_model_file
from arena_gym.preset_files import policies_dir, read_toml

#: The forms of a policy spec on the command line.
SPEC_FORMS = ("<baseline name>", "ppo:<model.zip>", "llm:<preset under policies/llm or provider/model>",
              "llm-local:<transformers model folder, e.g. one arena-gym train-llm saved>",
              "recorded:<trade log>#<model_id>", "<label>=<any of these>")


def check_spec(spec: str, **llm_kwargs: Any) -> None:
    """Raise at once, with the error :func:`policy_from_spec` would raise, when ``spec`` cannot be
    built, without building it (no model loaded, no server started, no call made): an unknown
    baseline or form, a missing model file, checkpoint folder or trade log, an unknown LLM preset,
    a hosted LLM whose provider key is not set, or the local model without its extra. For checking
    every option before long work (training) starts. ``llm_kwargs`` are those the LLM would be
    built with (an ``api_base`` serves the local model without starting its server)."""
    body = spec.split("=", 1)[1] if "=" in spec else spec
    kind, _, rest = body.partition(":")
    if kind in BASELINES and not rest:
        return
    if kind == "ppo" and rest:
        check_model_file(rest)
        return
    if kind == "llm" and rest:
        LLMTrader.checked_profile(rest, **llm_kwargs)
        return
    if kind == "llm-local" and rest:
        if not Path(rest).is_dir():
            raise FileNotFoundError(f"llm-local: no model folder {rest}")
        return
    if kind == "recorded" and rest:
        path, _, model = rest.rpartition("#")
        if not path or not model:
            raise ValueError(f"recorded policy {body!r}: expected recorded:<trade log>#<model_id>")
        if not Path(path).is_file():
            raise FileNotFoundError(f"recorded policy {body!r}: no trade log {path}")
        return
    raise ValueError(f"unknown policy {body!r}; baselines: {', '.join(BASELINES)}; other forms: {', '.join(SPEC_FORMS[1:])}")


def baseline_params() -> dict[str, dict[str, Any]]:
    """Baseline parameters from ``policies/baselines.toml`` (empty when the file is absent)."""
    path = policies_dir() / "baselines.toml"
    if not path.is_file():
        return {}
    return read_toml(path)


def policy_from_spec(spec: str, **llm_kwargs: Any) -> Any:
    """Build a policy from a spec string (see :data:`SPEC_FORMS`).

    ``hold_cash``, ``random``, ... name a baseline (parameters from ``policies/baselines.toml``);
    ``ppo:runs/demo/ppo/best_model.zip`` loads a trained model; ``llm:gpt-5`` an LLM preset
    (``llm_kwargs`` go to ``LLMPolicy``); ``llm-local:runs/train-llm/model`` a transformers checkpoint
    run in this process (the train-llm extra); ``fast=ppo:path.zip`` labels the policy ``fast``.
    """

    label = None
    if "=" in spec:
        label, spec = spec.split("=", 1)
    kind, _, rest = spec.partition(":")
    if kind in BASELINES and not rest:
        policy = make_baseline(kind, **baseline_params().get(kind, {}))
        if label:
            policy.name = label
        return policy
    if kind == "ppo" and rest:
        return SB3Policy.load(rest, name=label or "ppo")
    if kind == "llm" and rest:
        return LLMTrader.from_preset(rest, name=label, **llm_kwargs)
    if kind == "llm-local" and rest:
        from arena_gym.llm_training.policy import CheckpointPolicy

        return CheckpointPolicy(rest, name=label)
    if kind == "recorded" and rest:
        from arena_gym.agents.recorded import recorded_policies

        path, _, model = rest.rpartition("#")
        if not path or not model:
            raise ValueError(f"recorded policy {spec!r}: expected recorded:<trade log>#<model_id>")
        policy, = recorded_policies(path, models=[model])
        if label:
            policy.name = label
        return policy
    raise ValueError(f"unknown policy {spec!r}; baselines: {', '.join(BASELINES)}; other forms: {', '.join(SPEC_FORMS[1:])}")
