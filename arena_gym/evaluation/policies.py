"""The policy protocol of the evaluation harness, and adapters for SB3 models, plain callables
and LLMs.

A policy is anything with

* ``name`` (str): the label in tables and plots;
* ``reset(seed)``: called before every episode with that episode's seed;
* ``act(observation, info) -> action``: one decision from the env's observation and its flat
  ``info`` dict (``info["bar"]`` is the last closed bar of ``env.market``).

Optional members, used by the runner when present:

* ``env_overrides`` (dict): :class:`~arena_gym.env.EnvConfig` fields the policy needs, e.g.
  ``{"action_mode": "decision", "observation_mode": "text"}`` for an LLM;
* ``bind(env)``: called with each episode's fresh env before ``reset``, for policies that read
  market arrays (baselines read ``env.market`` at bars ``<= info["bar"]`` only);
* ``aact(observation, info)``: a coroutine twin of ``act``; the runner then plays the
  policy's episodes concurrently across windows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from arena_gym.preset_files import policies_dir, read_toml


@runtime_checkable
class Policy(Protocol):
    """What the evaluation runner needs from a policy (see the module docstring)."""

    name: str

    def reset(self, seed: int | None = None) -> None: ...

    def act(self, observation: Any, info: dict[str, Any]) -> Any: ...


class CallablePolicy:
    """A policy from a plain function ``fn(observation, info) -> action``.

    Args:
        fn: the decision function (stateless, or seeded by ``on_reset``).
        name: label in tables.
        env_overrides: EnvConfig fields the function needs (e.g. its action mode).
        on_reset: called with the episode seed before each episode.
    """

    def __init__(self, fn: Callable[[Any, dict[str, Any]], Any], name: str | None = None,
                 env_overrides: dict[str, Any] | None = None,
                 on_reset: Callable[[int | None], None] | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "callable")
        self.env_overrides = dict(env_overrides or {})
        self._on_reset = on_reset

    def reset(self, seed: int | None = None) -> None:
        if self._on_reset is not None:
            self._on_reset(seed)

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        return self.fn(observation, info)


def model_config_path(model_path: str | Path) -> Path:
    """The config JSON saved beside a model file (``model.zip`` -> ``model.json``)."""
    return Path(model_path).with_suffix(".json")


class SB3Policy:
    """A trained Stable-Baselines3 model as a policy (``model.predict``, deterministic by default).

    ``env_overrides`` holds the EnvConfig fields the model was trained with that shape its
    observations and actions (lookback, action mode, bars per decision, leverage cap, ...), so
    it is evaluated in the env it knows.
    """

    def __init__(self, model: Any, name: str = "ppo", env_overrides: dict[str, Any] | None = None,
                 deterministic: bool = True) -> None:
        self.model = model
        self.name = name
        self.env_overrides = dict(env_overrides or {})
        self.deterministic = deterministic

    @classmethod
    def load(cls, path: str | Path, name: str | None = None, deterministic: bool = True) -> SB3Policy:
        """Load a model saved by :func:`arena_gym.evaluation.training.train_ppo` (or any SB3 zip).

        The algorithm and the env fields are read from the JSON saved beside the model; without
        it the file is loaded as PPO with no env overrides.
        """
        path = Path(path)
        check_model_file(path)
        meta_path = model_config_path(path)
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        import stable_baselines3

        algo_name = meta.get("algorithm", "PPO")
        algo = getattr(stable_baselines3, algo_name, None)
        if algo is None:
            raise ValueError(f"{meta_path}: unknown algorithm {algo_name!r}")
        try:
            model = algo.load(path, device="cpu")
        except Exception as err:  # a truncated or foreign file: say which and why
            raise ValueError(f"cannot load {path} as a {algo_name} model: {type(err).__name__}: {err}") from err
        return cls(model, name=name or meta.get("name", path.stem), env_overrides=meta.get("policy_env", {}),
                   deterministic=deterministic)

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: the model is deterministic (or seeded by SB3 globally)."""

    def act(self, observation: Any, info: dict[str, Any]) -> np.ndarray:
        action, _ = self.model.predict(observation, deterministic=self.deterministic)
        return action


#: The LLM preset served by a local llama.cpp server, started on demand by ``LLMTrader.from_preset``.
LOCAL_PRESET = "local-smollm2"


class LLMTrader:
    """An :class:`~arena_gym.llm.policy.LLMPolicy` as a harness policy.

    The env runs in decision mode with text observations; ``act``/``aact`` return the model's
    :class:`~arena_gym.llm.response.LLMResponse`, which the env parses (invalid output becomes a
    counted hold). The runner reads tokens, cost and latency from the responses.

    Args:
        llm: an ``LLMPolicy``, or a function ``system_prompt -> LLMPolicy`` called at the first
            episode with the env's rendered system prompt (it states the env's coins and rules).
        name: label in tables (default: the model string).
    """

    env_overrides = {"action_mode": "decision", "observation_mode": "text"}
    _server: Any = None

    def __init__(self, llm: Any, name: str | None = None) -> None:
        self._factory = llm if callable(llm) and not hasattr(llm, "aact") else None
        self.llm = None if self._factory is not None else llm
        if name is None and self.llm is None:
            raise ValueError("name an LLMTrader built from a factory")
        self.name = name or self.llm.model

    @classmethod
    def from_preset(cls, preset: str, name: str | None = None, **kwargs: Any) -> LLMTrader:
        """A trader for an LLM preset under ``policies/llm``, a preset's TOML path, or a litellm
        model string with its provider (``openai/gpt-4o``: the settings of the preset with that
        model, else plain ones); ``kwargs`` go to ``LLMPolicy``.

        The preset is read and checked at once (see :func:`~arena_gym.llm.policy.configuration_problem`),
        so an unknown name fails here listing the presets, and a model whose provider key is not
        set raises :class:`~arena_gym.llm.policy.LLMConfigurationError` naming the variable,
        before any episode starts. The local preset (also when named by its model string) starts its server on 127.0.0.1
        (stopped by :meth:`close`).
        """
        from arena_gym.llm.policy import LLMPolicy

        profile = cls.checked_profile(preset, **kwargs)
        server = None
        if profile.name == LOCAL_PRESET and "api_base" not in kwargs:
            from arena_gym.llm.local_server import LocalModelServer

            server = LocalModelServer(log=_to_stderr).start()
            kwargs.update(server.policy_kwargs())
        trader = cls(lambda system_prompt: LLMPolicy.from_profile(profile, system_prompt=system_prompt, **kwargs),
                    name=name or f"llm:{Path(preset).stem}")
        trader._server = server
        return trader

    @staticmethod
    def checked_profile(preset: str, **kwargs: Any) -> Any:
        """The model profile of ``preset`` (as :meth:`from_preset` reads it), checked without
        calling the model or starting a server: an unknown name raises ``FileNotFoundError``
        listing the presets; a hosted model whose provider key is not set, or the local model
        when its extra is not installed, raises :class:`~arena_gym.llm.policy.LLMConfigurationError`."""
        from arena_gym.llm.policy import LLMConfigurationError, configuration_problem
        from arena_gym.llm.profiles import load_profile, profile_for_model

        is_model_string = "/" in preset and Path(preset).suffix != ".toml" and not Path(preset).is_file()
        profile = profile_for_model(preset) if is_model_string else load_profile(preset)
        if profile.name == LOCAL_PRESET and "api_base" not in kwargs:
            from arena_gym.llm.local_server import local_model_unavailable_reason

            problem = local_model_unavailable_reason()
        elif profile.name != LOCAL_PRESET and kwargs.get("cache_mode") != "replay":
            problem = configuration_problem(profile.model, kwargs.get("api_key"),
                                            kwargs.get("api_base", profile.api_base), profile.params)
        else:
            problem = None
        if problem is not None:
            raise LLMConfigurationError(f"LLM preset {preset!r}: {problem}")
        return profile

    def bind(self, env: Any) -> None:
        """Build the model policy from the env's system prompt at the first episode."""
        if self.llm is None:
            self.llm = self._factory(env.system_prompt)

    def reset(self, seed: int | None = None) -> None:
        self.llm.reset(seed)

    def act(self, observation: str, info: dict[str, Any]) -> Any:
        return self.llm.act(observation, info)

    async def aact(self, observation: str, info: dict[str, Any]) -> Any:
        return await self.llm.aact(observation, info)

    def close(self) -> None:
        """Release the model policy's event loop and cache file, and stop the local server."""
        if self.llm is not None:
            self.llm.close()
        if self._server is not None:
            self._server.stop()
            self._server = None


#: The forms of a policy spec on the command line.
SPEC_FORMS = ("<baseline name>", "ppo:<model.zip>", "llm:<preset under policies/llm or provider/model>",
              "llm-local:<transformers model folder, e.g. one arena-gym train-llm saved>",
              "recorded:<trade log>#<model_id>", "<label>=<any of these>")


def _to_stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


def check_model_file(path: str | Path) -> None:
    """Raise ``FileNotFoundError`` naming the model files beside ``path`` when it is not a file."""
    path = Path(path)
    if not path.is_file():
        near = sorted(p.name for p in path.parent.glob("*.zip")) if path.parent.is_dir() else []
        raise FileNotFoundError(f"no model file {path}; model files in {path.parent}: {', '.join(near) or '(none)'}")


def check_spec(spec: str, **llm_kwargs: Any) -> None:
    """Raise at once, with the error :func:`policy_from_spec` would raise, when ``spec`` cannot be
    built, without building it (no model loaded, no server started, no call made): an unknown
    baseline or form, a missing model file, checkpoint folder or trade log, an unknown LLM preset, a hosted LLM
    whose provider key is not set, or the local model without its extra. For checking every
    option before long work (training) starts. ``llm_kwargs`` are those the LLM would be built
    with (an ``api_base`` serves the local model without starting its server)."""
    from .baselines import BASELINES

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
    from .baselines import BASELINES, make_baseline

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
        from .recorded import recorded_policies

        path, _, model = rest.rpartition("#")
        if not path or not model:
            raise ValueError(f"recorded policy {spec!r}: expected recorded:<trade log>#<model_id>")
        policy, = recorded_policies(path, models=[model])
        if label:
            policy.name = label
        return policy
    raise ValueError(f"unknown policy {spec!r}; baselines: {', '.join(BASELINES)}; other forms: {', '.join(SPEC_FORMS[1:])}")
