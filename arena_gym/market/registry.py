"""One copy of each market per process: markets are shared by every environment, never copied.

Building a market (generating the synthetic one takes tens of milliseconds and its derived
features more; reading real data longer) happens once per process and parameter set: the
public builders (:func:`~arena_gym.market.synthetic.synthetic_market`,
:meth:`MarketData.from_freqtrade <arena_gym.market.data.MarketData.from_freqtrade>`,
:meth:`MarketData.from_parquet <arena_gym.market.data.MarketData.from_parquet>`) look their
:class:`MarketRecipe` up here and return the market already built when there is one. So
``gym.make`` of the same id twice, every preset naming the same market, and every environment
of a vector env read the same arrays (and the same cached indicators and features).

Pickling follows the recipe: a market that has one pickles as its recipe (a few hundred bytes)
and the receiving process rebuilds it once, through this registry, then shares it too. That is
what keeps ``SubprocVecEnv`` and ``AsyncVectorEnv`` workers cheap to start. Which markets have
a recipe:

* synthetic markets: the generator's arguments (bit-identical arrays from the same seed);
* freqtrade and parquet files and the download cache (:func:`arena_gym.data.load_cached_market`):
  the loader's arguments plus the files' fingerprint (path, size and modification time); a
  worker that finds the files changed refuses to load them
  (:class:`~arena_gym.market.data.MarketDataError`) rather than train on other data;
* markets derived from those by ``select``, ``with_assets``, ``slice`` and ``resample``.

Markets built from in-memory frames (``MarketData.from_frames``, replays of trade logs) have no
recipe and pickle their arrays.

The registry keeps the :data:`MAX_MARKETS` most recently requested markets;
:func:`clear_markets` empties it. It holds markets without knowing their class (so
:mod:`arena_gym.market.data` imports it, not the other way round).
"""

from __future__ import annotations

import importlib
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import MarketDataError

#: How many distinct markets the process keeps (least recently requested dropped first).
MAX_MARKETS = 8

_MARKETS: OrderedDict[MarketRecipe, Any] = OrderedDict()


@dataclass(frozen=True)
class MarketRecipe:
    """How to rebuild a market: ``builder`` (``"module:function"``) called with the pickled
    keyword arguments; ``fingerprint`` identifies the files read (``()`` for generated data)."""

    builder: str
    arguments: bytes
    fingerprint: tuple = ()

    @classmethod
    def of(cls, builder: Callable, arguments: dict[str, Any], fingerprint: tuple = ()) -> "MarketRecipe":
        return cls(f"{builder.__module__}:{builder.__qualname__}", pickle.dumps(arguments, protocol=4), fingerprint)

    def build(self) -> Any:
        """Call the builder; refuse when the files it reads changed since the recipe was made."""
        if self.fingerprint:
            now = file_fingerprint(Path(name) for name, _, _ in self.fingerprint if Path(name).exists())
            if now != self.fingerprint:
                raise MarketDataError(f"the market files changed since this market was built: "
                                      f"{sorted(set(self.fingerprint) ^ set(now))[:3]}")
        module, name = self.builder.split(":")
        target: Any = importlib.import_module(module)
        for part in name.split("."):
            target = getattr(target, part)
        return target(**pickle.loads(self.arguments))


def file_fingerprint(paths: Iterable[Path]) -> tuple:
    """``(name, size, mtime_ns)`` of each file, sorted: changes when a file is rewritten."""
    out = []
    for p in sorted(Path(x) for x in paths):
        st = p.stat()
        out.append((str(p.resolve()), st.st_size, st.st_mtime_ns))
    return tuple(out)


def shared_market(recipe: MarketRecipe, build: Callable[[], Any] | None = None) -> Any:
    """The market of ``recipe``: the one already built in this process, else ``build()`` (default:
    ``recipe.build()``), remembered with its recipe."""
    market = _MARKETS.get(recipe)
    if market is not None:
        _MARKETS.move_to_end(recipe)
        return market
    market = build() if build is not None else recipe.build()
    object.__setattr__(market, "recipe", recipe)
    _MARKETS[recipe] = market
    while len(_MARKETS) > MAX_MARKETS:
        _MARKETS.popitem(last=False)
    return market


def rebuild_market(recipe: MarketRecipe) -> Any:
    """Unpickling entry point of a market that has a recipe."""
    return shared_market(recipe)


def derive_market(parent: Any, method: str, args: tuple) -> Any:
    """Unpickling entry point of a market derived from another (``parent.method(*args)``)."""
    return getattr(parent, method)(*args)


def clear_markets() -> None:
    """Forget every market built so far (environments keep the ones they hold)."""
    _MARKETS.clear()
