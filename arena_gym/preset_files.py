"""Where preset TOML files live and how a preset name becomes a file.

Environment presets are read from ``envs/`` and policy presets, model profiles and prompt
templates from ``policies/``. Each folder is looked up, in order:

1. the folder named by the environment variable :data:`ENVS_ENV_VAR` / :data:`POLICIES_ENV_VAR`;
2. the folder at the root of the checkout arena-gym runs from (``pip install -e .``), where
   edits take effect at once;
3. the copy a wheel ships inside the package (``arena_gym/_bundled/``), for installs without
   a checkout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

import arena_gym

#: Environment variable naming a folder of policy presets to use instead of the checkout's.
POLICIES_ENV_VAR = "ARENA_GYM_POLICIES"
#: Environment variable naming a folder of env presets to use instead of the checkout's.
ENVS_ENV_VAR = "ARENA_GYM_ENVS"


def read_toml(path: str | Path) -> dict[str, Any]:
    """The parsed contents of a TOML file."""
    with Path(path).open("rb") as fh:
        return tomllib.load(fh)


def _preset_folder(env_var: str, default_name: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        return Path(override).expanduser().resolve()
    package = Path(arena_gym.__file__).resolve().parent
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / default_name).is_dir():
        return checkout / default_name
    return package / "_bundled" / default_name


def policies_dir() -> Path:
    """The folder holding policy presets and prompts (see the module docstring for the lookup order)."""
    return _preset_folder(POLICIES_ENV_VAR, "policies")


def envs_dir() -> Path:
    """The folder holding env presets (see the module docstring for the lookup order)."""
    return _preset_folder(ENVS_ENV_VAR, "envs")


def preset_names(folder: Path) -> list[str]:
    """Names (file stems) of the ``*.toml`` presets in ``folder``, sorted; empty when it is absent."""
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def preset_path(name_or_path: str | Path, folder: Path, kind: str) -> Path:
    """The TOML file of a preset given by name (looked up in ``folder``) or by path.

    An existing file, or any path ending in ``.toml``, is taken as a path; anything else is a
    preset name. ``kind`` names the sort of preset in error messages (e.g. ``"env preset"``).

    Raises:
        FileNotFoundError: for a ``.toml`` path that does not exist.
        ValueError: for a name with no ``<name>.toml`` in ``folder``, listing the names that exist.
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise FileNotFoundError(f"{kind} file {candidate} does not exist")
        return candidate
    path = folder / f"{name_or_path}.toml"
    if not path.is_file():
        raise ValueError(f"unknown {kind} {str(name_or_path)!r}; available in {folder}: "
                         f"{', '.join(preset_names(folder)) or '(none)'}")
    return path
