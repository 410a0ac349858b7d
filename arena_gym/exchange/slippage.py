"""Fill-price model: half-spread plus square-root market impact.

A taker fill of ``q`` coins (absolute size change) in an asset whose last completed bar traded
``V`` coins pays, as a fraction of the reference price::

    slippage = min(half_spread + impact * sqrt(q / max(V, min_volume)), max_slippage)

Buys fill at ``price * (1 + slippage)`` and sells at ``price * (1 - slippage)``. The volume is
the one of the bar before the fill, known when the order was decided (no look-ahead). Maker
fills (resting take-profit limits, when the preset says so) fill at their limit price.

The exchange kernel applies it (:func:`arena_gym.exchange.kernel.slippage`); this module
holds the model's parameters and presets. Presets: ``"none"`` (zero slippage, for hand-checked scenarios), ``"default"`` (1 bp
half-spread, impact 0.01: about 0.5 bp for 0.25 % of a bar's volume, 10 bp for 1 %) and
``"conservative"`` (3 bp, impact 0.03).
"""

from __future__ import annotations

from dataclasses import dataclass

@dataclass(frozen=True)
class SlippageModel:
    """Parameters of the fill-price model (fractions of price; volume in coins)."""

    half_spread: float = 0.0001
    impact: float = 0.01
    max_slippage: float = 0.05
    min_volume: float = 1e-9

    def __post_init__(self) -> None:
        if self.half_spread < 0 or self.impact < 0 or not 0 <= self.max_slippage < 1:
            raise ValueError(f"invalid slippage model {self}")


SLIPPAGE_PRESETS = {
    "none": SlippageModel(half_spread=0.0, impact=0.0, max_slippage=0.0),
    "default": SlippageModel(),
    "conservative": SlippageModel(half_spread=0.0003, impact=0.03),
}


def slippage_model(spec: str | SlippageModel | None) -> SlippageModel:
    """Resolve a preset name (see ``SLIPPAGE_PRESETS``) or pass a model through."""
    if isinstance(spec, SlippageModel):
        return spec
    key = "default" if spec is None else spec
    if key not in SLIPPAGE_PRESETS:
        raise ValueError(f"unknown slippage preset {spec!r}; available: {sorted(SLIPPAGE_PRESETS)}")
    return SLIPPAGE_PRESETS[key]
