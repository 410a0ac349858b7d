"""Reference policies for the ``target`` action mode.

Actions are target weights ``w`` in ``[-1, 1]`` per asset: a target exposure of
``w * leverage_cap * equity`` in notional (see :mod:`arena_gym.env.actions`). The baselines
that hold positions size them to a *gross leverage* ``g`` (1x by default): each position gets
``g / n_held`` of equity, i.e. a weight of ``g / (n_held * leverage_cap)``.

Baselines that read the market are bound to each episode's env (``bind(env)``) and read
``env.market`` arrays at rows ``<= info["bar"]``, the last closed bar: no look-ahead.

=================  ==========================================================================
``hold_cash``      never trades
``buy_and_hold``   equal-weight long at ``g`` x equity on the first step, then never trades
``random``         uniform random weights in ``[-1, 1]`` every step (seeded per episode)
``ema_momentum``   long where EMA20 > EMA50, short where below (the contest prompt's two EMAs)
``funding_carry``  short where longs paid more than ``threshold`` funding over the last
                   ``window`` bars, long where shorts paid more than it, flat otherwise
=================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Baselines act on target weights and read the market directly; the numeric observation is the cheapest.
TARGET_MODE = {"action_mode": "target", "observation_mode": "numeric"}


class _TargetBaseline:
    """Shared plumbing: the target action mode and the env binding."""

    name = "baseline"
    env_overrides = TARGET_MODE

    def __init__(self, gross_leverage: float = 1.0) -> None:
        if not gross_leverage > 0:
            raise ValueError(f"gross_leverage must be > 0, got {gross_leverage}")
        self.gross_leverage = float(gross_leverage)
        self.env: Any = None

    def bind(self, env: Any) -> None:
        if env.config.action_mode != "target":
            raise ValueError(f"{self.name} acts in the 'target' action mode; the env uses {env.config.action_mode!r}")
        self.env = env

    def reset(self, seed: int | None = None) -> None:
        """Most baselines keep no state between steps."""

    @property
    def n_assets(self) -> int:
        return self.env.market.n_assets

    def weights_for(self, direction: np.ndarray) -> np.ndarray:
        """Target weights for directions in {-1, 0, +1}: gross leverage spread over the non-zero ones."""
        direction = np.sign(np.asarray(direction, dtype=np.float64))
        held = np.count_nonzero(direction)
        if held == 0:
            return np.zeros(self.n_assets, np.float32)
        cap = self.env.config.leverage_cap
        return (direction * min(self.gross_leverage / (held * cap), 1.0 / held)).astype(np.float32)


class HoldCash(_TargetBaseline):
    """Never trades: equity stays at the initial capital."""

    name = "hold_cash"

    def act(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        return np.zeros(self.n_assets, np.float32)


class BuyAndHold(_TargetBaseline):
    """Equal-weight long of every asset at ``gross_leverage`` x equity, bought once and held.

    After the first step it asks for exactly the weights it holds, so it never rebalances.
    """

    name = "buy_and_hold"

    def act(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        if int(info["step"]) == 0:
            return self.weights_for(np.ones(self.n_assets))
        symbols = self.env.market.symbols
        notional = np.zeros(self.n_assets)
        for position in self.env.positions():
            notional[symbols.index(position.symbol)] = position.size * position.mark_price
        equity = max(float(info["equity"]), 1e-12)
        return (notional / (self.env.config.leverage_cap * equity)).astype(np.float32)


class RandomWeights(_TargetBaseline):
    """Uniform random target weights in ``[-1, 1]`` per asset every step, from the episode seed."""

    name = "random"

    def __init__(self) -> None:
        super().__init__()
        self.rng = np.random.default_rng()

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, self.n_assets).astype(np.float32)


class EMAMomentum(_TargetBaseline):
    """Trend following on the prompt's EMA20 / EMA50 of the close at the last closed bar."""

    name = "ema_momentum"

    def act(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        ind, bar = self.env.market.indicators, int(info["bar"])
        return self.weights_for(ind.ema20[bar] - ind.ema50[bar])


class FundingCarry(_TargetBaseline):
    """Collect funding: take the side that was paid over the last ``window`` bars.

    ``paid`` is the sum of the per-bar funding rates over bars ``bar - window + 1 .. bar`` (the
    fraction of notional a long paid). Short when ``paid > threshold``, long when
    ``paid < -threshold``, flat otherwise.
    """

    name = "funding_carry"

    def __init__(self, window: int = 24, threshold: float = 0.0005, gross_leverage: float = 1.0) -> None:
        super().__init__(gross_leverage)
        if window < 1:
            raise ValueError(f"window must be >= 1 bar, got {window}")
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        self.window = int(window)
        self.threshold = float(threshold)

    def act(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        bar = int(info["bar"])
        paid = self.env.market.funding_rate[max(bar - self.window + 1, 0): bar + 1].sum(axis=0)
        return self.weights_for(np.where(paid > self.threshold, -1.0, np.where(paid < -self.threshold, 1.0, 0.0)))


#: Baseline classes by name.
BASELINES: dict[str, type[_TargetBaseline]] = {
    cls.name: cls for cls in (HoldCash, BuyAndHold, RandomWeights, EMAMomentum, FundingCarry)
}


def make_baseline(name: str, **params: Any) -> _TargetBaseline:
    """A baseline by name with its parameters (e.g. from ``policies/baselines.toml``)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; available: {', '.join(BASELINES)}")
    try:
        return BASELINES[name](**params)
    except TypeError as err:
        raise ValueError(f"bad parameters {params} for baseline {name!r}: {err}") from err
