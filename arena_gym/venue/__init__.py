"""Exchange rules: the schema of a venue's rules, its per-asset contract specifications, and the
loader of the rule presets stored beside this module.

Conventions used throughout arena-gym:

* prices and notionals are in the quote currency (USD-like: USDC on Hyperliquid, USDT on Binance);
* sizes are signed coin units (1 contract = 1 coin, linear perpetuals), negative = short;
* fee and funding rates are plain fractions (0.00045 = 0.045 %), funding rates per settlement;
* leverage is an integer multiple; maintenance margin rates are fractions of position notional.

Exchange rules are data: one TOML file per exchange in this package's folder,
``arena_gym/venue/`` (``hyperliquid`` is the default, ``binance-usdm`` the second preset,
``alpha-arena-s1`` the contest's). A user may pass the path of their own TOML file in the same
shape wherever a preset name is accepted. Two optional keys:

* ``extends = "hyperliquid"``: start from another preset (name or path), then override the keys
  given here (tables such as ``[assets.BTC]`` are merged key by key);
* ``[[fee_schedule]]`` entries (``from`` a UTC time, inclusive; ``taker_fee``; ``maker_fee``):
  dated fee tiers ordered by ``from``, each in force until the next one's ``from``. Before the
  first entry the assets' own fees apply. A fill is charged the tier in force at the open time
  of the bar it fills on.

The venue is the package's ground floor: the exchange builds its parameters from these rules
and the market layer (:mod:`arena_gym.market`) reads the contract specs from here; the venue
imports neither. :mod:`arena_gym.venue.formulas` holds the scalar rules (maintenance tier,
leverage clamp) that the compiled kernel, the contract specs and the decision parser share.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from arena_gym.preset_files import read_toml

from .formulas import maintenance_tier

RULES_DIR = Path(__file__).resolve().parent
"""Folder of the shipped ``*.toml`` rule presets (this package's own folder)."""

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
        exchange's tier rule (:func:`arena_gym.venue.formulas.maintenance_tier`)."""
        tiers = np.array(self.maintenance_tiers, dtype=np.float64).T[:, None, :]
        rate, amount = maintenance_tier(tiers, 0, notional)
        return float(notional * rate - amount)


@dataclass(frozen=True)
class FeeTier:
    """Fee fractions of fill notional in force from ``start`` (UTC, inclusive) on.

    ``start`` is a timezone-aware UTC :class:`datetime.datetime`.
    """

    start: datetime
    taker_fee: float
    maker_fee: float

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError(f"fee tier start {self.start} must be timezone-aware (UTC)")
        for name in ("taker_fee", "maker_fee"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value < 1):
                raise ValueError(f"fee tier from {self.start:%Y-%m-%d %H:%M}: {name} must be in [0, 1), got {value}")

    @property
    def start_ns(self) -> int:
        """``start`` as nanoseconds since the epoch (the unit of market timestamps)."""
        return int(self.start.timestamp() * 1_000_000) * 1000

    @classmethod
    def parse(cls, text: str) -> "FeeTier":
        """``"2025-10-22T00:00Z,0.0004,0.00012"`` -> FeeTier (start, taker, maker)."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3:
            raise ValueError(f"fee tier {text!r}: expected START,TAKER,MAKER e.g. 2025-10-22T00:00Z,0.0004,0.00012")
        return cls(_utc(parts[0]), float(parts[1]), float(parts[2]))


def _utc(value) -> datetime:
    """A TOML datetime or an ISO string as an aware UTC datetime (naive values are UTC)."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError as err:
            raise ValueError(f"cannot read {value!r} as a UTC time, e.g. 2025-10-22T00:00:00Z") from err
    if not isinstance(value, datetime):
        raise ValueError(f"expected a UTC date-time, got {value!r}")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


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
        fee_schedule: dated :class:`FeeTier` entries ordered by start (empty: the assets'
            fees at all times).
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
    fee_schedule: tuple[FeeTier, ...] = ()

    def __post_init__(self) -> None:
        starts = [t.start for t in self.fee_schedule]
        if any(b <= a for a, b in zip(starts, starts[1:])):
            raise ValueError(f"{self.name}: fee_schedule entries must be in increasing order of 'from': "
                             f"{[f'{t:%Y-%m-%d %H:%M}' for t in starts]}")
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
        """The specs of ``symbols``, in their order (see :meth:`spec`)."""
        return tuple(self.spec(s) for s in symbols)

    def with_fees(self, taker_fee: float, maker_fee: float) -> "ExchangeRules":
        """A copy with every asset's fees replaced and no fee schedule (e.g. a zero-fee ablation)."""
        assets = {k: replace(v, taker_fee=taker_fee, maker_fee=maker_fee) for k, v in self.assets.items()}
        default_asset = {k: v for k, v in self.default_asset.items() if k not in ("taker_fee", "maker_fee")}
        return replace(self, taker_fee=taker_fee, maker_fee=maker_fee, assets=assets, default_asset=default_asset,
                       fee_schedule=())

    def fee_tier_at(self, when: datetime) -> FeeTier | None:
        """The schedule entry in force at ``when`` (aware UTC), or None before the first one."""
        when = _utc(when)
        tier = None
        for t in self.fee_schedule:
            if t.start <= when:
                tier = t
        return tier


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


def _rules_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = RULES_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ValueError(f"unknown exchange rules {str(name_or_path)!r}; available: {available_rules()} or a path to a .toml file")
    else:
        if not path.is_absolute() and relative_to is not None and (relative_to / path).exists():
            path = relative_to / path
        if not path.exists():
            raise FileNotFoundError(f"exchange rules file not found: {path}")
    return path


def _merge(base: dict, over: dict) -> dict:
    """``base`` with ``over``'s keys on top; nested tables merged key by key."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _raw_rules(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The TOML table of a preset with its ``extends`` chain resolved."""
    if path.resolve() in seen:
        raise ValueError(f"exchange rules {path}: 'extends' loops back to itself")
    raw = read_toml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    base = _raw_rules(_rules_path(parent, path.parent), seen + (path.resolve(),))
    return _merge(base, raw)


def load_rules(name_or_path: str | Path = "hyperliquid") -> ExchangeRules:
    """Load an exchange rule preset by name (see :func:`available_rules`) or TOML path."""
    path = _rules_path(name_or_path)
    raw = _raw_rules(path)
    assets_table = raw.pop("assets", {})
    default_asset = raw.pop("default_asset", {})
    schedule = raw.pop("fee_schedule", [])
    try:
        tiers = tuple(FeeTier(_utc(t["from"]), float(t["taker_fee"]), float(t["maker_fee"])) for t in schedule)
    except KeyError as err:
        raise ValueError(f"exchange rules {path}: every [[fee_schedule]] entry needs 'from', 'taker_fee' and "
                         f"'maker_fee'; one lacks {err}") from None
    top = {k: raw[k] for k in raw}
    assets = {sym: _asset_from_table(sym, tbl, top) for sym, tbl in assets_table.items()}
    return ExchangeRules(assets=assets, default_asset=default_asset, fee_schedule=tiers, **top)


def asset_specs(symbols: Sequence[str], rules: str | Path | ExchangeRules = "hyperliquid") -> tuple[AssetSpec, ...]:
    """Specs for ``symbols`` under an exchange preset (name, path or loaded rules)."""
    if not isinstance(rules, ExchangeRules):
        rules = load_rules(rules)
    return rules.specs(symbols)
