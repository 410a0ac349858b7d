"""Environment parameters, shared by the single and the vector environment."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from ..exchange.slippage import SlippageModel
from .actions import ACTION_MODES

OBSERVATION_MODES = ("numeric", "text", "both")


@dataclass(frozen=True)
class EnvConfig:
    """Parameters of a perpetual-futures trading environment.

    Attributes:
        assets: symbols to trade (default: every asset of the market), in this order.
        initial_capital: starting collateral, quote currency.
        bars_per_decision: bars simulated per ``step`` (e.g. 4 on 1h data = a 4h decision).
        episode_length: decisions per episode; ``None`` runs to the end of the split.
        start: ``"random"`` (uniform over valid starts in the split, from the env's seed), a bar
            index, or a UTC timestamp string: the bar the first observation is taken at.
        split: ``(begin, end)`` of the usable data, each a fraction of the data in [0, 1], a bar
            index or a timestamp; end exclusive. ``None`` = all data.
        lookback: bars of market features in the numeric observation.
        margin_mode: ``"cross"`` or ``"isolated"``.
        exchange: exchange rule preset (name or TOML path); asset specs are taken from it.
        fees: ``"exchange"`` (the preset's), ``"zero"``, or ``(taker, maker)`` fractions.
        slippage: slippage preset name or model (see :mod:`arena_gym.exchange.slippage`).
        leverage_cap: gross exposure limit of the RL action modes, in multiples of equity; on
            isolated margin their positions open at the target gross exposure rounded up (at
            least 1x: margins in proportion to each position's share of equity), on cross margin
            at ``max(leverage_cap, default leverage)``; capped per asset (see :mod:`.actions`);
            in the ``target_leverage`` mode the action gives each order's leverage.
        deadband: RL action modes skip trades smaller than this fraction of equity.
        action_mode: ``"target"``, ``"target_leverage"`` (target weights and each order's
            leverage), ``"discrete"`` or ``"decision"`` (the contest's JSON).
        observation_mode: ``"numeric"`` (Box), ``"text"`` (the contest prompt) or ``"both"``.
        reward: ``"log_return"``, ``"return"``, ``"pnl"`` or a callable (see ``rewards``).
        house_rules: the contest's rules for decisions (one position per coin, no pyramiding).
        default_leverage: leverage for decisions that give none (``None``: min(10, max)).
        ledger: ``"episode"``, ``"full"``, ``"fills"`` or ``"off"`` (see
            :mod:`arena_gym.exchange.ledger`); ``None`` (default): ``"episode"`` in
            :class:`PerpTradingEnv` (every row of the current episode, what evaluation reads;
            dropped at ``reset``, so memory stays flat over long training) and ``"off"`` in the
            vector envs, which are for training speed. ``"full"`` keeps every row of every
            episode (about 1 KB per step with six positions held).
        extra: further options of the text side: ``prompt_template`` and ``system_template``
            (paths of user and system prompt templates replacing ``policies/prompts/``).
    """

    assets: Sequence[str] | None = None
    initial_capital: float = 10_000.0
    bars_per_decision: int = 1
    episode_length: int | None = 720
    start: str | int = "random"
    split: tuple[Any, Any] | None = None
    lookback: int = 16
    margin_mode: str = "cross"
    exchange: str = "hyperliquid"
    fees: str | tuple[float, float] = "exchange"
    slippage: str | SlippageModel = "default"
    leverage_cap: float = 3.0
    deadband: float = 0.02
    action_mode: str = "target"
    observation_mode: str = "numeric"
    reward: str | Callable = "log_return"
    house_rules: bool = False
    default_leverage: float | None = None
    ledger: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action_mode not in ACTION_MODES:
            raise ValueError(f"unknown action_mode {self.action_mode!r}; available: {ACTION_MODES}")
        if self.observation_mode not in OBSERVATION_MODES:
            raise ValueError(f"unknown observation_mode {self.observation_mode!r}; available: {OBSERVATION_MODES}")
        if self.bars_per_decision < 1:
            raise ValueError(f"bars_per_decision must be >= 1, got {self.bars_per_decision}")
        if self.episode_length is not None and self.episode_length < 1:
            raise ValueError(f"episode_length must be >= 1 or None, got {self.episode_length}")
        if self.lookback < 1:
            raise ValueError(f"lookback must be >= 1, got {self.lookback}")
        if not self.leverage_cap > 0:
            raise ValueError(f"leverage_cap must be > 0, got {self.leverage_cap}")
        if not 0 <= self.deadband < 1:
            raise ValueError(f"deadband must be in [0, 1), got {self.deadband}")
        if not self.initial_capital > 0:
            raise ValueError(f"initial_capital must be > 0, got {self.initial_capital}")

    def as_dict(self) -> dict:
        """A JSON-friendly snapshot (callables and models by name)."""
        out = asdict(self)
        for key in ("reward", "slippage"):
            value = getattr(self, key)
            if not isinstance(value, str):
                out[key] = getattr(value, "__name__", repr(value))
        return out
