"""Recorded policies: a trade log played back through env.step like any other policy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_gym.env.config import EnvConfig
from arena_gym.env import PerpTradingEnv
from arena_gym.env.recorded_fills import RecordedFills, RecordedOrder
from arena_gym.agents.recorded import (AS_TRADED, ON_BARS, RECORDED_ENV, compare_with_log, outcome_summary,
                                      recorded_policies)
from arena_gym.evaluation.runner import EpisodeKey, evaluate, make_env, play_episode
from arena_gym.evaluation.windows import pinned_plan
from arena_gym.market import MarketData

T0 = pd.Timestamp("2025-03-01", tz="UTC")


def flat_market(n: int = 120, t0: pd.Timestamp = T0) -> MarketData:
    """BTC at 100,000 and ETH at 4,000, rising 10 per bar (BTC) and 1 per bar (ETH), 1h bars."""
    ts = pd.date_range(t0 - pd.Timedelta(hours=60), periods=n, freq="h")
    frames = {}
    for coin, p0, step in (("BTC", 100_000.0, 10.0), ("ETH", 4_000.0, 1.0)):
        price = p0 + step * np.arange(n)
        frames[coin] = pd.DataFrame({"open": price, "high": price, "low": price, "close": price, "volume": 1e12},
                                    index=ts)
    return MarketData.from_frames(frames, rules="alpha-arena-s1")


def config() -> EnvConfig:
    return EnvConfig(exchange="alpha-arena-s1", margin_mode="isolated", slippage="none", **RECORDED_ENV)


def log_frame(rows, columns=()) -> pd.DataFrame:
    cols = ["model_id", "symbol", "quantity", "entry_time", "exit_time", "entry_price", "exit_price", *columns]
    return pd.DataFrame(rows, columns=cols)


def at(hours: float, t0: pd.Timestamp = T0) -> str:
    return (t0 + pd.Timedelta(minutes=round(hours * 60))).isoformat()


def play(log, leverage=10.0, window=("2025-03-01T00:00..2025-03-02T00:00",), capital=10_000.0, execution=ON_BARS,
         t0=T0):
    market = flat_market(t0=t0)
    plan = pinned_plan(market, replace(config(), initial_capital=capital), list(window))
    out = []
    for policy in recorded_policies(log, leverage=leverage, execution=execution):
        key = EpisodeKey(policy.name, 0, plan.starts[0], 0)
        metrics, steps, trades = play_episode(policy, market, plan.config, key)
        out.append((policy, metrics, trades))
    return out


def test_positions_open_at_the_next_open_and_close_at_the_recorded_exit():
    log = log_frame([["m", "BTC", 0.1, at(2.5), at(5.2), 100_610.0, 100_640.0],
                     ["m", "ETH", -2.0, at(3.1), at(7.9), 4_063.0, 4_067.0]])
    (policy, metrics, trades), = play(log)
    out = policy.outcomes().set_index("symbol")
    assert list(out["status"]) == ["closed", "closed"]
    assert out.loc["BTC", "fill_bar"] == T0 + pd.Timedelta(hours=3)           # decided at 03:00, the open of bar 3
    assert out.loc["BTC", "close_time"] == T0 + pd.Timedelta(hours=6)
    btc = trades.set_index("symbol").loc["BTC"]
    # opens at the 03:00 open 100,630, closes at the 06:00 open 100,660; taker 4.5 bp on both fills
    assert btc["entry_price"] == pytest.approx(100_630.0) and btc["exit_price"] == pytest.approx(100_660.0)
    assert btc["gross_pnl"] == pytest.approx(0.1 * 30.0)
    assert btc["fees"] == pytest.approx(0.1 * (100_630.0 + 100_660.0) * 0.00045)
    eth = trades.set_index("symbol").loc["ETH"]
    assert eth["gross_pnl"] == pytest.approx(-2.0 * (4_068.0 - 4_064.0)) and eth["leverage"] == 10
    compared = compare_with_log(policy.outcomes(), trades).set_index("symbol")
    assert compared.loc["BTC", "sim_net"] == pytest.approx(btc["gross_pnl"] - btc["fees"])


T1 = pd.Timestamp("2025-10-23", tz="UTC")     # after the contest's fee schedule moved to 4.0 / 1.2 bp


def test_as_traded_fills_each_row_at_its_recorded_price_with_the_dated_fee_by_its_flag():
    """Two entries of one long (a split position: two rows sharing one exit) stay two entries,
    each at its own time, size and recorded price; the exit fills at its recorded price. Fees: the
    contest schedule's 4.0 bp taker / 1.2 bp maker in force from 2025-10-22."""
    log = log_frame([["m", "ETH", 1.0, at(2.25, T1), at(9.5, T1), 4_062.5, 4_070.0, True, False],
                     ["m", "ETH", 3.0, at(4.75, T1), at(9.5, T1), 4_064.0, 4_070.0, False, False]],
                    columns=("entry_crossed", "exit_crossed"))
    (policy, metrics, trades), = play(log, execution=AS_TRADED, t0=T1,
                                      window=("2025-10-23T00:00..2025-10-24T00:00",))
    out = policy.outcomes()
    assert list(out["status"]) == ["closed"] and not out["scaled"].any()
    trade = trades.iloc[0]
    assert trade["size"] == pytest.approx(4.0)
    assert trade["entry_price"] == pytest.approx((4_062.5 + 3 * 4_064.0) / 4)
    assert trade["exit_price"] == pytest.approx(4_070.0)
    assert trade["gross_pnl"] == pytest.approx(1.0 * 7.5 + 3.0 * 6.0)
    fees = 4_062.5 * 0.00040 + 3 * 4_064.0 * 0.00012 + 4 * 4_070.0 * 0.00012
    assert trade["fees"] == pytest.approx(fees)
    # the entries filled in the bars holding their recorded times (02:15 in bar 2, 04:45 in bar 4)
    assert trade["entry_time"] == T1 + pd.Timedelta(hours=2)
    assert trade["exit_time"] == T1 + pd.Timedelta(hours=9)


def test_on_bars_a_second_entry_adds_to_the_position_at_the_next_open():
    log = log_frame([["m", "ETH", 1.0, at(2.25), at(9.5), 4_062.5, 4_070.0],
                     ["m", "ETH", 3.0, at(4.75), at(9.5), 4_064.0, 4_070.0]])
    (policy, _, trades), = play(log)
    trade = trades.iloc[0]
    # 1 ETH at the 03:00 open (4,063), 3 ETH at the 05:00 open (4,065), all closed at the 10:00 open (4,070)
    assert trade["size"] == pytest.approx(4.0)
    assert trade["entry_price"] == pytest.approx((4_063.0 + 3 * 4_065.0) / 4)
    assert trade["gross_pnl"] == pytest.approx(1.0 * 7.0 + 3.0 * 5.0)
    assert policy.outcomes()["status"].tolist() == ["closed"]


def test_refused_scaled_and_deferred_positions_are_reported_not_dropped():
    log = log_frame([
        ["m", "BTC", 5.0, at(1.2), at(2.2), 100_600.0, 100_610.0],      # 500k notional on 10k: scaled
        ["m", "ETH", 1.0, at(4.1), at(4.2), 4_064.0, 4_064.0],          # opened and closed in one bar: exit waits
        ["m", "ETH", 1.0, at(4.5), at(9.0), 4_064.0, 4_069.0],          # entry behind that exit: deferred
        ["m", "BTC", 0.01, at(-20.0), at(-10.0), 100_400.0, 100_500.0],  # before the window
        ["m", "BTC", 0.01, at(30.0), at(31.0), 100_900.0, 100_910.0],   # after the window
    ])
    (policy, _, _), = play(log)
    out = policy.outcomes().sort_values("entry_time").reset_index(drop=True)
    assert list(out["status"]) == ["before_window", "closed", "closed", "closed", "after_window"]
    assert out.loc[1, "scaled"] and 3.8 < out.loc[1, "sim_size"] < 4.0           # about 40 x $10,000 of BTC
    assert "least leverage that carries" in out.loc[1, "leverage_source"]      # raised to the 40x cap, still short
    first_eth, second_eth = out.loc[2], out.loc[3]
    assert first_eth["close_time"] == T0 + pd.Timedelta(hours=6)        # one bar after its entry fill
    assert second_eth["fill_bar"] == T0 + pd.Timedelta(hours=7) and second_eth["deferred"] >= 1
    summary = outcome_summary(policy.outcomes()).loc["m"]
    assert summary["positions"] == 5 and summary["scaled"] == 1 and summary["before_window"] == 1


def test_a_position_the_margin_refuses_is_counted_with_its_reason():
    # the BTC long takes every dollar of collateral (at 40x); the ETH entry beside it finds none
    (policy, _, _), = play(log_frame([["m", "BTC", 5.0, at(1.5), at(9.0), 100_610.0, 100_630.0],
                                      ["m", "ETH", 1.0, at(3.5), at(6.0), 4_063.0, 4_066.0]]))
    out = policy.outcomes().set_index("symbol")
    assert out.loc["BTC", "scaled"]
    assert out.loc["ETH", "status"] == "refused" and out.loc["ETH", "reason"].startswith("margin")


def test_a_position_whose_exit_falls_in_the_last_bar_is_closed_not_left_pending():
    """The episode's last step fills the exit; nothing acts after it, and the outcome still says closed."""
    log = log_frame([["m", "BTC", 0.1, at(20.2), at(23.4), 100_800.0, 100_830.0]])
    for execution, status in ((AS_TRADED, "closed"), (ON_BARS, "open_at_end")):
        (policy, _, _), = play(log, execution=execution)
        assert policy.outcomes()["status"].tolist() == [status], execution


def test_recorded_policies_run_in_the_harness(tmp_path: Path):
    log = log_frame([["a", "BTC", 0.1, at(2.5), at(5.2), 100_610.0, 100_640.0],
                     ["b", "ETH", -2.0, at(3.1), at(7.9), 4_063.0, 4_067.0]])
    market = flat_market()
    plan = pinned_plan(market, config(), ["2025-03-01T00:00..2025-03-01T12:00", "2025-03-01T12:00..2025-03-02T00:00"])
    policies = recorded_policies(log) + recorded_policies(log, execution=AS_TRADED, suffix=" (as traded)")
    results = evaluate(policies, market, plan.config, list(plan.starts), [0], tmp_path, progress=False)
    assert set(results["policy"]) == {"a", "b", "a (as traded)", "b (as traded)"} and (results["status"] == "ok").all()
    assert results.loc[(results["policy"] == "a") & (results["window"] == 0), "n_trades"].item() == 1
    assert results.loc[(results["policy"] == "a (as traded)") & (results["window"] == 0), "n_trades"].item() == 1


# ---------------------------------------------------------------------- no look-ahead path
class _Sneaky:
    """A live policy that tries to fill at a price from inside the bar."""

    name = "sneaky"
    env_overrides = dict(RECORDED_ENV)
    execution = AS_TRADED

    def fill_tape(self):
        raise AssertionError("the runner must not ask a policy that is not a recorded one for a fill tape")

    def reset(self, seed=None):
        pass

    def act(self, observation, info):
        return RecordedFills({"BTC": RecordedOrder((0,), 0.1, 10.0)})


def test_a_live_policy_cannot_fill_at_a_price_from_inside_the_bar():
    market = flat_market()
    plan = pinned_plan(market, config(), ["2025-03-01T00:00..2025-03-02T00:00"])
    # the runner builds a normal env for it, which refuses recorded fills
    with pytest.raises(ValueError, match="recorded fills are accepted only by an env built with a fill tape"):
        play_episode(_Sneaky(), market, plan.config, EpisodeKey("sneaky", 0, plan.starts[0], 0))
    assert make_env(market, plan.config, _Sneaky())._tape is None
    # the tape is no EnvConfig field, so env_overrides cannot ask for it
    with pytest.raises(TypeError):
        replace(plan.config, recorded_fills=object())
    # a decision naming a price still fills at the next open plus nothing (no slippage here)
    env = PerpTradingEnv(market, plan.config)
    env.reset(options={"start": plan.starts[0]})
    env.step({"BTC": {"signal": "buy_to_enter", "quantity": 0.1, "leverage": 10, "price": 1.0, "fill_price": 1.0,
                      "entry_price": 1.0, "confidence": 1.0}})
    open_price = float(market.open[plan.starts[0] + 1, 0])
    assert env.positions()[0].entry_price == pytest.approx(open_price)


def test_the_fill_tape_takes_no_later_price_and_no_fill_twice():
    log = log_frame([["m", "BTC", 0.1, at(2.5), at(5.2), 100_610.0, 100_640.0]])
    policy, = recorded_policies(log, execution=AS_TRADED)
    market = flat_market()
    plan = pinned_plan(market, config(), ["2025-03-01T00:00..2025-03-02T00:00"])
    env = make_env(market, plan.config, policy)
    env.reset(options={"start": plan.starts[0]})        # the first step fills bar 00:00; the entry is at 02:30
    with pytest.raises(ValueError, match="after the bar being filled closes"):
        env.step(RecordedFills({"BTC": RecordedOrder((0,), 0.1, 10.0)}))
    with pytest.raises(ValueError, match="takes RecordedFills actions"):
        env.step('{"BTC": {"signal": "buy_to_enter", "quantity": 0.1, "leverage": 10, "confidence": 1}}')
    for _ in range(2):
        env.step(RecordedFills({}))
    env.step(RecordedFills({"BTC": RecordedOrder((0,), 0.1, 10.0)}))       # bar 02:00 holds 02:30: filled
    assert env.positions()[0].entry_price == pytest.approx(100_610.0)
    with pytest.raises(ValueError, match="already filled"):
        env.step(RecordedFills({"BTC": RecordedOrder((0,), 0.2, 10.0)}))


# ---------------------------------------------------------------------- the real contest
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def contest_played():
    """Every model of the contest's log played both ways on Binance 1h bars under the contest
    preset, with leverage from the contest's records."""
    from arena_gym.campaigns.season1_campaign import contest_log, load_season_market, recorded_contestants, season_config
    from arena_gym.campaigns.season1_recorded import difference_causes, discrepancies, play_recorded, versus_contest

    records = SHARED / "alpha-arena-s1"
    data = SHARED / "binance-usdm"
    if not (records / "trades_api_union_2025-10-17_to_10-28.csv").exists() or not data.is_dir():
        pytest.skip(f"real contest data ({records}, {data}) is absent")
    log = contest_log(records / "trades_api_union_2025-10-17_to_10-28.csv")
    market = load_season_market(data)
    window = "2025-10-17T00:00..2025-10-28T08:00"
    policies = recorded_contestants(log, records, None, market, season_config(), window)
    plan = pinned_plan(market, season_config(), [window])
    played = play_recorded(policies, market, plan.config, plan)
    disc = discrepancies(played["compared"], market)
    return {"log": log, "played": played, "disc": disc, "versus": versus_contest(log, played, disc),
            "causes": difference_causes(log, played, disc)}


@pytest.mark.shareddata
def test_as_traded_each_model_is_within_2_percent_of_the_contest(contest_played):
    """Net PnL over the whole log (gross - fees, before funding, as the log reports it), per model."""
    versus = contest_played["versus"]
    assert len(versus) == 6
    assert (versus["as_traded_error_pct"].abs() < 2.0).all(), versus["as_traded_error_pct"].to_dict()
    contest = contest_played["log"].groupby("model")["net_pnl"].sum()
    pd.testing.assert_series_equal(versus["contest_net_usd"], contest, check_names=False)


@pytest.mark.shareddata
def test_as_traded_every_recorded_position_is_played_at_full_size_or_listed_with_its_cause(contest_played):
    disc = contest_played["disc"]
    as_traded = disc[disc["execution"] == AS_TRADED]
    # one: qwen3-max's 2-DOGE position (about $0.40), below the $10 minimum order value the env keeps
    assert len(as_traded) == 1
    row = as_traded.iloc[0]
    assert row["model"] == "qwen3-max" and row["size"] == 2.0 and "below_min_notional" in row["cause"]
    outcomes = contest_played["played"]["outcomes"]
    mine = outcomes[outcomes["execution"] == AS_TRADED]
    assert set(mine["status"]) == {"closed", "refused"} and not mine["scaled"].any()
    # gemini's two positions entered at 05:01 and 06:01 on 10-28 are played and closed at their exits
    late = mine[(mine["model"] == "gemini-2.5-pro") & (mine["entry_time"] >= pd.Timestamp("2025-10-28 05:00Z"))]
    assert len(late) == 2 and (late["status"] == "closed").all()
    # on bars they are played too, opened at the last fill (07:00; the DOGE entry waited behind an
    # earlier event on its coin), so their exits (06:36) would fill after the episode: open at its end
    on_bars = outcomes[(outcomes["execution"] == ON_BARS) & (outcomes["model"] == "gemini-2.5-pro")
                       & (outcomes["entry_time"] >= pd.Timestamp("2025-10-28 05:00Z"))]
    assert list(on_bars["status"]) == ["open_at_end", "open_at_end"]
    assert (pd.to_datetime(on_bars["fill_bar"], utc=True) == pd.Timestamp("2025-10-28 07:00Z")).all()
    assert not outcomes["status"].isin(("after_window", "not_reached")).any()
    assert disc["cause"].str.len().gt(0).all()


@pytest.mark.shareddata
def test_every_difference_is_split_into_measured_causes(contest_played):
    causes = contest_played["causes"]
    assert causes["residual_usd"].abs().max() < 2.0, causes["residual_usd"].to_dict()
    as_traded = causes.xs(AS_TRADED, level="execution")
    assert as_traded["fill_prices_usd"].abs().max() < 0.01        # as traded: the recorded prices themselves
    # what is left as traded is the log's own net PnL against its gross less its fees, and fees
    assert (as_traded["difference_usd"] - as_traded["log_net_vs_gross_minus_fees_usd"]
            - as_traded["fees_usd"] - as_traded["discrepancies_usd"]).abs().max() < 0.01


@pytest.mark.shareddata
def test_leverage_never_comes_from_a_prompt_dated_after_the_position_closed(contest_played):
    outcomes = contest_played["played"]["outcomes"]
    sources = outcomes["leverage_source"]
    assert not sources.str.startswith("default").any()
    prompted = outcomes[sources.str.startswith("prompt")]
    assert len(prompted) >= 1
    for _, row in prompted.iterrows():
        when = pd.Timestamp(row["leverage_source"].split(";")[0][len("prompt "):], tz="UTC")
        assert row["entry_time"] - pd.Timedelta(minutes=1) <= when <= row["exit_time"]


def test_a_recorded_account_is_a_policy_spec(tmp_path: Path):
    from arena_gym.campaigns.policy_specs import policy_from_spec

    path = tmp_path / "my_trades.csv"
    log_frame([["paper", "BTC", 0.1, at(2.5), at(5.2), 100_610.0, 100_640.0]]).to_csv(path, index=False)
    policy = policy_from_spec(f"mine=recorded:{path}#paper")
    assert policy.name == "mine" and len(policy.outcomes()) == 1
    with pytest.raises(ValueError, match="no account"):
        policy_from_spec(f"recorded:{path}#other")
    with pytest.raises(ValueError, match="expected recorded"):
        policy_from_spec(f"recorded:{path}")
