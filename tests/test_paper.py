"""Paper trading on a live feed: ccxt's real hyperliquid class fed recorded-shape responses
(tests/fixtures/ccxt_venues.py) whose clock is a fake one the feed sleeps on, so no test waits
for real time and none reaches an exchange."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ccxt = pytest.importorskip("ccxt", reason="the live feed needs the data extra (ccxt)")

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))  # the fake exchange APIs

from arena_gym.data import Backoff, download, load_cached_market
from arena_gym.data.live import LiveFeed
from arena_gym.data.symbols import to_millis
from arena_gym.env.config import EnvConfig
from arena_gym.agents.baselines import make_baseline
from arena_gym.campaigns.paper_trading import JOURNAL_NAME, LIVE_BARS_NAME, PaperSession, policies_for, read_lines
from arena_gym.evaluation.runner import make_env, policy_seed, read_log
from ccxt_venues import (FakeBinanceUsdm, FakeClock, FakeHyperliquid, OnFakeClock, binance_client, candle,
                         funding_rate, hyperliquid_client)

BAR = 300_000  # 5m
COINS = ("BTC", "ETH", "SOL")
T0 = to_millis("2025-10-09T08:00:00Z") + 3_000  # a bar closed 3 s ago (grace 2 s)
HISTORY = 80
CONFIG = EnvConfig(lookback=8, leverage_cap=3.0)


class LiveHyperliquid(OnFakeClock, FakeHyperliquid):
    """The fake Hyperliquid API on the fake clock, with scripted late, missing and revised
    candles and outages."""

    def __init__(self, clock: FakeClock, **kw) -> None:
        self.clock = clock
        self.publish: dict[tuple[str, int], int] = {}   # (coin, bar) -> time it is first served
        self.revise: dict[tuple[str, int], int] = {}    # (coin, bar) -> time its close changes
        self.down: list[tuple[int, int]] = []           # [from, to) ms: every data call fails
        super().__init__(clock.t, coins=COINS, **kw)

    def fail(self, endpoint, params):
        if endpoint in self.data_endpoints and any(a <= self.clock.t < b for a, b in self.down):
            raise ccxt.NetworkError("hyperliquid connection reset")
        super().fail(endpoint, params)

    def candles(self, r):
        rows = [row for row in super().candles(r) if self.clock.t >= self.publish.get((row["s"], row["t"]), 0)]
        for row in rows:
            if self.clock.t >= self.revise.get((row["s"], row["t"]), 1 << 62):
                row["c"] = row["h"]
        return rows


def make_feed(clock, fake, events=None, **kw):
    kw.setdefault("grace_s", 2.0)
    kw.setdefault("late_limit_s", 60.0)
    kw.setdefault("poll_s", 5.0)
    return LiveFeed("hyperliquid", COINS, "5m", client=hyperliquid_client(fake), clock=clock,
                    backoff=Backoff(attempts=2, base_delay=1.0, sleep=clock.sleep), log=events, **kw)


def baselines():
    return [make_baseline("random"), make_baseline("ema_momentum"), make_baseline("buy_and_hold")]


def paper_run(tmp, clock, fake, max_bars, policies=None, **kw):
    session = PaperSession(make_feed(clock, fake, **kw), policies or baselines(), CONFIG, tmp, history_bars=HISTORY,
                           seed=3)
    return session, session.run(max_bars=max_bars)


def steps_of(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / "episodes" / name / "w000-s3.steps.parquet")


def offline(tmp, first_bar, n_bars, policy):
    """The same bars through the download cache and an offline PerpTradingEnv episode."""
    fake = FakeHyperliquid(first_bar + n_bars * BAR + 10_000, coins=COINS)
    download("hyperliquid", COINS, "5m", first_bar, first_bar + n_bars * BAR, client=hyperliquid_client(fake),
             cache_dir=tmp, progress=False, backoff=Backoff(sleep=lambda s: None))
    market = load_cached_market("hyperliquid", COINS, "5m", first_bar, first_bar + n_bars * BAR, cache_dir=tmp)
    config = EnvConfig(**{**CONFIG.__dict__, "episode_length": None})
    env = make_env(market, config, policy)
    obs, info = env.reset(seed=3, options={"start": HISTORY - 1})
    if hasattr(policy, "bind"):
        policy.bind(env)
    policy.reset(policy_seed(3, HISTORY - 1))
    equity, done = [], False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        equity.append(info["equity"])
        done = terminated or truncated
    return market, env, equity


def test_paper_run_equals_an_offline_run_over_the_same_bars(tmp_path):
    clock = FakeClock(T0)
    fake = LiveHyperliquid(clock)
    session, summary = paper_run(tmp_path / "paper", clock, fake, max_bars=30)
    assert summary["live_bars"] == 30
    first_bar = int(session.store.times[0])
    # the history ends with the bar that closed before T0; live bars follow, one per 5 minutes
    assert int(session.store.times[HISTORY - 1]) == (T0 // BAR - 1) * BAR
    assert np.array_equal(np.diff(session.store.times), np.full(HISTORY + 29, BAR))
    assert clock.t >= session.store.times[-1] + BAR + 2_000   # nothing served before its close + grace
    for contestant, policy in zip(session.contestants, baselines()):
        market, env, equity = offline(tmp_path / "cache", first_bar, HISTORY + 30, policy)
        if contestant.name == "random":  # the stored bars are the downloaded ones, funding included
            n = market.n_bars
            paper_market = session.market()
            for f in ("open", "high", "low", "close", "volume", "funding_rate"):
                assert np.array_equal(getattr(paper_market, f)[:n], getattr(market, f)), f
            assert market.funding_rate.any()
        steps = steps_of(tmp_path / "paper", contestant.name)
        assert len(steps) == 30 == len(equity)
        assert steps["equity"].tolist() == equity                       # step for step, bitwise
        pd.testing.assert_frame_equal(contestant.env.ledger_frame(), env.ledger_frame())
        assert len(env.ledger_frame()) > 0
    log = {r["policy"]: r for r in read_log(tmp_path / "paper")}
    assert set(log) == {"random", "ema_momentum", "buy_and_hold"} and all(r["status"] == "ok" for r in log.values())


def test_a_restart_resumes_without_losing_or_doubling_a_bar(tmp_path):
    clock = FakeClock(T0)
    reference, _ = paper_run(tmp_path / "ref", clock, LiveHyperliquid(clock), max_bars=30)

    clock = FakeClock(T0)
    fake = LiveHyperliquid(clock)
    first, _ = paper_run(tmp_path / "run", clock, fake, max_bars=12)
    journal = read_lines(tmp_path / "run" / JOURNAL_NAME)
    assert len(journal) == 36 and {r["policy"] for r in journal} == {"random", "ema_momentum", "buy_and_hold"}
    assert [r["step"] for r in journal if r["policy"] == "random"] == list(range(12))
    # a kill in the middle of writing a line: the torn line is dropped and that decision taken again
    with (tmp_path / "run" / JOURNAL_NAME).open("a") as fh:
        fh.write('{"policy": "random", "step": 12, "bar"')
    clock.t += 9 * BAR  # the session was down for nine bars
    events = []
    second, summary = paper_run(tmp_path / "run", clock, fake, max_bars=30, events=events.append)
    assert summary["live_bars"] == 30
    for a, b in zip(reference.contestants, second.contestants):
        pd.testing.assert_frame_equal(steps_of(tmp_path / "ref", a.name), steps_of(tmp_path / "run", b.name))
        pd.testing.assert_frame_equal(a.env.ledger_frame(), b.env.ledger_frame())
    events_file = (tmp_path / "run" / "events.jsonl")
    kinds = [json.loads(line)["kind"] for line in events_file.read_text().splitlines()] if events_file.exists() else []
    assert "diverged" not in kinds  # the random baseline's generator was restored by deciding again
    # a third run with nothing new to do changes nothing
    before = [(tmp_path / "run" / name).read_text() for name in (JOURNAL_NAME, LIVE_BARS_NAME)]
    paper_run(tmp_path / "run", clock, fake, max_bars=30)
    assert [(tmp_path / "run" / name).read_text() for name in (JOURNAL_NAME, LIVE_BARS_NAME)] == before


def test_late_bar_is_waited_for_and_a_missing_one_gets_the_gap_rule(tmp_path):
    clock = FakeClock(T0)
    fake = LiveHyperliquid(clock)
    late_bar, lost_bar = (T0 // BAR + 1) * BAR, (T0 // BAR + 3) * BAR
    fake.publish[("ETH", late_bar)] = late_bar + BAR + 40_000         # 40 s after its close: late
    fake.publish[("SOL", lost_bar)] = lost_bar + BAR + 600_000        # 10 min after: past the limit
    events = []
    session, _ = paper_run(tmp_path, clock, fake, max_bars=6, events=events.append)
    store = session.store
    i_late, i_lost = [int(np.flatnonzero(store.times == t)[0]) for t in (late_bar, lost_bar)]
    assert tuple(store.ohlcv[i_late, 1]) == candle("ETH", late_bar, BAR) and not store.filled[i_late].any()
    sol = COINS.index("SOL")
    prev_close = store.ohlcv[i_lost - 1, sol, 3]
    assert store.filled[i_lost].tolist() == [False, False, True]
    assert tuple(store.ohlcv[i_lost, sol]) == (prev_close,) * 4 + (0.0,)
    assert store.funding[i_lost, sol] == 0.0
    kinds = {(e.kind, e.coin, e.bar) for e in events}
    assert ("late", "ETH", late_bar) in kinds and ("late", "SOL", lost_bar) in kinds
    assert ("missing", "SOL", lost_bar) in kinds
    assert ("missing", "ETH", late_bar) not in kinds
    # the lost candle shows up later: logged as a revision, the filled bar is kept
    assert ("revised", "SOL", lost_bar) in kinds
    logged = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert {(r["kind"], r["coin"], r["bar"]) for r in logged} >= {("missing", "SOL", lost_bar)}


def test_a_revised_bar_is_logged_and_never_rewritten(tmp_path):
    clock = FakeClock(T0)
    fake = LiveHyperliquid(clock)
    bar = (T0 // BAR + 1) * BAR
    fake.revise[("BTC", bar)] = bar + 2 * BAR  # its close changes two bars later
    events = []
    session, _ = paper_run(tmp_path, clock, fake, max_bars=5, events=events.append)
    i = int(np.flatnonzero(session.store.times == bar)[0])
    assert tuple(session.store.ohlcv[i, 0]) == candle("BTC", bar, BAR)
    assert [e.kind for e in events if e.bar == bar] == ["revised"]


def test_an_outage_backs_off_and_catches_up_in_order(tmp_path):
    clock = FakeClock(T0)
    reference, _ = paper_run(tmp_path / "ref", clock, LiveHyperliquid(clock), max_bars=20)
    clock = FakeClock(T0)
    fake = LiveHyperliquid(clock)
    fake.down.append((T0 + 2 * BAR, T0 + 9 * BAR))  # 35 minutes without the exchange
    events = []
    session, _ = paper_run(tmp_path / "run", clock, fake, max_bars=20, events=events.append)
    kinds = [e.kind for e in events]
    assert kinds.count("outage") == 1 and kinds.count("recovered") == 1
    assert kinds.index("outage") < kinds.index("recovered")
    # every wait of the outage is announced with the time of the next try, and the feed keeps waiting
    retries = [e for e in events if e.kind == "retry"]
    assert len(retries) >= 3 and kinds.index("outage") < kinds.index("retry") < kinds.index("recovered")
    for e in retries:
        next_try = re.search(r"next try at (\S+) \(in (\d+) s\)", e.detail)
        assert next_try and to_millis(next_try.group(1)) == (e.at + 1000 * int(next_try.group(2))) // 1000 * 1000
    assert not session.store.filled.any()  # an outage is not a gap in the market
    for a, b in zip(reference.contestants, session.contestants):
        pd.testing.assert_frame_equal(steps_of(tmp_path / "ref", a.name), steps_of(tmp_path / "run", b.name))


def test_llm_contestant_replays_its_cached_answers_after_a_restart(tmp_path):
    pytest.importorskip("litellm")
    clock = FakeClock(T0)
    fake = LiveHyperliquid(clock)
    with policies_for(["llm:mock", "hold_cash"], tmp_path) as policies:
        paper_run(tmp_path, clock, fake, max_bars=4, policies=policies)
    cache = tmp_path / "llm-cache" / "llm_mock.jsonl"
    calls = cache.read_text().splitlines()
    assert len(calls) == 5  # four stepped decisions and the one pending at the last close
    with policies_for(["llm:mock", "hold_cash"], tmp_path) as policies:
        session, summary = paper_run(tmp_path, clock, fake, max_bars=6, policies=policies)
    assert len(cache.read_text().splitlines()) == 7  # only the two new bars were asked
    steps = steps_of(tmp_path, "llm_mock")
    assert len(steps) == 6 and (steps["equity"] == 10_000.0).all()
    events_file = tmp_path / "events.jsonl"
    assert not events_file.exists() or "diverged" not in events_file.read_text()


class LiveBinance(OnFakeClock, FakeBinanceUsdm):
    """The fake Binance USD-M API on the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        super().__init__(clock.t, coins=COINS)


def test_binance_feed_serves_closed_bars_with_their_8_hourly_funding():
    clock = FakeClock(to_millis("2025-10-09T15:55:00Z") + 3_000)
    fake = LiveBinance(clock)
    feed = LiveFeed("binanceusdm", COINS, "5m", client=binance_client(fake), clock=clock, grace_s=2.0,
                    backoff=Backoff(sleep=clock.sleep))
    history = feed.history(100)
    assert len(history) == 100 and history.times[-1] == to_millis("2025-10-09T15:50:00Z")
    bars = feed.next_bars(int(history.times[-1]), history.ohlcv[-1, :, 3], max_wait_s=3_600)
    # the first call waits for 15:55 to close; every bar since is served at once, in order
    assert bars.times.tolist() == [to_millis("2025-10-09T15:55:00Z")]
    assert clock.t >= to_millis("2025-10-09T16:00:02Z")
    clock.t = to_millis("2025-10-09T16:20:05Z")
    bars = feed.next_bars(int(bars.times[-1]), bars.ohlcv[-1, :, 3], max_wait_s=0)
    assert bars.times.tolist() == [to_millis("2025-10-09T16:00:00Z") + i * BAR for i in range(4)]
    for i, t in enumerate(bars.times.tolist()):
        assert tuple(bars.ohlcv[i, 0]) == candle("BTC", t, BAR)
    # the 16:00 settlement (stamped a few ms late) belongs to the 16:00 bar; no other bar has one
    assert bars.funding[0].tolist() == [funding_rate(c, to_millis("2025-10-09T16:00:00Z")) * 8 for c in COINS]
    assert not bars.funding[1:].any()


def test_max_wait_bounds_the_poller():
    clock = FakeClock(T0)
    feed = make_feed(clock, LiveHyperliquid(clock))
    history = feed.history(10)
    t = clock.t
    empty = feed.next_bars(int(history.times[-1]), history.ohlcv[-1, :, 3], max_wait_s=60)
    assert len(empty) == 0 and clock.t - t == 60_000   # the next bar closes in 5 minutes


def test_paper_command_runs_contestants_and_report_reads_the_folder(tmp_path, capsys):
    pytest.importorskip("litellm")
    from arena_gym.cli import build_parser
    from arena_gym.cli import paper as paper_cli
    from arena_gym.evaluation.evaluation_report import write_report

    clock = FakeClock(T0)
    client = hyperliquid_client(LiveHyperliquid(clock))
    out = tmp_path / "paper"
    args = build_parser().parse_args(["paper", "--env", "alpha-arena-s1", "--coins", "BTC,ETH,SOL", "--timeframe", "5m",
                                      "--llm", "mock", "--add", "random", "--max-bars", "3", "--history-bars", "80",
                                      "--grace", "2", "--out", str(out)])
    assert paper_cli.run(args, client=client, clock=clock) == 0
    printed = capsys.readouterr().out
    status = [line for line in printed.splitlines() if line.startswith("bar ")]
    assert len(status) == 3 and "llm:mock 10,000.00" in status[-1] and "next decision" in status[-1]
    summary = write_report(out)
    assert sorted(summary["metrics"].index) == ["llm:mock", "random"]
    assert (out / "report.html").is_file()
    bad = build_parser().parse_args(["paper", "--coins", "BTC", "--max-bars", "0", "--add", "random"])
    with pytest.raises(ValueError, match="--max-bars must be >= 1"):
        paper_cli.run(bad, client=client, clock=clock)


def test_paper_command_gives_up_when_the_exchange_never_answers(tmp_path, capsys):
    from arena_gym.cli import build_parser
    from arena_gym.cli import paper as paper_cli

    clock = FakeClock(T0)
    fake = LiveHyperliquid(clock)
    fake.down.append((0, 1 << 62))  # no network at all
    out = tmp_path / "paper"
    args = build_parser().parse_args(["paper", "--coins", "BTC,ETH,SOL", "--add", "random", "--history-bars", "80",
                                      "--connect-timeout", "90", "--out", str(out)])
    assert paper_cli.run(args, client=hyperliquid_client(fake), clock=clock) == 1
    # bounded: the stated 90 s plus the request in flight (its backoff waits 1 + 2 + 4 + 8 + 16 s)
    assert 90_000 <= clock.t - T0 <= (90 + 31) * 1000 + 1000
    captured = capsys.readouterr()
    assert ("gives up if hyperliquid has not answered 90 s after the first request, plus the request under way: "
            "up to 31 s of retries") in captured.out
    errors = captured.err.strip().splitlines()
    assert errors[-1] == "arena-gym paper: hyperliquid did not answer in 90 s (3 failed tries); check the network " \
                         "connection, then rerun the same command"
    assert sum(line.startswith("[outage]") for line in errors) == 1
    assert all(line.startswith(("[outage]", "[retry]", "arena-gym paper:")) for line in errors)
    assert not (out / "bars.npz").exists()
    bad = build_parser().parse_args(["paper", "--coins", "BTC", "--add", "random", "--connect-timeout", "0"])
    with pytest.raises(ValueError, match="--connect-timeout must be > 0"):
        paper_cli.run(bad, client=hyperliquid_client(fake), clock=clock)


@pytest.mark.slow  # trains a tiny PPO first (about a minute on two busy cores)
def test_ppo_contestant_deciding_every_two_bars_equals_its_offline_run(tmp_path):
    pytest.importorskip("stable_baselines3")
    from arena_gym.agents.policies import SB3Policy
    from arena_gym.evaluation.splits import time_splits
    from arena_gym.training.ppo_training import train_ppo
    from arena_gym.market.synthetic import synthetic_market

    market = synthetic_market(n_bars=1500, seed=1)
    preset = {"ppo": {"n_steps": 32, "batch_size": 64, "n_epochs": 1, "net_arch": [16], "log_std_init": -1.0},
              "train": {"num_envs": 2, "seed": 0, "eval_every": 128, "eval_windows": 2, "checkpoint_every": 128},
              "env": {"episode_length": 12, "bars_per_decision": 2}}
    model = train_ppo(market, EnvConfig(assets=COINS, lookback=8), time_splits(market.n_bars), tmp_path / "ppo",
                      preset, total_timesteps=128, log=None)
    clock = FakeClock(T0)
    with policies_for([f"ppo:{model}"], tmp_path / "paper") as policies:
        session, _ = paper_run(tmp_path / "paper", clock, LiveHyperliquid(clock), max_bars=20, policies=policies)
    assert session.config.bars_per_decision == 2
    _, env, equity = offline(tmp_path / "cache", int(session.store.times[0]), HISTORY + 20, SB3Policy.load(model))
    steps = steps_of(tmp_path / "paper", "ppo")
    assert len(steps) == 10 == len(equity) and steps["equity"].tolist() == equity
    assert steps["bar"].tolist() == list(range(HISTORY + 1, HISTORY + 20, 2))
    pd.testing.assert_frame_equal(session.contestants[0].env.ledger_frame(), env.ledger_frame())
