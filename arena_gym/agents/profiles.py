"""Per-model request profiles, stored as TOML presets under ``policies/llm/``.

A profile says how to talk to one model: its litellm model string, which structured-output
mode it supports, whether it accepts a temperature, whether its reasoning text is kept, and
the per-call limits and prices to use. Example (``policies/llm/gpt-5.toml``)::

    model = "openai/gpt-5"
    structured_output = "json_schema"
    supports_temperature = false
    reasoning_roundtrip = true
    reasoning_effort = "medium"
    max_tokens = 16384
    timeout_s = 180.0

Keys (all but ``model`` optional):

=========================  =========================================================
``model``                  litellm model string, e.g. ``"anthropic/claude-sonnet-4-5"``
``structured_output``      ``"json_schema"`` (strict schema), ``"json_object"`` (any JSON)
                           or ``"prompt"`` (no response_format; the prompt asks for JSON)
``json_object_schema``     with ``json_object``: attach the decision schema inside
                           ``response_format`` (llama.cpp servers turn it into a grammar)
``supports_temperature``   ``false`` for models that reject the parameter
``temperature``            sampling temperature; sent only when supported
``reasoning_effort``       ``"low"``/``"medium"``/``"high"``, passed to litellm
``reasoning_roundtrip``    keep the provider's reasoning text on the response, in the
                           ledger and in the cache, so replays carry it too
``max_tokens``             completion-token limit per call (reasoning tokens included)
``timeout_s``              seconds allowed per attempt
``api_base``               endpoint URL for OpenAI-compatible servers
``[price]``                ``input_usd_per_mtok`` and ``output_usd_per_mtok``: USD per
                           million tokens, overriding litellm's price table
``[params]``               further keyword arguments passed to ``litellm.acompletion``
=========================  =========================================================

The presets folder is the one named by the ``ARENA_GYM_POLICIES`` environment variable, else
``policies/`` at the repository root, else the copy a wheel ships (see
:mod:`arena_gym.preset_files`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from arena_gym.preset_files import policies_dir, preset_names, preset_path, read_toml

#: The structured-output modes a profile can ask for.
STRUCTURED_OUTPUT_MODES: tuple[str, ...] = ("json_schema", "json_object", "prompt")

_PROFILE_KEYS = frozenset(
    {"model", "structured_output", "json_object_schema", "supports_temperature", "temperature",
     "reasoning_effort", "reasoning_roundtrip", "max_tokens", "timeout_s", "api_base", "price",
     "params"}
)


def profiles_dir() -> Path:
    """The folder holding model profiles: ``<policies>/llm``."""
    return policies_dir() / "llm"


@dataclass(frozen=True)
class Price:
    """Token prices in US dollars per million tokens."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def __post_init__(self) -> None:
        for name in ("input_usd_per_mtok", "output_usd_per_mtok"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"price {name} must be a number >= 0, got {value!r}")

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD cost of a call with these token counts."""
        return (prompt_tokens * self.input_usd_per_mtok
                + completion_tokens * self.output_usd_per_mtok) / 1_000_000


@dataclass(frozen=True)
class ModelProfile:
    """How to call one model; see the module docstring for each field's meaning."""

    name: str
    model: str
    structured_output: str = "prompt"
    json_object_schema: bool = False
    supports_temperature: bool = True
    temperature: float | None = None
    reasoning_effort: str | None = None
    reasoning_roundtrip: bool = False
    max_tokens: int | None = None
    timeout_s: float | None = None
    api_base: str | None = None
    price: Price | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError(f"profile {self.name!r}: model must be a non-empty litellm model string")
        if self.structured_output not in STRUCTURED_OUTPUT_MODES:
            raise ValueError(
                f"profile {self.name!r}: structured_output {self.structured_output!r} is not one of "
                f"{', '.join(STRUCTURED_OUTPUT_MODES)}"
            )
        if self.json_object_schema and self.structured_output != "json_object":
            raise ValueError(f"profile {self.name!r}: json_object_schema needs structured_output = "
                             f"'json_object'")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"profile {self.name!r}: max_tokens must be >= 1, got {self.max_tokens}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ValueError(f"profile {self.name!r}: timeout_s must be > 0, got {self.timeout_s}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> ModelProfile:
        """Build a profile from a parsed TOML table, rejecting unknown keys."""
        unknown = sorted(set(data) - _PROFILE_KEYS)
        if unknown:
            raise ValueError(f"profile {name!r}: unknown keys {unknown}; known keys: "
                             f"{sorted(_PROFILE_KEYS)}")
        if "model" not in data:
            raise ValueError(f"profile {name!r}: missing required key 'model'")
        values = dict(data)
        price = values.pop("price", None)
        if price is not None:
            price_keys = {"input_usd_per_mtok", "output_usd_per_mtok"}
            if set(price) != price_keys:
                raise ValueError(f"profile {name!r}: [price] needs exactly {sorted(price_keys)}, "
                                 f"got {sorted(price)}")
            values["price"] = Price(**price)
        return cls(name=name, **values)


def available_profiles() -> list[str]:
    """Names of the profiles in :func:`profiles_dir`, sorted."""
    return preset_names(profiles_dir())


def load_profile(name_or_path: str | Path) -> ModelProfile:
    """Load a profile by preset name (``"gpt-5"``) or by path to a TOML file.

    Raises:
        FileNotFoundError: naming the profiles that exist when the name matches none, or when
            a ``.toml`` path does not exist.
        ValueError: when the file has unknown keys or invalid values.
    """
    try:
        path = preset_path(name_or_path, profiles_dir(), "model profile")
    except ValueError:
        names = available_profiles()
        listing = ", ".join(names) if names else f"none (no .toml files in {profiles_dir()})"
        raise FileNotFoundError(f"no model profile {str(name_or_path)!r}; available profiles: {listing}") from None
    return ModelProfile.from_mapping(path.stem, read_toml(path))


def profile_for_model(model: str) -> ModelProfile:
    """The preset whose ``model`` equals ``model``, else a plain profile for it.

    The plain profile uses ``structured_output = "prompt"``, which every provider accepts.
    """
    for name in available_profiles():
        profile = load_profile(name)
        if profile.model == model:
            return profile
    return ModelProfile(name=model, model=model)
