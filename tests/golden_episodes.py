"""Golden episodes: small seeded runs of the exchange whose every number is kept as a fixture.

Each scenario drives the exchange (directly, or through ``PerpTradingEnv`` with target, discrete
and decision actions) and records per step the account state (collateral, equity, sizes, entries,
leverages, isolated margins, exit levels, liquidation prices, closed flags), the step report
(flags, margin scale, liquidations, stop, target and order fills) and, at the end, the ledger.
Together they cover cross and isolated margin, the Hyperliquid and Binance presets, stops,
take-profits, liquidations (intrabar and at gapped opens), funding and replayed fill prices.

``tests/test_golden_episodes.py`` replays every scenario and compares with the fixture to 1e-9
relative. Regenerate the fixture deliberately, after an intended change of the rules, with::

    .venv/bin/python tests/golden_episodes.py --write

and explain the difference in the commit that changes it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from arena_gym.env import PerpTradingEnv  # noqa: E402
from arena_gym.exchange import Exchange, Orders  # noqa: E402
from arena_gym.market import MarketData, synthetic_market  # noqa: E402
from markets import random_market  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "golden_episodes.npz"
STATE_FIELDS = ("collateral", "size", "entry", "leverage", "isolated_margin", "stop_loss", "take_profit",
                "realized_pnl", "fees_paid", "funding_paid", "forfeited", "closed", "n_fills", "n_liquidations")
REPORT_FIELDS = ("flags", "margin_scale", "liquidated", "stops", "targets", "fills")


def gapped_market(seed: int, n_bars: int = 70) -> MarketData:
    """A random market whose opens gap by up to 12 % every few bars (liquidations at the open)."""
    base = random_market(seed, n_bars=n_bars, vol=0.02)
    rng = np.random.default_rng(seed + 99)
    arrays = {f: getattr(base, f).copy() for f in ("open", "high", "low", "close", "volume", "funding_rate")}
    gaps = rng.random(arrays["open"].shape) < 0.15
    factor = np.where(gaps, np.exp(rng.choice([-1.0, 1.0], gaps.shape) * rng.uniform(0.04, 0.12, gaps.shape)), 1.0)
    arrays["open"] = arrays["open"] * factor
    arrays["high"] = np.maximum(arrays["high"], arrays["open"])
    arrays["low"] = np.minimum(arrays["low"], arrays["open"])
    return MarketData(timestamps=base.timestamps, assets=base.assets, **arrays)


def wild_orders(rng: np.random.Generator, ex: Exchange) -> Orders:
    """Sizes up to 3x equity notional, leverage 0.5..60, random stops and targets, NaN holds."""
    s = ex.state
    n, a = s.size.shape
    size = rng.uniform(-3, 3, (n, a)) * np.maximum(s.equity, 1.0)[:, None] / s.mark
    size[rng.random((n, a)) < 0.4] = np.nan
    size[rng.random((n, a)) < 0.1] = 0.0
    lev = rng.uniform(0.5, 60, (n, a))
    lev[rng.random((n, a)) < 0.2] = np.nan
    stop = np.where(rng.random((n, a)) < 0.35, s.mark * rng.uniform(0.92, 1.08, (n, a)), np.nan)
    take = np.where(rng.random((n, a)) < 0.35, s.mark * rng.uniform(0.92, 1.08, (n, a)), np.nan)
    stop[rng.random((n, a)) < 0.05] = 0.0
    return Orders(size=size, leverage=lev, stop_loss=stop, take_profit=take)


def leveraged_orders(rng: np.random.Generator, ex: Exchange) -> Orders:
    """Near-maximum leverage on every asset, no exits: accounts run into cross liquidations."""
    s = ex.state
    n, a = s.size.shape
    lev = np.broadcast_to(ex.max_leverage, (n, a)).copy()
    size = rng.choice([-1.0, 1.0], (n, a)) * 0.3 * lev * np.maximum(s.equity, 1.0)[:, None] / s.mark
    size[rng.random((n, a)) < 0.5] = np.nan
    nan = np.full((n, a), np.nan)
    return Orders(size=size, leverage=lev, stop_loss=nan, take_profit=nan.copy())


def _record_exchange(ex: Exchange, report, out: dict[str, list]) -> None:
    s = ex.state
    for f in STATE_FIELDS:
        out.setdefault(f, []).append(np.array(getattr(s, f), copy=True))
    out.setdefault("equity", []).append(s.equity.copy())
    out.setdefault("liquidation_price", []).append(ex.liquidation_price().copy())
    for f in REPORT_FIELDS:
        out.setdefault(f"report_{f}", []).append(np.array(getattr(report, f), copy=True))


def _ledger(columns: dict[str, np.ndarray], out: dict[str, list]) -> dict[str, np.ndarray]:
    result = {k: np.stack(v) for k, v in out.items()}
    result.update({f"ledger_{k}": np.asarray(v).copy() for k, v in columns.items()})
    return result


def exchange_episode(seed: int, margin_mode: str, rules: str, market: MarketData, n_accounts: int = 4,
                     steps: int = 45, n_bars: int = 1, capital: float = 1_000.0, replay: bool = False,
                     make_orders=wild_orders) -> dict[str, np.ndarray]:
    """Wild orders straight into the exchange; with ``replay``, some fills at given prices and fees."""
    ex = Exchange(market, n_accounts, capital, margin_mode=margin_mode, rules=rules, ledger="full")
    ex.reset(np.arange(n_accounts) % 3)
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {}
    for _ in range(steps):
        if int(ex.state.bar.max()) + n_bars >= market.n_bars:
            break
        orders = make_orders(rng, ex)
        kw = {}
        if replay:
            shape = orders.size.shape
            nxt = market.open[ex.state.bar + 1]
            kw = dict(fill_price=np.where(rng.random(shape) < 0.5, nxt * rng.uniform(0.99, 1.01, shape), np.nan),
                      fee_rate=np.where(rng.random(shape) < 0.5, 0.0002, np.nan), maker=rng.random(shape) < 0.3)
        report = ex.step(orders, n_bars, **kw)
        _record_exchange(ex, report, out)
    return _ledger(ex.ledger.columns(), out)


DECISIONS = [
    {"BTC": {"coin": "BTC", "signal": "buy_to_enter", "quantity": 0.02, "leverage": 15, "profit_target": 0.0,
             "stop_loss": 0.0}},
    {"ETH": {"coin": "ETH", "signal": "sell_to_enter", "quantity": 1.5, "leverage": 30}},
    {"SOL": {"coin": "SOL", "signal": "buy_to_enter", "quantity": 200, "leverage": 8}},
    {"BTC": {"coin": "BTC", "signal": "close"}},
    {"DOGE": {"coin": "DOGE", "signal": "buy_to_enter", "quantity": 1e9, "leverage": 5}},
    {"XRP": {"coin": "XRP", "signal": "sell_to_enter", "quantity": 900, "leverage": 3}},
    {"ETH": {"coin": "ETH", "signal": "close"}, "SOL": {"coin": "SOL", "signal": "hold"}},
]


def _full(decisions: list[dict]) -> list[dict]:
    """The decisions with the contest's descriptive fields filled in."""
    extra = {"invalidation_condition": "none", "confidence": 0.5, "risk_usd": 50.0, "justification": "golden"}
    return [{coin: {**extra, **d} for coin, d in step.items()} for step in decisions]


DECISIONS = _full(DECISIONS)


def env_episode(action_mode: str, margin_mode: str = "cross", exchange: str = "hyperliquid", seed: int = 3,
                steps: int = 40, bars_per_decision: int = 1) -> dict[str, np.ndarray]:
    """Actions through ``PerpTradingEnv`` (the decision mode plays :data:`DECISIONS` in turn)."""
    market = synthetic_market(n_bars=600, seed=seed)
    env = PerpTradingEnv(market, action_mode=action_mode, margin_mode=margin_mode, exchange=exchange,
                         episode_length=steps, start=300, bars_per_decision=bars_per_decision,
                         observation_mode="text" if action_mode == "decision" else "numeric",
                         house_rules=action_mode == "decision", leverage_cap=3.0)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {}
    ex = env.core.exchange
    for i in range(steps):
        if action_mode == "target":
            action = rng.uniform(-1.3, 1.3, market.n_assets).astype(np.float32)
        elif action_mode == "discrete":
            action = rng.integers(0, 3, market.n_assets)
        else:
            decision = dict(DECISIONS[i % len(DECISIONS)])
            for coin, d in decision.items():   # stops and targets near the market, relative to the last close
                if d.get("signal", "").endswith("enter") and "stop_loss" in d:
                    mark = float(ex.state.mark[0, market.symbols.index(coin)])
                    d.update(stop_loss=mark * 0.99, profit_target=mark * 1.01)
            action = json.dumps(decision)
        _, reward, terminated, truncated, info = env.step(action)
        _record_exchange(ex, ex.report(), out)
        out.setdefault("reward", []).append(np.array([reward]))
        if terminated or truncated:
            break
    return _ledger(ex.ledger.columns(), out)


def scenarios() -> dict[str, callable]:
    """Name -> function returning the scenario's recorded arrays."""
    rm = lambda seed, vol: random_market(seed, n_bars=60, vol=vol)
    return {
        "cross_hl": lambda: exchange_episode(1, "cross", "hyperliquid", rm(1, 0.02)),
        "isolated_hl": lambda: exchange_episode(2, "isolated", "hyperliquid", rm(2, 0.02)),
        "cross_binance": lambda: exchange_episode(3, "cross", "binance-usdm", rm(3, 0.03)),
        "isolated_binance": lambda: exchange_episode(4, "isolated", "binance-usdm", rm(4, 0.03)),
        "cross_hl_gaps": lambda: exchange_episode(5, "cross", "hyperliquid", gapped_market(5)),
        "isolated_binance_gaps": lambda: exchange_episode(6, "isolated", "binance-usdm", gapped_market(6)),
        "cross_hl_4bars": lambda: exchange_episode(7, "cross", "hyperliquid", gapped_market(7, 200), n_bars=4),
        "cross_hl_liquidations": lambda: exchange_episode(9, "cross", "hyperliquid", gapped_market(9), n_accounts=6,
                                                          make_orders=leveraged_orders),
        "cross_binance_liquidations": lambda: exchange_episode(10, "cross", "binance-usdm", gapped_market(10),
                                                               n_accounts=6, make_orders=leveraged_orders),
        "cross_hl_replay": lambda: exchange_episode(8, "cross", "hyperliquid", rm(8, 0.01), replay=True),
        "env_target_cross": lambda: env_episode("target"),
        "env_discrete_isolated_binance": lambda: env_episode("discrete", "isolated", "binance-usdm", seed=4,
                                                             bars_per_decision=2),
        "env_decision_cross": lambda: env_episode("decision", seed=5),
        "env_decision_isolated": lambda: env_episode("decision", "isolated", seed=6),
    }


def record_all() -> dict[str, np.ndarray]:
    return {f"{name}/{key}": value for name, run in scenarios().items() for key, value in run().items()}


if __name__ == "__main__":
    if "--write" not in sys.argv:
        sys.exit("usage: python tests/golden_episodes.py --write   (overwrites the fixture)")
    arrays = record_all()
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXTURE, **arrays)
    print(f"wrote {len(arrays)} arrays to {FIXTURE.name} ({FIXTURE.stat().st_size / 1024:.0f} KiB)")
