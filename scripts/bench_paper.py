"""Cost per bar of a long paper-trading run, on a fake clock (no network, no waiting).

Usage (from the repository root, in the project's environment)::

    python scripts/bench_paper.py                 # 10,000 live bars
    python scripts/bench_paper.py --bars 2000 --out runs/bench-paper

Runs :class:`~arena_gym.campaigns.paper_trading.PaperSession` as ``arena-gym paper`` does (the
``alpha-arena-s1`` env preset, 500 history bars, 5-minute bars of BTC, ETH and SOL) with three
contestants: the ``ema_momentum`` and ``random`` baselines and a mock LLM that sees the contest
prompt (rendered at every decision) and answers at once with the ``mock`` LLM preset's fixed
answer, which the env parses: LLM latency is excluded. ``--litellm-mock`` uses the ``mock``
preset itself instead, through litellm's offline mock (its own overhead included).
The exchange is ccxt's own Hyperliquid class answering from the synthetic responses of the test
suite's fake venue (``tests/fixtures/ccxt_venues.py``), and the clock is a fake one that moves
only when the feed sleeps, so the figures are the session's own work per bar: polling and
parsing the candles and funding, growing the market, stepping and deciding for every
contestant, appending the bar and the journal (fsynced), and rewriting the evaluation files
when ``outputs_every_s`` (60 s of wall time) has passed.

Prints the wall time per bar (median and mean over the 10 bars up to bar 10, 1,000 and the
last), the ratio of the last to the first, how many times the evaluation files were rewritten
and how long the last rewrite took, and the process's resident memory at those bars and at its
peak.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))  # the fake exchange APIs


def rss_mib() -> float:
    import os

    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=10_000, help="live bars to run (default 10,000)")
    parser.add_argument("--out", help="session folder to keep (default: a temporary one, removed)")
    parser.add_argument("--litellm-mock", action="store_true", help="the LLM contestant is llm:mock through litellm")
    args = parser.parse_args()
    if args.bars < 20:
        parser.error("--bars must be >= 20")

    import numpy as np

    from arena_gym.data import Backoff
    from arena_gym.data.live import LiveFeed
    from arena_gym.data.symbols import to_millis
    from arena_gym.campaigns.paper_trading import PaperSession, policies_for
    from arena_gym.agents.policies import CallablePolicy, LLMTrader
    from arena_gym.presets import env_config, read_env_preset
    from ccxt_venues import FakeClock, FakeHyperliquid, OnFakeClock, hyperliquid_client

    class ClockedHyperliquid(OnFakeClock, FakeHyperliquid):
        """The fake venue reading the fake clock; its call log is not kept (it would grow)."""

        def __init__(self, clock: FakeClock) -> None:
            self.clock = clock
            super().__init__(clock.t, coins=("BTC", "ETH", "SOL"))

        def fetch(self, *a, **kw):
            self.calls.clear()
            return super().fetch(*a, **kw)

    clock = FakeClock(to_millis("2025-10-09T08:00:00Z") + 3_000)
    fake = ClockedHyperliquid(clock)
    feed = LiveFeed("hyperliquid", ("BTC", "ETH", "SOL"), "5m", client=hyperliquid_client(fake), clock=clock,
                    grace_s=2.0, backoff=Backoff(sleep=clock.sleep))
    preset = read_env_preset("alpha-arena-s1")
    config = env_config(preset.get("env", {}), preset["path"])
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-paper-"))
    marks = sorted({10, 1_000, args.bars} & set(range(1, args.bars + 1)))
    seconds = np.zeros(args.bars)
    memory: dict[int, float] = {}
    last = [0.0]
    live = [0]

    def on_bar(_line: str) -> None:
        now = time.perf_counter()
        seconds[live[0]] = now - last[0]
        live[0] += 1
        if live[0] in marks:
            memory[live[0]] = rss_mib()
        last[0] = time.perf_counter()

    try:
        specs = ["ema_momentum", "random"] + (["llm:mock"] if args.litellm_mock else [])
        with policies_for(specs, out) as policies:
            if not args.litellm_mock:
                policies = [*policies, CallablePolicy(lambda prompt, info: "{}", name="mock-llm",
                                                      env_overrides=LLMTrader.env_overrides)]
            session = PaperSession(feed, policies, config, out, history_bars=500, seed=0, status=on_bar)
            t0 = time.perf_counter()
            session.start()
            print(f"start (history, compile, first decisions): {time.perf_counter() - t0:.1f} s", flush=True)
            last[0] = time.perf_counter()
            summary = session.run(max_bars=args.bars)
        print(f"{summary['live_bars']:,} live bars, three contestants ({', '.join(summary['equity'])}); "
              f"equity " + ", ".join(f"{k} {v:,.2f}" for k, v in summary["equity"].items()))
        first = None
        for bar in marks:
            window = seconds[max(0, bar - 10):bar]
            median, mean = 1000 * float(np.median(window)), 1000 * float(np.mean(window))
            first = first or median
            print(f"bar {bar:>6,}: {median:7.1f} ms per bar (median of bars {max(1, bar - 9):,}-{bar:,}; mean "
                  f"{mean:.1f} ms), RSS {memory[bar]:,.1f} MiB")
        last_median = 1000 * float(np.median(seconds[-10:]))
        print(f"last / first: {last_median / first:.2f}x; mean over all bars {1000 * seconds.mean():.1f} ms")
        writes = session.output_seconds
        print(f"evaluation files written {len(writes)} times (at the start, every 60 s of wall time and at the end); "
              f"the last took {writes[-1]:.2f} s")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.1f} MiB")
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
