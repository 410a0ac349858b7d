"""Failures a user must see at once: a missing provider key, an LLM preset skipped by
``--llm auto``, a data path that does not hold what it should."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from arena_gym.cli import main
from arena_gym.cli.evaluation_options import llm_specs

pytestmark = pytest.mark.skipif(find_spec("litellm") is None, reason="needs the llm extra (litellm)")

PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "XAI_API_KEY",
                 "DEEPSEEK_API_KEY", "DASHSCOPE_API_KEY")


@pytest.fixture
def no_keys(monkeypatch):
    for name in PROVIDER_KEYS:
        monkeypatch.delenv(name, raising=False)


def test_episode_with_a_keyless_llm_exits_non_zero_naming_the_variable(no_keys, capsys):
    code = main(["episode", "--env", "alpha-arena-s1", "--llm", "gpt-5", "--steps", "2"])
    err = capsys.readouterr().err
    assert code != 0
    assert "OPENAI_API_KEY" in err and len(err.strip().splitlines()) == 1


def test_arena_with_a_named_keyless_llm_fails_before_playing(no_keys, tmp_path, capsys):
    code = main(["arena", "--baselines", "random", "--llm", "claude-sonnet-4-5", "--windows", "2", "--seeds", "0",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    assert code != 0
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "run" / "episodes.jsonl").exists()


def test_llm_auto_says_what_it_added_and_what_it_skipped(no_keys, monkeypatch):
    lines: list[str] = []
    assert llm_specs("auto", log=lines.append) == []
    text = "\n".join(lines)
    assert "added no LLM preset" in text
    assert "gpt-5 (OPENAI_API_KEY not set)" in text
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    lines.clear()
    assert llm_specs("auto", log=lines.append) == ["llm:gpt-5"]
    assert lines[0] == "--llm auto: added gpt-5"


# ---------------------------------------------------------------- data paths
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from arena_gym.market.data import MarketData, MarketDataError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def write_freqtrade(folder: Path, coins, quote: str, timeframe: str = "1h", n: int = 60) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    dates = pd.date_range("2025-01-01", periods=n, freq="h", tz="UTC")
    for k, coin in enumerate(coins):
        price = 100.0 * (k + 1) * np.exp(np.cumsum(np.full(n, 0.001)))
        pd.DataFrame({"date": dates, "open": price, "high": price * 1.01, "low": price * 0.99, "close": price,
                      "volume": 1e6}).to_feather(folder / f"{coin}_{quote}_{quote}-{timeframe}-futures.feather")
        pd.DataFrame({"date": dates[::8] + pd.Timedelta(milliseconds=5), "open": 1e-4, "high": 0.0, "low": 0.0,
                      "close": 0.0, "volume": 0.0}).to_feather(
            folder / f"{coin}_{quote}_{quote}-8h-funding_rate.feather")


@pytest.mark.parametrize("quote", ["USDT", "USDC"])
def test_freqtrade_folders_of_any_quote_and_the_futures_subfolder_load(tmp_path, quote):
    write_freqtrade(tmp_path / "binance" / "futures", ["BTC", "ETH"], quote)
    market = MarketData.from_freqtrade(tmp_path / "binance", ["BTC", "ETH"], "1h")
    assert market.symbols == ("BTC", "ETH") and market.n_bars == 60
    assert np.count_nonzero(market.funding_rate) > 0


@pytest.mark.parametrize(("where", "coins", "timeframe", "expected"), [
    ("missing", ["BTC"], "1h", "does not exist"),
    ("data", ["BTC", "ZZZ"], "1h", "expected ZZZ_USDT_USDT-1h-futures.feather"),
    ("data", ["BTC"], "4h", "expected BTC_USDT_USDT-4h-futures.feather"),
])
def test_wrong_freqtrade_paths_give_one_line_naming_what_was_expected(tmp_path, where, coins, timeframe, expected):
    write_freqtrade(tmp_path / "data", ["BTC", "ETH"], "USDT")
    with pytest.raises(MarketDataError, match=expected) as info:
        MarketData.from_freqtrade(tmp_path / where, coins, timeframe)
    assert "\n" not in str(info.value)


def test_a_file_that_is_not_parquet_is_named(tmp_path):
    bad = tmp_path / "candles.parquet"
    bad.write_text("date,open\n")
    with pytest.raises(MarketDataError, match="not a readable parquet file"):
        MarketData.from_parquet(bad)


@pytest.mark.parametrize("data", ["does-not-exist", "notes.txt"])
def test_benchmark_script_refuses_a_bad_data_path_in_one_line(tmp_path, data):
    (tmp_path / "notes.txt").write_text("not candles")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_llm_vs_ppo.py"), "--data",
                          str(tmp_path / data), "--llm", "none", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "error:" in run.stderr
    assert "Traceback" not in run.stderr


# ---------------------------------------------------------------- a key rejected mid-run
def test_a_rejected_key_fails_every_episode_loudly_and_the_command_exit_code_says_so(tmp_path):
    from test_llm_http import StubServer, status

    from arena_gym.cli.evaluation_options import exit_code
    from arena_gym.env.config import EnvConfig
    from arena_gym.campaigns.arena_campaign import ArenaPlan, run_arena
    from arena_gym.agents.policies import LLMTrader
    from markets import random_market

    stub = StubServer()
    try:
        trader = LLMTrader.from_preset("openai/stub-model", name="llm:stub", api_base=stub.api_base,
                                       api_key="rejected", max_retries=3, cache=tmp_path / "calls.jsonl",
                                       cache_mode="record")
        stub.scripts = _AlwaysScripted(status(401))
        config = EnvConfig(assets=("BTC", "ETH", "SOL"), episode_length=3, action_mode="decision",
                           observation_mode="text", house_rules=True)
        try:
            summary = run_arena(random_market(0, n_bars=900), config, [trader], tmp_path / "run",
                                ArenaPlan(n_windows=2, seeds=(0,)), progress=False, n_boot=20)
        finally:
            trader.close()
    finally:
        stub.close()
    errors = summary["errors"]
    assert len(errors) == 2 and exit_code(summary) == 1
    assert errors["error"].str.contains("LLMConfigurationError").all()
    assert errors["error"].str.contains("HTTP 401").all()
    assert sum(stub.served.values()) == 2  # one call per episode: no retry
    assert not (tmp_path / "calls.jsonl").exists() or (tmp_path / "calls.jsonl").read_text() == ""


class _AlwaysScripted(dict):
    """Stub scripts answering every user message with the same behaviour."""

    def __init__(self, behaviour: dict) -> None:
        super().__init__()
        self.behaviour = behaviour

    def __getitem__(self, key: str) -> list[dict]:
        return [self.behaviour]
