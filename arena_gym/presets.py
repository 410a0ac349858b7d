"""Named environment presets: TOML files under ``envs/`` that say which market to load and how
to configure the environment over it.

A preset has a ``[market]`` table whose ``source`` picks the loader, and an optional ``[env]``
table of :class:`~arena_gym.env.EnvConfig` fields::

    name = "synthetic"
    description = "..."

    [market]
    source = "synthetic"      # synthetic_market(**the other keys)
    seed = 0

    [env]
    initial_capital = 10000.0
    episode_length = 168

Sources:

=============  ==========================================================================
``synthetic``  :func:`arena_gym.market.synthetic.synthetic_market` with the other keys
``freqtrade``  :meth:`MarketData.from_freqtrade`: ``directory``, ``coins``, ``timeframe``
               (and optional ``quote``, ``rules``)
``parquet``    :meth:`MarketData.from_parquet`: ``path`` (and optional ``rules``, ``coins``)
``cache``      :func:`arena_gym.data.load_cached_market` with the other keys
=============  ==========================================================================

Relative paths in a preset are read relative to the preset file. Presets are looked up in
``$ARENA_GYM_ENVS`` when set, else in ``envs/`` at the repository root, else in the copy a wheel
ships (see :mod:`arena_gym.preset_files`); a path to a TOML file works too.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData
from arena_gym.preset_files import envs_dir, preset_path, read_toml

MARKET_SOURCES = ("synthetic", "freqtrade", "parquet", "cache")


def read_env_preset(name_or_path: str | Path) -> dict[str, Any]:
    """The parsed preset TOML, with ``name`` defaulting to the file stem and ``path`` added."""
    path = preset_path(name_or_path, envs_dir(), "env preset")
    data = read_toml(path)
    if "market" not in data or "source" not in data["market"]:
        raise ValueError(f"env preset {path} needs a [market] table with a 'source' (one of {MARKET_SOURCES})")
    data.setdefault("name", path.stem)
    data["path"] = str(path)
    return data


def load_env_preset(name_or_path: str | Path) -> tuple[MarketData, EnvConfig]:
    """Load a preset's market and build its :class:`EnvConfig`."""
    data = read_env_preset(name_or_path)
    base = Path(data["path"]).parent
    return load_market(data["market"], base), env_config(data.get("env", {}), data["path"])


def load_market(table: dict[str, Any], base: Path) -> MarketData:
    """A MarketData from a preset's ``[market]`` table (see the module docstring)."""
    params = dict(table)
    source = params.pop("source")

    def local(value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path

    if source == "synthetic":
        from arena_gym.market.synthetic import synthetic_market

        return synthetic_market(**params)
    if source == "freqtrade":
        directory = local(params.pop("directory"))
        coins = params.pop("coins")
        return MarketData.from_freqtrade(directory, coins, **params)
    if source == "parquet":
        path = local(params.pop("path"))
        if "coins" in params:
            params["symbols"] = params.pop("coins")
        return MarketData.from_parquet(path, **params)
    if source == "cache":
        from arena_gym.data import load_cached_market

        return load_cached_market(**params)
    raise ValueError(f"unknown market source {source!r}; available: {', '.join(MARKET_SOURCES)}")


def env_config(table: dict[str, Any], where: str = "preset") -> EnvConfig:
    """An EnvConfig from a preset's ``[env]`` table; TOML arrays become tuples."""
    known = {f.name for f in fields(EnvConfig)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"{where}: unknown [env] keys {unknown}; EnvConfig fields are {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    return EnvConfig(**values)
