"""The text observation: user prompt numbers, ordering, structure, no look-ahead; the system prompt."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym.protocol.prompt import (
    AccountView,
    PositionView,
    PromptRenderer,
    PromptTemplateError,
    default_template_path,
    interval_label,
    price_decimals,
    render_system_prompt,
)
from arena_gym.venue import load_rules
from arena_gym.market.data import MarketData

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CONTEST_PROMPTS = SHARED / "alpha-arena-s1" / "prompts"
COINS = {"BTC": 110000.0, "ETH": 4000.0, "SOL": 190.0, "BNB": 1100.0, "XRP": 2.5, "DOGE": 0.2}
NUMBER = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"


def make_market(n_bars: int = 240, bar: str = "1h", start: str = "2025-10-01 00:00", with_oi: bool = True,
                seed: int = 7, coins: dict[str, float] = COINS) -> MarketData:
    """Six coins on a seeded random walk, with hourly funding and (optionally) open interest."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n_bars, freq=bar, tz="UTC")
    candles, funding, oi = {}, {}, {}
    for symbol, p0 in coins.items():
        close = p0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, n_bars)))
        open_ = np.r_[p0, close[:-1]]
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n_bars))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n_bars))
        candles[symbol] = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                                        "volume": rng.uniform(10, 1000, n_bars)}, index=index)
        hours = pd.date_range(index[0], index[-1], freq="1h")
        funding[symbol] = pd.Series(np.round(rng.normal(1.25e-5, 1e-5, len(hours)), 9),
                                    index=hours + pd.Timedelta("4ms"))
        oi[symbol] = pd.Series(rng.uniform(1e4, 5e4, n_bars), index=index)
    return MarketData.from_frames(candles, funding, open_interest=oi if with_oi else None)


def altered_after(market: MarketData, t: int) -> MarketData:
    """The same market with every bar after ``t`` changed (prices, volume, funding, open interest)."""
    candles, funding, oi = {}, {}, {}
    index = pd.DatetimeIndex(market.timestamps, tz="UTC")
    later = np.arange(market.n_bars) > t
    for a, symbol in enumerate(market.symbols):
        scale = np.where(later, 1.7, 1.0)
        candles[symbol] = pd.DataFrame({f: getattr(market, f)[:, a] * scale for f in ("open", "high", "low", "close")}
                                       | {"volume": market.volume[:, a] * np.where(later, 3.0, 1.0)}, index=index)
        funding[symbol] = pd.Series(np.where(later, 9e-4, market.funding_rate[:, a]), index=index)
        oi[symbol] = pd.Series(market.open_interest[:, a] * np.where(later, 5.0, 1.0), index=index)
    return MarketData.from_frames(candles, funding, open_interest=oi)


def account(market: MarketData, t: int) -> AccountView:
    eth, doge = market.symbols.index("ETH"), market.symbols.index("DOGE")
    return AccountView(
        initial_capital=10000.0, account_value=11361.6449, available_cash=5555.8712, total_return_pct=13.616449,
        sharpe=0.02134,
        positions=[
            PositionView("ETH", 2.4537, 4093.6, float(market.close[t, eth]), 3763.3249, 50.104, 10,
                         2.4537 * float(market.close[t, eth]), 4445.0, 3945.0, "4H MACD turns negative", 0.65, 350.0),
            PositionView("DOGE", -27858.4, 0.180123, float(market.close[t, doge]), 0.2345678, -40.2, 8.0, 5600.0,
                         None, 0.2101, "price closes above 0.21 on the 4h chart", None, None),
        ],
    )


def coin_block(text: str, symbol: str) -> str:
    match = re.search(rf"### ALL {symbol} DATA\n(.*?)(?=\n---\n|\n### )", text, re.DOTALL)
    assert match, f"no block for {symbol}"
    return match.group(1)


def series(block: str, label: str) -> list[float]:
    match = re.search(re.escape(label) + r": \[(.*?)\]", block)
    assert match, f"no series {label!r}"
    return [float(x) for x in match.group(1).split(", ")] if match.group(1) else []


def scalar(block: str, label: str) -> float:
    match = re.search(re.escape(label) + rf"\s*=?\s*({NUMBER})", block)
    assert match, f"no value {label!r}"
    return float(match.group(1))


@pytest.fixture(scope="module")
def market() -> MarketData:
    return make_market()


@pytest.fixture(scope="module")
def renderer(market) -> PromptRenderer:
    return PromptRenderer(market)


# ---------------------------------------------------------------------- numbers and their order
@pytest.mark.parametrize("t", [150, 203])
def test_intraday_series_equal_the_state_oldest_to_newest(market, renderer, t):
    text = renderer.render(t, account(market, t), minutes_since_start=t * 60.0, invocation=t + 1)
    ind = market.indicators
    window = slice(t - 9, t + 1)
    for a, symbol in enumerate(market.symbols):
        block = coin_block(text, symbol)
        np.testing.assert_allclose(series(block, f"{symbol} mid prices"), market.close[window, a], rtol=6e-6)
        np.testing.assert_allclose(series(block, "EMA indicators (20‑period)"), ind.ema20[window, a], atol=5.1e-4)
        intraday = block.split("**Longer")[0]
        np.testing.assert_allclose(series(intraday, "MACD indicators"), ind.macd[window, a], atol=5.1e-4)
        np.testing.assert_allclose(series(block, "RSI indicators (7‑Period)"), ind.rsi7[window, a], atol=5.1e-4)
        np.testing.assert_allclose(series(intraday, "RSI indicators (14‑Period)"), ind.rsi14[window, a], atol=5.1e-4)
        assert scalar(block, "current_price") == pytest.approx(market.close[t, a], rel=6e-6)
        assert scalar(block, "current_ema20") == pytest.approx(ind.ema20[t, a], abs=5.1e-4)
        assert scalar(block, "current_macd") == pytest.approx(ind.macd[t, a], abs=5.1e-4)
        assert scalar(block, "current_rsi (7 period)") == pytest.approx(ind.rsi7[t, a], abs=5.1e-4)
        assert scalar(block, "Open Interest: Latest:") == pytest.approx(market.open_interest[t, a], abs=5.1e-3)
        assert scalar(block, "Average:") == pytest.approx(market.open_interest[window, a].mean(), abs=5.1e-3)
        assert scalar(block, "Funding Rate:") == pytest.approx(market.funding_rate[t, a], rel=1e-5)


def test_higher_timeframe_block_uses_the_last_closed_4h_bar(market, renderer):
    higher = market.resample(4)
    hind = higher.indicators
    # bars open at 00:00, so 4h bar k covers 1h bars 4k .. 4k+3 and closes with bar 4k+3
    for t, j in ((4 * 40 + 3, 40), (4 * 40 + 2, 39), (4 * 40, 39), (4 * 41 - 1, 40)):
        text = renderer.render(t, account(market, t), minutes_since_start=0, invocation=1)
        for a, symbol in enumerate(market.symbols):
            longer = coin_block(text, symbol).split("**Longer‑term context (4‑hour timeframe):**")[1]
            assert scalar(longer, "20‑Period EMA:") == pytest.approx(hind.ema20[j, a], abs=5.1e-4)
            assert scalar(longer, "50‑Period EMA:") == pytest.approx(hind.ema50[j, a], abs=5.1e-4)
            assert scalar(longer, "3‑Period ATR:") == pytest.approx(hind.atr3[j, a], abs=5.1e-4)
            assert scalar(longer, "14‑Period ATR:") == pytest.approx(hind.atr14[j, a], abs=5.1e-4)
            assert scalar(longer, "Current Volume:") == pytest.approx(higher.volume[j, a], abs=5.1e-4)
            assert scalar(longer, "Average Volume:") == pytest.approx(hind.volume_avg[j, a], abs=5.1e-4)
            np.testing.assert_allclose(series(longer, "MACD indicators"), hind.macd[j - 9:j + 1, a], atol=5.1e-4)
            np.testing.assert_allclose(series(longer, "RSI indicators (14‑Period)"), hind.rsi14[j - 9:j + 1, a],
                                       atol=5.1e-4)


def test_no_look_ahead(market, renderer):
    for t in (121, 122, 123, 124, 180):
        changed = PromptRenderer(altered_after(market, t))
        assert changed.market.close[t + 1, 0] != market.close[t + 1, 0]
        view = account(market, t)
        assert changed.render(t, view, minutes_since_start=5.0, invocation=2) == \
            renderer.render(t, view, minutes_since_start=5.0, invocation=2)


def test_unaligned_start_shows_no_longer_term_values_before_the_first_4h_close():
    market = make_market(n_bars=60, start="2025-10-01 02:00")
    renderer = PromptRenderer(market)
    higher = market.resample(4)
    assert str(higher.timestamps[0]).startswith("2025-10-01T04:00")
    # the first 4h bar (04:00-08:00) closes with the 1h bar at index 5 (07:00)
    early = renderer.render(4, account(market, 4), minutes_since_start=0, invocation=1)
    longer = coin_block(early, "BTC").split("**Longer")[1]
    assert "20‑Period EMA: n/a vs. 50‑Period EMA: n/a" in longer
    assert series(longer, "MACD indicators") == []
    first = renderer.render(5, account(market, 5), minutes_since_start=0, invocation=1)
    longer = coin_block(first, "BTC").split("**Longer")[1]
    assert series(longer, "MACD indicators") == pytest.approx([higher.indicators.macd[0, 0]], abs=5.1e-4)
    assert len(series(coin_block(early, "BTC"), "BTC mid prices")) == 5


# ---------------------------------------------------------------------- the account section
def test_account_and_position_block(market, renderer):
    t = 200
    view = account(market, t)
    text = renderer.render(t, view, minutes_since_start=8270.9, invocation=3896)
    assert text.startswith("It has been 8270 minutes since you started trading. The current time is "
                           "2025-10-09 09:00:00 and you've been invoked 3896 times.")
    tail = text.split("### HERE IS YOUR ACCOUNT INFORMATION & PERFORMANCE\n")[1]
    assert "Current Total Return (percent): 13.62%" in tail
    assert "Available Cash: 5555.87" in tail
    assert "**Current Account Value:** 11361.64" in tail
    assert tail.endswith("Sharpe Ratio: 0.021")
    lines = tail.split("Current live positions & performance: \n")[1].split("\n\n")[0].split("\n")
    eth, doge = (ast.literal_eval(line) for line in lines)
    assert eth == {
        "symbol": "ETH", "quantity": 2.4537, "entry_price": 4093.6, "current_price": eth["current_price"],
        "liquidation_price": 3763.32, "unrealized_pnl": 50.1, "leverage": 10,
        "exit_plan": {"profit_target": 4445.0, "stop_loss": 3945.0, "invalidation_condition": "4H MACD turns negative"},
        "confidence": 0.65, "risk_usd": 350.0, "notional_usd": round(2.4537 * market.close[t, 1], 2),
    }
    assert eth["current_price"] == pytest.approx(market.close[t, 1], rel=6e-6)
    assert doge["quantity"] == -27858.0          # DOGE trades in whole coins
    assert doge["entry_price"] == 0.180123 and doge["liquidation_price"] == 0.234568
    assert doge["leverage"] == 8
    assert doge["exit_plan"] == {"profit_target": None, "stop_loss": 0.2101,
                                 "invalidation_condition": "price closes above 0.21 on the 4h chart"}
    assert doge["confidence"] is None and doge["risk_usd"] is None


def test_flat_account_and_undefined_sharpe(market, renderer):
    flat = AccountView(initial_capital=10000.0, account_value=10000.0, available_cash=10000.0, total_return_pct=0.0)
    text = renderer.render(100, flat, minutes_since_start=0, invocation=1, now="2025-10-05 04:00:00")
    assert "The current time is 2025-10-05 04:00:00 " in text
    assert "Current live positions & performance: \nNone\n\nSharpe Ratio: n/a" in text


def test_bad_bar_or_symbol_names_what_exists(market, renderer):
    flat = AccountView(10000.0, 10000.0, 10000.0, 0.0)
    with pytest.raises(IndexError, match="240 bars"):
        renderer.render(240, flat, minutes_since_start=0, invocation=1)
    stray = AccountView(10000.0, 10000.0, 10000.0, 0.0, positions=[
        PositionView("ADA", 1.0, 1.0, 1.0, 0.5, 0.0, 2, 1.0)])
    with pytest.raises(ValueError, match=r"'ADA'.*BTC"):
        renderer.render(10, stray, minutes_since_start=0, invocation=1)


# ---------------------------------------------------------------------- layout
def skeleton(text: str) -> list[str]:
    """Each line with numbers, interval wording and the contest's per-coin quirks normalised;
    consecutive position lines collapse into one."""
    out: list[str] = []
    for line in text.split("\n"):
        if line.startswith("{'symbol'"):
            if out and out[-1] == "POSITIONS":
                continue
            out.append("POSITIONS")
            continue
        line = line.replace(" (the instrument you are trading)", "")
        line = re.sub(r"\((?:by minute|\S+ intervals), oldest → latest\)", "(INTERVAL, oldest → latest)", line)
        line = re.sub(r"\*\*\S+ intervals\*\*", "**INTERVAL intervals**", line)
        line = re.sub(r"^(?:[A-Z]+ )?[Mm]id prices:", "mid prices:", line)
        out.append(re.sub(NUMBER, "N", line))
    return out


def test_layout_is_the_contest_layout_without_shared_data(market, renderer):
    text = renderer.render(200, account(market, 200), minutes_since_start=1, invocation=1)
    headings = [line for line in text.split("\n") if line.startswith(("###", "**", "---"))]
    per_coin = ["### ALL {} DATA", "**Intraday series (1‑hour intervals, oldest → latest):**",
                "**Longer‑term context (4‑hour timeframe):**"]
    expected = ["**ALL OF THE PRICE OR SIGNAL DATA BELOW IS ORDERED: OLDEST → NEWEST**", headings[1], "---",
                "### CURRENT MARKET STATE FOR ALL COINS"]
    for i, symbol in enumerate(market.symbols):
        expected += [h.format(symbol) for h in per_coin] + (["---"] if i < 5 else [])
    expected += ["### HERE IS YOUR ACCOUNT INFORMATION & PERFORMANCE", headings[-1]]
    assert headings == expected
    assert "intraday series are provided at **1‑hour intervals**" in headings[1]
    assert headings[-1].startswith("**Current Account Value:**")


@pytest.mark.shareddata
def test_layout_matches_a_verbatim_contest_prompt(market, renderer):
    path = CONTEST_PROMPTS / "user_prompt_claude-sonnet-4-5_20251028T070322Z.txt"
    if not path.exists():
        pytest.skip(f"the contest's verbatim prompts are not here ({path}); the self-contained layout test still runs")
    contest = path.read_text(encoding="utf-8")
    ours = renderer.render(200, account(market, 200), minutes_since_start=8270, invocation=3896)
    assert skeleton(ours) == skeleton(contest)


def test_interval_wording_follows_the_market_bar():
    quarter = make_market(n_bars=200, bar="15min")
    text = PromptRenderer(quarter).render(150, account(quarter, 150), minutes_since_start=0, invocation=1)
    assert "intraday series are provided at **15‑minute intervals**" in text
    assert text.count("**Intraday series (15‑minute intervals, oldest → latest):**") == 6
    assert text.count("**Longer‑term context (4‑hour timeframe):**") == 6
    daily = make_market(n_bars=80, bar="1D")
    text = PromptRenderer(daily).render(60, account(daily, 60), minutes_since_start=0, invocation=1)
    assert text.count("**Longer‑term context (1‑day timeframe):**") == 6
    block = coin_block(text, "SOL")
    assert scalar(block, "20‑Period EMA:") == pytest.approx(daily.indicators.ema20[60, 2], abs=5.1e-4)
    with pytest.raises(ValueError, match="whole multiple"):
        PromptRenderer(make_market(n_bars=50, bar="3h"))


def test_open_interest_line_when_the_data_has_none():
    market = make_market(n_bars=60, with_oi=False)
    text = PromptRenderer(market).render(50, account(market, 50), minutes_since_start=0, invocation=1)
    assert text.count("Open Interest: not available in this data") == 6
    assert text.count("open interest and funding rate for perps:") == 6


def test_funding_rate_is_the_latest_settled_rate_per_settlement():
    hourly = 1.25e-05
    market = make_market(n_bars=48, bar="4h")
    index = pd.DatetimeIndex(market.timestamps, tz="UTC")
    candles = {s: market.frame(s)[["open", "high", "low", "close", "volume"]] for s in market.symbols}
    hours = pd.date_range(index[0], index[-1] + pd.Timedelta("3h"), freq="1h")
    funding = {s: pd.Series(hourly, index=hours) for s in market.symbols}
    funding["BNB"] = pd.Series(-2.56935e-05, index=hours)
    four_hourly = MarketData.from_frames(candles, funding)
    assert four_hourly.funding_rate[10, 0] == pytest.approx(4 * hourly)  # summed per 4h bar
    text = PromptRenderer(four_hourly).render(10, account(four_hourly, 10), minutes_since_start=0, invocation=1)
    assert "Funding Rate: 1.25e-05" in coin_block(text, "BTC")
    assert "Funding Rate: -2.56935e-05" in coin_block(text, "BNB")
    quarter = make_market(n_bars=40, bar="15min")
    renderer = PromptRenderer(quarter)
    for t in (20, 21, 22, 23):  # settlements fall in the bars at :00 only; 20 opens on the hour
        block = coin_block(renderer.render(t, account(quarter, t), minutes_since_start=0, invocation=1), "ETH")
        assert scalar(block, "Funding Rate:") == pytest.approx(quarter.funding_rate[20, 1], rel=1e-5)


def test_number_formats():
    assert price_decimals(np.array([114174.5, 4114.05, 200.785, 1131.35, 2.65095, 0.201345])).tolist() == \
        [1, 2, 3, 2, 5, 6]
    assert [interval_label(s) for s in (180, 900, 3600, 14400, 86400)] == \
        ["3‑minute", "15‑minute", "1‑hour", "4‑hour", "1‑day"]


# ---------------------------------------------------------------------- templates
def test_custom_template_and_policies_directory(tmp_path, monkeypatch, market):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    text = default_template_path("user").read_text(encoding="utf-8")
    custom = text.replace("Sharpe Ratio: ${sharpe}", "Sharpe: ${sharpe} of $$${initial_capital}")
    (prompts / "user.md").write_text(custom, encoding="utf-8")
    monkeypatch.setenv("ARENA_GYM_POLICIES", str(tmp_path))
    assert default_template_path("user") == prompts / "user.md"
    out = PromptRenderer(market).render(100, account(market, 100), minutes_since_start=0, invocation=1)
    assert out.endswith("Sharpe: 0.021 of $10000.0")
    assert "<!--" not in out and "${" not in out


def test_template_errors_name_the_problem(tmp_path, market):
    text = default_template_path("user").read_text(encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text(text.replace("${funding_rate}", "${funding}"), encoding="utf-8")
    with pytest.raises(PromptTemplateError, match=r"\$\{funding\}.*funding_rate"):
        PromptRenderer(market, template=bad)
    bad.write_text(text.replace("<!-- part: no_positions -->", ""), encoding="utf-8")
    with pytest.raises(PromptTemplateError, match="no_positions"):
        PromptRenderer(market, template=bad)
    bad.write_text(text.replace("Sharpe Ratio:", "Sharpe in $:"), encoding="utf-8")
    with pytest.raises(PromptTemplateError, match=r"\$\$"):
        PromptRenderer(market, template=bad)
    with pytest.raises(FileNotFoundError, match="missing.md"):
        PromptRenderer(market, template=tmp_path / "missing.md")


# ---------------------------------------------------------------------- the system prompt
def test_system_prompt_states_limits_fees_funding_and_schema():
    rules = load_rules("hyperliquid")
    symbols = list(COINS)
    text = render_system_prompt(symbols, rules.specs(symbols), rules, house_rules=True)
    for symbol, leverage, mmr in (("BTC", 40, "1.25%"), ("ETH", 25, "2%"), ("SOL", 20, "2.5%"), ("BNB", 10, "5%"),
                                  ("XRP", 20, "2.5%"), ("DOGE", 10, "5%")):
        assert f"- {symbol}: leverage 1x to {leverage}x, maintenance margin {mmr} of notional" in text
    assert "0.045%" in text and "0.015%" in text
    assert "every hour" in text and "positive rate means longs pay shorts" in text
    for word in ("buy_to_enter", "sell_to_enter", "hold", "close_position", "coin", "quantity", "leverage",
                 "profit_target", "stop_loss", "invalidation_condition", "confidence", "risk_usd", "justification"):
        assert word in text
    assert "only valid signals are hold and close_position" in text
    assert "<!--" not in text and "${" not in text
    relaxed = render_system_prompt(symbols, {s: rules.spec(s) for s in symbols}, rules, house_rules=False)
    assert "only valid signals are hold and close_position" not in relaxed
    assert "House rules are off" in relaxed


def test_system_prompt_follows_the_preset():
    rules = load_rules("binance-usdm")
    text = render_system_prompt(["BTC", "ETH"], rules.specs(["BTC", "ETH"]), rules, house_rules=True)
    assert "every 8 hours" in text
    assert f"{rules.taker_fee * 100:g}%" in text
    assert f"- BTC: leverage 1x to {rules.spec('BTC').max_leverage}x" in text
    with pytest.raises(ValueError, match="do not match"):
        render_system_prompt(["BTC", "ETH"], rules.specs(["ETH", "BTC"]), rules, house_rules=True)
