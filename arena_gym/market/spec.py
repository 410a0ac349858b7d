"""Per-asset contract specifications and exchange rule presets.

Conventions used throughout arena-gym:

* prices and notionals are in the quote currency (USD-like: USDC on Hyperliquid, USDT on Binance);
* sizes are signed coin units (1 contract = 1 coin, linear perpetuals), negative = short;
* fee and funding rates are plain fractions (0.00045 = 0.045 %), funding rates per settlement;
* leverage is an integer multiple; maintenance margin rates are fractions of position notional.

Exchange rules are data: one TOML file per exchange under ``arena_gym/exchange/rules/``
(``hyperliquid`` is the default, ``binance-usdm`` the second preset). A user may pass the
path of their own TOML file in the same shape wherever a preset name is accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from arena_gym.preset_files import read_toml

RULES_DIR = Path(__file__).resolve().parent.parent / "exchange" / "rules"

LIQUIDATION_CLOSES = ("liquidation_price", "bankruptcy_price")
LIQUIDITY_KINDS = ("taker", "maker")


@dataclass(frozen=True)
class AssetSpec:
    """Contract specification of one perpetual.

    Attributes:
        symbol: base coin, e.g. ``"BTC"``.
        max_leverage: highest integer leverage the exchange allows.
        maintenance_tiers: tuple of ``(notional_floor, rate, amount)``; the maintenance margin
            of a position of notional ``n`` is ``n * rate - amount`` for the last tier whose
            floor is <= ``n``. A single tier ``(0, mmr, 0)`` is a flat rate (Hyperliquid).
        size_step: smallest size increment in coins (``10 ** -szDecimals``).
        min_notional: minimum order value in quote currency; closing a whole position is
            always allowed.
        taker_fee: fraction of fill notional charged on taker fills.
        maker_fee: fraction of fill notional charged on maker fills.
    """

    symbol: str
    max_leverage: int
    maintenance_tiers: tuple[tuple[float, float, float], ...]
    size_step: float
    min_notional: float
    taker_fee: float
    maker_fee: float

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("AssetSpec.symbol must be a non-empty string")
        if int(self.max_leverage) != self.max_leverage or self.max_leverage < 1:
            raise ValueError(f"{self.symbol}: max_leverage must be an integer >= 1, got {self.max_leverage}")
        if not self.maintenance_tiers:
            raise ValueError(f"{self.symbol}: at least one maintenance tier is required")
        floors = [t[0] for t in self.maintenance_tiers]
        if floors[0] != 0 or any(b <= a for a, b in zip(floors, floors[1:])):
            raise ValueError(f"{self.symbol}: maintenance tier floors must start at 0 and increase: {floors}")
        for _, rate, _ in self.maintenance_tiers:
            if not 0 < rate < 1:
                raise ValueError(f"{self.symbol}: maintenance rate must be in (0, 1), got {rate}")
        if not (self.size_step > 0 and math.isfinite(self.size_step)):
            raise ValueError(f"{self.symbol}: size_step must be positive, got {self.size_step}")
        if self.min_notional < 0 or self.taker_fee < 0 or self.maker_fee < 0:
            raise ValueError(f"{self.symbol}: min_notional and fees must be >= 0")

    @property
    def maintenance_margin_rate(self) -> float:
        """Maintenance rate of the smallest tier (the flat rate on Hyperliquid)."""
        return self.maintenance_tiers[0][1]

    def maintenance_margin(self, notional: float) -> float:
        """Maintenance margin in quote currency for a position of ``notional`` (>= 0), by the
        exchange's tier rule (:func:`arena_gym.exchange.formulas.maintenance_tier`)."""
        from ..exchange.formulas import maintenance_tier

        tiers = np.array(self.maintenance_tiers, dtype=np.float64).T[:, None, :]
        rate, amount = maintenance_tier(tiers, 0, notional)
        return float(notional * rate - amount)


@dataclass(frozen=True)
class ExchangeRules:
    """Exchange-wide rules plus the per-asset specs of one venue.

    Attributes:
        name: preset name (``"hyperliquid"``, ``"binance-usdm"``) or file stem.
        quote: collateral currency.
        taker_fee, maker_fee: default fee fractions for assets without their own.
        funding_interval_hours: hours between funding settlements.
        baseline_funding_rate: the venue's neutral rate per settlement.
        funding_price: ``"mark"`` (uses the mark series when the data has one, else the bar
            open) or ``"open"``.
        liquidation_close: ``"liquidation_price"`` (Hyperliquid: the remaining collateral stays
            with the trader) or ``"bankruptcy_price"`` (Binance: the position's margin is lost).
        backstop_fraction: when equity at the liquidation fill is below this fraction of the
            maintenance margin, the rest of the collateral is forfeited (0 disables).
        min_notional: minimum order value in quote currency.
        price_significant_figures: price precision of the venue (informational; the
            simulator fills at model prices).
        take_profit_liquidity: ``"taker"`` or ``"maker"`` fee for take-profit fills.
        assets: specs by symbol; ``default_asset`` builds specs for unlisted symbols.
    """

    name: str
    quote: str
    taker_fee: float
    maker_fee: float
    funding_interval_hours: int
    baseline_funding_rate: float
    funding_price: str
    liquidation_close: str
    backstop_fraction: float
    min_notional: float
    price_significant_figures: int
    take_profit_liquidity: str
    assets: dict[str, AssetSpec] = field(default_factory=dict)
    default_asset: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.liquidation_close not in LIQUIDATION_CLOSES:
            raise ValueError(f"liquidation_close must be one of {LIQUIDATION_CLOSES}, got {self.liquidation_close!r}")
        if self.take_profit_liquidity not in LIQUIDITY_KINDS:
            raise ValueError(f"take_profit_liquidity must be one of {LIQUIDITY_KINDS}, got {self.take_profit_liquidity!r}")
        if self.funding_price not in ("mark", "open"):
            raise ValueError(f"funding_price must be 'mark' or 'open', got {self.funding_price!r}")
        if not 0 <= self.backstop_fraction < 1:
            raise ValueError(f"backstop_fraction must be in [0, 1), got {self.backstop_fraction}")

    def spec(self, symbol: str) -> AssetSpec:
        """The spec of ``symbol``; unlisted symbols get the preset's ``default_asset``."""
        if symbol in self.assets:
            return self.assets[symbol]
        if not self.default_asset:
            raise KeyError(f"{self.name} has no spec for {symbol!r}; known: {sorted(self.assets)}")
        return _asset_from_table(symbol, self.default_asset, self)

    def specs(self, symbols: Iterable[str]) -> tuple[AssetSpec, ...]:
        return tuple(self.spec(s) for s in symbols)

    def with_fees(self, taker_fee: float, maker_fee: float) -> "ExchangeRules":
        """A copy with every asset's fees replaced (e.g. a zero-fee ablation)."""
        assets = {k: replace(v, taker_fee=taker_fee, maker_fee=maker_fee) for k, v in self.assets.items()}
        return replace(self, taker_fee=taker_fee, maker_fee=maker_fee, assets=assets)


def _asset_from_table(symbol: str, table: dict, rules_defaults: dict | ExchangeRules) -> AssetSpec:
    get = (lambda k: getattr(rules_defaults, k)) if isinstance(rules_defaults, ExchangeRules) else rules_defaults.__getitem__
    max_leverage = int(table["max_leverage"])
    tiers = table.get("maintenance_tiers")
    if tiers is None:
        rate = table.get("maintenance_margin_rate", 1.0 / (2.0 * max_leverage))
        tiers = [[0.0, rate, 0.0]]
    return AssetSpec(
        symbol=symbol,
        max_leverage=max_leverage,
        maintenance_tiers=tuple((float(a), float(b), float(c)) for a, b, c in tiers),
        size_step=10.0 ** -int(table.get("size_decimals", 2)) if "size_step" not in table else float(table["size_step"]),
        min_notional=float(table.get("min_notional", get("min_notional"))),
        taker_fee=float(table.get("taker_fee", get("taker_fee"))),
        maker_fee=float(table.get("maker_fee", get("maker_fee"))),
    )


def available_rules() -> list[str]:
    """Names of the exchange rule presets shipped with arena-gym."""
    return sorted(p.stem for p in RULES_DIR.glob("*.toml"))


def load_rules(name_or_path: str | Path = "hyperliquid") -> ExchangeRules:
    """Load an exchange rule preset by name (see :func:`available_rules`) or TOML path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = RULES_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ValueError(f"unknown exchange rules {str(name_or_path)!r}; available: {available_rules()} or a path to a .toml file")
    elif not path.exists():
        raise FileNotFoundError(f"exchange rules file not found: {path}")
    raw = read_toml(path)
    assets_table = raw.pop("assets", {})
    default_asset = raw.pop("default_asset", {})
    top = {k: raw[k] for k in raw}
    assets = {sym: _asset_from_table(sym, tbl, top) for sym, tbl in assets_table.items()}
    return ExchangeRules(assets=assets, default_asset=default_asset, **top)


def asset_specs(symbols: Sequence[str], rules: str | Path | ExchangeRules = "hyperliquid") -> tuple[AssetSpec, ...]:
    """Specs for ``symbols`` under an exchange preset (name, path or loaded rules)."""
    if not isinstance(rules, ExchangeRules):
        rules = load_rules(rules)
    return rules.specs(symbols)
