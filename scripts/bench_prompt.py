"""Prompt rendering benchmark: microseconds per user prompt for the contest's six coins.

Usage (from the repository root, in the project's environment)::

    python scripts/bench_prompt.py                     # 2,000 renders, 1h bars, 3 open positions
    python scripts/bench_prompt.py --renders 10000 --bar 15m

The market is the seeded synthetic six-coin market (``arena_gym.market.synthetic``) with open
interest and hourly funding. The renderer is built once (its set-up time is reported apart);
then every render is timed on its own, each at a different bar, so nothing is reused between
renders. The figure to compare with the 1 ms budget is the median.
"""

from __future__ import annotations

import argparse
import statistics
import time

from arena_gym.protocol.prompt import AccountView, PositionView, PromptRenderer
from arena_gym.market.indicators import WARMUP_BARS
from arena_gym.market.synthetic import synthetic_market

BUDGET_US = 1000.0


def open_positions(market, t: int) -> list[PositionView]:
    """Three positions (long BTC, short SOL, long DOGE) priced at bar ``t``."""
    views = []
    for symbol, quantity, leverage in (("BTC", 0.48, 20), ("SOL", -25.7, 10), ("DOGE", 27858.0, 8)):
        a = market.symbols.index(symbol)
        price = float(market.close[t, a])
        entry = price * (0.99 if quantity > 0 else 1.01)
        views.append(PositionView(
            symbol=symbol, quantity=quantity, entry_price=entry, current_price=price,
            liquidation_price=entry * (1 - 0.9 / leverage if quantity > 0 else 1 + 0.9 / leverage),
            unrealized_pnl=quantity * (price - entry), leverage=leverage, notional_usd=abs(quantity) * price,
            profit_target=entry * (1.05 if quantity > 0 else 0.95), stop_loss=entry * (0.97 if quantity > 0 else 1.03),
            invalidation_condition=f"4h close beyond {entry:.6g}", confidence=0.65, risk_usd=250.0,
        ))
    return views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=2000, help="timed renders (default 2000)")
    parser.add_argument("--bars", type=int, default=4000, help="bars in the synthetic market (default 4000)")
    parser.add_argument("--bar", default="1h", help="bar length of the market (default 1h)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    market = synthetic_market(n_bars=args.bars, bar=args.bar, seed=args.seed)
    started = time.perf_counter()
    renderer = PromptRenderer(market)
    setup_ms = (time.perf_counter() - started) * 1e3

    first = WARMUP_BARS * 4 + 10
    bars = [first + i % (market.n_bars - first) for i in range(args.renders)]
    accounts = {t: AccountView(initial_capital=10000.0, account_value=11361.64, available_cash=5555.87,
                               total_return_pct=13.6164, sharpe=0.021, positions=open_positions(market, t))
                for t in set(bars)}
    renderer.render(bars[0], accounts[bars[0]], minutes_since_start=0.0, invocation=1)  # untimed warm-up

    timings_us = []
    for i, t in enumerate(bars):
        start = time.perf_counter_ns()
        text = renderer.render(t, accounts[t], minutes_since_start=60.0 * i, invocation=i + 1)
        timings_us.append((time.perf_counter_ns() - start) / 1e3)

    median = statistics.median(timings_us)
    ordered = sorted(timings_us)
    print(f"market: {market.n_bars} bars of {args.bar}, assets {', '.join(market.symbols)}, 3 open positions")
    print(f"renderer set-up: {setup_ms:.1f} ms (once per market)")
    print(f"renders: {len(timings_us)}, prompt length {len(text)} characters")
    print(f"per render: mean {statistics.fmean(timings_us):.1f} us, median {median:.1f} us, "
          f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:.1f} us, min {ordered[0]:.1f} us")
    print(f"budget {BUDGET_US:.0f} us: {'within' if median <= BUDGET_US else 'OVER'}")


if __name__ == "__main__":
    main()
