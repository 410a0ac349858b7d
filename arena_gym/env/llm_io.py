"""The LLM side of one account: the contest prompt as observation, the contest decision as action.

:class:`TextObserver` renders the user prompt (and, once, the system prompt) from the same
state the numeric observation reads, and keeps what only the text needs: each open
position's exit plan as the policy stated it (invalidation condition, confidence, risk_usd),
the invocation count and the episode's running Sharpe ratio. :class:`DecisionDecoder` parses
any answer (JSON text, dict, list, decision objects, or an LLM response carrying an error) and
decodes it into the one internal :class:`~arena_gym.exchange.orders.Orders`; the exchange's
validator then treats it like any RL order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exchange.orders import Orders
from ..protocol.decision import Fallback, ParsedDecision, Signal
from ..protocol.decode import decode_decisions
from ..protocol.parse import parse_decision
from ..protocol.prompt import AccountView, PositionView, PromptRenderer, render_system_prompt
from .core import PerpCore


@dataclass
class DecisionRecord:
    """What the env made of one decision: the parse, every fallback, and the executed orders."""

    parsed: ParsedDecision
    fallbacks: list[Fallback]
    orders: Orders
    flags: np.ndarray

    def to_record(self) -> dict[str, Any]:
        out = self.parsed.to_record()
        out["fallbacks"] = [f.to_dict() for f in self.fallbacks]
        return out


@dataclass
class _RunningSharpe:
    """Sharpe ratio of per-decision equity returns, annualized, updated in O(1) per step."""

    periods_per_year: float
    count: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, ret: float) -> None:
        self.count += 1
        self.total += ret
        self.total_sq += ret * ret

    def value(self) -> float | None:
        if self.count < 2:
            return None
        mean = self.total / self.count
        var = (self.total_sq - self.count * mean * mean) / (self.count - 1)
        return 0.0 if var <= 0 else mean / math.sqrt(var) * math.sqrt(self.periods_per_year)


@dataclass
class _ExitPlan:
    invalidation_condition: str = ""
    confidence: float | None = None
    risk_usd: float | None = None


class TextObserver:
    """Renders the contest prompt for account 0 of ``core`` (see the module docstring)."""

    def __init__(self, core: PerpCore, *, template=None, system_template=None) -> None:
        self.core = core
        m = core.market
        self.renderer = PromptRenderer(m, template=template)
        self.system_prompt = render_system_prompt(m.symbols, m.assets, core.rules,
                                                  house_rules=core.config.house_rules, template=system_template)
        self.plans: dict[int, _ExitPlan] = {}
        self.invocation = 0
        self.start_bar = 0
        self.sharpe = _RunningSharpe(m.bars_per_year / core.k)

    def market_extended(self) -> None:
        """Extend the prompt's tables by the bars the market gained in place."""
        self.renderer.extend()

    def reset(self) -> None:
        self.plans.clear()
        self.invocation = 0
        self.start_bar = int(self.core.exchange.state.bar[0])
        self.sharpe = _RunningSharpe(self.sharpe.periods_per_year)

    def after_step(self, prev_equity: float, decision: DecisionRecord | None) -> None:
        """Track the Sharpe ratio and the stated exit plans of positions opened by ``decision``."""
        s = self.core.exchange.state
        equity = float(s.equity[0])
        if prev_equity > 0:
            self.sharpe.add(equity / prev_equity - 1.0)
        symbols = self.core.market.symbols
        if decision is not None:
            for coin, d in decision.parsed.decisions.items():
                if d.signal in (Signal.BUY_TO_ENTER, Signal.SELL_TO_ENTER) and coin in symbols:
                    a = symbols.index(coin)
                    side = 1 if d.signal is Signal.BUY_TO_ENTER else -1
                    if np.sign(s.size[0, a]) == side and np.isfinite(decision.orders.size[0, a]):
                        self.plans[a] = _ExitPlan(d.invalidation_condition or "", d.confidence, d.risk_usd)
        for a in list(self.plans):
            if s.size[0, a] == 0:
                del self.plans[a]

    def observe(self) -> str:
        core, s = self.core, self.core.exchange.state
        self.invocation += 1
        t = int(s.bar[0])
        equity = float(s.equity[0])
        initial = float(s.initial_capital[0])
        positions = []
        for p in core.positions(0):
            a = core.market.symbols.index(p.symbol)
            plan = self.plans.get(a, _ExitPlan())
            positions.append(PositionView(
                symbol=p.symbol, quantity=p.size, entry_price=p.entry_price, current_price=p.mark_price,
                liquidation_price=p.liquidation_price or None, unrealized_pnl=p.unrealized_pnl, leverage=p.leverage,
                notional_usd=p.notional, profit_target=p.take_profit, stop_loss=p.stop_loss,
                invalidation_condition=plan.invalidation_condition, confidence=plan.confidence,
                risk_usd=plan.risk_usd))
        account = AccountView(
            initial_capital=initial, account_value=equity,
            available_cash=float(core.exchange.available_margin()[0]),
            total_return_pct=100.0 * (equity / initial - 1.0), sharpe=self.sharpe.value(), positions=positions)
        minutes = (t - self.start_bar) * core.market.bar_seconds / 60.0
        return self.renderer.render(t, account, minutes_since_start=minutes, invocation=self.invocation)


class DecisionDecoder:
    """Parse and decode contest decisions for account 0 of ``core``."""

    def __init__(self, core: PerpCore) -> None:
        self.core = core
        m = core.market
        self.max_leverage = {a.symbol: a.max_leverage for a in m.assets}
        self.default_leverage = core.exchange.default_leverage

    def decode(self, action: Any) -> DecisionRecord:
        parsed = parse_decision(action, self.core.market.symbols, self.max_leverage)
        orders, flags, fallbacks = decode_decisions(
            parsed, self.core.market.symbols, self.core.exchange.state.size[0],
            house_rules=self.core.config.house_rules, default_leverage=self.default_leverage)
        return DecisionRecord(parsed=parsed, fallbacks=fallbacks, orders=orders, flags=flags)
