"""Could it be chance: the random-entry null is calibrated for traders that time their entries at
random and finds a planted edge; it replays a contestant's own trades as they were played; PSR and
DSR reproduce the worked example of Bailey and López de Prado (2014) and an independent
implementation; SPA, StepM and the Model Confidence Set give the reference values on a fixed
series; the tables carry all of it."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from arena_gym.env import EnvConfig
from arena_gym.env.vector_env import PerpVectorEnv
from arena_gym.evaluation.comparison import benchmark_tests, bootstrap_intervals, confidence_set
from arena_gym.evaluation.null import (Episode, TradePlan, curve_statistics, draw_entries, null_tests,
                                       play_placements, upper_p_value)
from arena_gym.evaluation.runner import EpisodeKey, play_episode
from arena_gym.evaluation.sharpe import (deflated_sharpe_ratio, expected_max_sharpe, probabilistic_sharpe_ratio,
                                         sharpe_inference)
from arena_gym.evaluation.significance import significance_table
from arena_gym.market.indicators import WARMUP_BARS
from arena_gym.market.synthetic import synthetic_market
from markets import bars_market, flat_bars


class RandomEntries:
    """Opens a position on a flat coin with probability ``p_open`` per decision (random side, 5-30 %
    of equity), holds it at constant size for a geometric number of decisions, then closes it."""

    name = "random_entries"
    env_overrides = {"action_mode": "target", "observation_mode": "numeric"}

    def __init__(self, p_open: float = 0.05, mean_hold: float = 8.0) -> None:
        self.p_open, self.mean_hold = p_open, mean_hold

    def bind(self, env) -> None:
        self.env = env

    def reset(self, seed=None) -> None:
        self.rng = np.random.default_rng(seed)
        self.left = np.zeros(self.env.market.n_assets, np.int64)

    def act(self, observation, info) -> np.ndarray:
        market, cap = self.env.market, self.env.config.leverage_cap
        notional = np.zeros(market.n_assets)
        for position in self.env.positions():
            notional[market.symbols.index(position.symbol)] = position.size * position.mark_price
        weights = np.zeros(market.n_assets)
        for a in range(market.n_assets):
            if self.left[a] > 0:
                self.left[a] -= 1
                weights[a] = notional[a] / (cap * float(info["equity"])) if self.left[a] else 0.0
            elif self.rng.random() < self.p_open:
                weights[a] = self.rng.choice((-1.0, 1.0)) * self.rng.uniform(0.05, 0.3) / cap
                self.left[a] = self.rng.geometric(1.0 / self.mean_hold)
        return weights


class TrailingMomentum:
    """Long each coin whose last ``bars`` bars rose, short where they fell (gross 1x)."""

    name = "trailing_momentum"
    env_overrides = {"action_mode": "target", "observation_mode": "numeric"}

    def __init__(self, bars: int = 12) -> None:
        self.bars = bars

    def bind(self, env) -> None:
        self.env = env

    def reset(self, seed=None) -> None:
        pass

    def act(self, observation, info) -> np.ndarray:
        close, bar = self.env.market.close, int(info["bar"])
        direction = np.sign(np.log(close[bar] / close[bar - self.bars]))
        return direction / (direction.size * self.env.config.leverage_cap)


def played(policy, market, config, starts, name="p") -> list[Episode]:
    out = []
    for w, start in enumerate(starts):
        _, steps, trades = play_episode(policy, market, config, EpisodeKey(name, w, int(start), 0))
        equity = np.concatenate([[config.initial_capital], steps["equity"].to_numpy()])
        out.append(Episode(int(start), equity, trades, w, 0))
    return out


# ---------------------------------------------------------------------- the null
def test_the_replay_of_a_contestants_own_placement_is_its_episode():
    market = synthetic_market(2000, seed=3)
    config = EnvConfig(episode_length=120)
    contestants = {f"r{s}": [played(RandomEntries(), market, config, [1000 + 50 * s], f"r{s}")[0]] for s in range(3)}
    results = null_tests(contestants, market, config, n_surrogates=50)
    for name, result in results.items():
        assert result.n_trades > 5
        assert result.replayed_return == pytest.approx(result.recorded_return, abs=1e-9), name


def test_placements_keep_each_coin_to_one_position_and_a_lone_trade_is_uniform():
    symbols = ("BTC", "ETH")
    plan = TradePlan(symbols, 20, np.array([0, 0, 0, 1]), np.array([1, -1, 1, -1]), np.full(4, 0.1),
                     np.array([0, 5, 12, 3]), np.array([4, 6, 3, 17]), np.full(4, 3.0))
    entries = draw_entries(plan, 20_000, np.random.default_rng(0))
    assert ((entries >= 0) & (entries + plan.hold <= plan.n_steps)).all()
    btc = entries[:, :3]
    order = np.argsort(btc, axis=1)
    starts, ends = np.take_along_axis(btc, order, 1), np.take_along_axis(btc + plan.hold[:3], order, 1)
    assert (ends[:, :-1] <= starts[:, 1:]).all()                     # never two BTC positions at once
    counts = np.bincount(entries[:, 3], minlength=4)                  # ETH: 17 decisions of 20 fit at 0..3
    assert stats.chisquare(counts).pvalue > 0.001
    # every order of the three BTC trades appears about equally often
    orders = pd.Series([tuple(o) for o in order]).value_counts()
    assert len(orders) == 6 and stats.chisquare(orders.to_numpy()).pvalue > 0.001


def test_each_surrogate_trade_opens_at_its_own_leverage():
    """Two trades of half the equity each on isolated margin, BTC long at 25x and ETH long at 2x;
    both coins dip 5 % inside the bar the third decision plays. Placed over the dip, the 25x BTC
    position is liquidated at its liquidation price ((100 - 200 / 50) / (1 - 1.25 %)) and the
    account keeps the rest; the 2x ETH position survives (at 25x it would not: its liquidation
    price would be (2000 - 80) / 0.98 > 1900). Placed after the dip, flat prices and no fees
    leave the equity at 10,000."""
    n = 80
    dip = WARMUP_BARS + 5 + 3
    btc, eth = flat_bars(100.0, n), flat_bars(2000.0, n)
    btc[dip] = (100.0, 100.0, 95.0, 100.0)
    eth[dip] = (2000.0, 2000.0, 1900.0, 2000.0)
    market = bars_market({"BTC": btc, "ETH": eth})
    config = EnvConfig(margin_mode="isolated", slippage="none", fees=(0.0, 0.0), episode_length=6)
    plan = TradePlan(("BTC", "ETH"), 6, np.array([0, 1]), np.array([1, 1]), np.array([0.5, 0.5]), np.array([0, 0]),
                     np.array([3, 3]), np.array([25.0, 2.0]))
    entries = np.array([[0, 0], [3, 3], [0, 3], [3, 0]])          # BTC and ETH entry decisions
    (equity,) = play_placements(market, config, WARMUP_BARS + 5, [plan], [entries])
    btc_kept = 10_000.0 - 50.0 * (100.0 - 96.0 / (1 - 0.0125))
    np.testing.assert_allclose(equity[:, -1], [btc_kept, 10_000.0, btc_kept, 10_000.0], rtol=1e-12)
    # the same plan with the leverages swapped: ETH at 25x is liquidated at 1920 / 0.98, BTC at 2x is not
    swapped = TradePlan(plan.symbols, 6, plan.asset, plan.side, plan.share, plan.entry, plan.hold, np.array([2.0, 25.0]))
    (equity,) = play_placements(market, config, WARMUP_BARS + 5, [swapped], [entries])
    eth_kept = 10_000.0 - 2.5 * (2000.0 - 1920.0 / 0.98)
    np.testing.assert_allclose(equity[:, -1], [eth_kept, 10_000.0, 10_000.0, eth_kept], rtol=1e-12)


def random_trader(rng, symbols, n_steps, p_open=0.04, mean_hold=10.0) -> TradePlan:
    """A trader that opens on a flat coin with probability ``p_open`` per decision and holds for a
    geometric time: its timing knows nothing of prices."""
    rows = []
    for a in range(len(symbols)):
        t = 0
        while t < n_steps:
            if rng.random() < p_open:
                hold = min(int(rng.geometric(1.0 / mean_hold)), n_steps - t)
                rows.append((a, rng.choice((-1, 1)), rng.uniform(0.05, 0.3), t, hold))
                t += hold
            else:
                t += 1
    a, side, share, entry, hold = (np.array(c) for c in zip(*rows))
    return TradePlan(tuple(symbols), n_steps, a.astype(np.int64), side.astype(np.int64), share,
                     entry.astype(np.int64), hold.astype(np.int64), np.full(len(a), 10.0))


def test_null_p_values_of_random_traders_are_uniform():
    """200 seeded random traders (20 windows x 10, each window one vector env batch of 10 x 101
    accounts): their null p-values are uniform (Kolmogorov-Smirnov)."""
    market = synthetic_market(6000, seed=21)
    config = EnvConfig(episode_length=60)
    symbols = PerpVectorEnv(1, market, config).market.symbols
    n_surrogates = 100
    p_return, p_sharpe = [], []
    t0 = time.perf_counter()
    for w, start in enumerate(np.linspace(300, 5800, 20).astype(int)):
        plans, entries = [], []
        for i in range(10):
            rng = np.random.default_rng([7, w, i])
            plan = random_trader(rng, symbols, 60, p_open=0.06)
            plans.append(plan)
            entries.append(np.vstack([plan.entry[None, :], draw_entries(plan, n_surrogates, rng)]))
        for curve in play_placements(market, config, int(start), plans, entries):
            total, sharpe = curve_statistics(curve, market.bar_seconds)
            p_return.append(upper_p_value(total[0], total[1:]))
            p_sharpe.append(upper_p_value(sharpe[0], sharpe[1:]))
    seconds = time.perf_counter() - t0
    assert len(p_return) == 200
    assert stats.kstest(p_return, "uniform").pvalue > 0.01
    assert stats.kstest(p_sharpe, "uniform").pvalue > 0.01
    assert seconds < 30


def test_a_planted_edge_is_found_and_its_absence_is_not():
    """Trend following on a market with a planted persistent drift: p < 0.01; the same rule on
    the same market without it: not."""
    config = EnvConfig(episode_length=240, deadband=0.05)
    p = {}
    for strength in (0.0, 0.5):
        market = synthetic_market(3000, seed=11, trend_drift=0.0, range_reversion=0.0, signal_strength=strength,
                                  signal_halflife_hours=48.0)
        episodes = played(TrailingMomentum(), market, config, [1200, 2400])
        p[strength] = null_tests({"momentum": episodes}, market, config, n_surrogates=1000, seed=0)["momentum"]
    assert p[0.5].p_return < 0.01 and p[0.5].p_sharpe < 0.01
    assert p[0.0].p_return > 0.01 and p[0.0].p_sharpe > 0.01


def test_no_trades_and_no_freedom_give_n_a_with_the_reason():
    market = synthetic_market(2000, seed=3)
    config = EnvConfig(episode_length=60)
    from arena_gym.agents.baselines import BuyAndHold, HoldCash

    contestants = {"hold_cash": played(HoldCash(), market, config, [900]),
                   "buy_and_hold": played(BuyAndHold(), market, config, [900])}
    results = null_tests(contestants, market, config, n_surrogates=20)
    assert math.isnan(results["hold_cash"].p_return) and "no trades" in results["hold_cash"].reason
    assert math.isnan(results["buy_and_hold"].p_return)
    assert "whole episode" in results["buy_and_hold"].reason


def test_the_null_is_reproducible_and_seeded():
    market = synthetic_market(2000, seed=3)
    config = EnvConfig(episode_length=80)
    contestants = {"r": played(RandomEntries(), market, config, [700, 1100])}
    a = null_tests(contestants, market, config, n_surrogates=100, seed=4)["r"]
    b = null_tests(contestants, market, config, n_surrogates=100, seed=4)["r"]
    c = null_tests(contestants, market, config, n_surrogates=100, seed=5)["r"]
    np.testing.assert_array_equal(a.surrogate_returns, b.surrogate_returns)
    assert not np.array_equal(a.surrogate_returns, c.surrogate_returns)


# ---------------------------------------------------------------------- PSR and DSR
def test_dsr_reproduces_the_papers_worked_example():
    """Bailey and López de Prado (2014), 'The Deflated Sharpe Ratio', numerical example: 100
    trials whose annualized Sharpe ratios vary with variance 1/2, the best has an annualized SR
    of 2.5 over 1,250 daily returns with skewness -3 and kurtosis 10: SR0 = 0.1132 per day and
    DSR = 0.9004."""
    per_day = 2.5 / math.sqrt(250)
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe_ratio(per_day, 1250, -3.0, 10.0, 100, 0.5 / 250) == pytest.approx(0.9004, abs=5e-4)
    assert deflated_sharpe_ratio(per_day, 1250, -3.0, 10.0, 1, 0.5 / 250) == \
        probabilistic_sharpe_ratio(per_day, 1250, -3.0, 10.0)


def fixed_returns() -> pd.DataFrame:
    rng = np.random.default_rng(2024)
    common = rng.normal(0, 0.006, 500)
    return pd.DataFrame({"edge": 0.0008 + common + rng.normal(0, 0.006, 500),
                         "noise_a": common + rng.normal(0, 0.006, 500),
                         "noise_b": common + rng.normal(0, 0.006, 500),
                         "bench": common + rng.normal(0, 0.006, 500)})


def test_psr_and_dsr_equal_an_independent_implementation():
    returns = fixed_returns()
    table = sharpe_inference({c: returns[c].to_numpy() for c in returns})
    srs = returns.mean() / returns.std(ddof=1)
    n_trials = len(srs)
    sr0 = math.sqrt(srs.var(ddof=1)) * ((1 - np.euler_gamma) * stats.norm.ppf(1 - 1 / n_trials)
                                        + np.euler_gamma * stats.norm.ppf(1 - 1 / (n_trials * np.e)))
    for name in returns:
        r = returns[name].to_numpy()
        g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
        sr = srs[name]
        sigma = np.sqrt((1 - g3 * sr + (g4 - 1) / 4 * sr**2) / (len(r) - 1))
        assert table.loc[name, "skew"] == pytest.approx(g3, rel=1e-10)
        assert table.loc[name, "kurtosis"] == pytest.approx(g4, rel=1e-10)
        assert table.loc[name, "psr"] == pytest.approx(stats.norm.cdf(sr / sigma), rel=1e-9)
        assert table.loc[name, "dsr"] == pytest.approx(stats.norm.cdf((sr - sr0) / sigma), rel=1e-9, abs=1e-12)
    # reference values of this series
    assert table.loc["edge", "psr"] == pytest.approx(0.994065, abs=1e-6)
    assert table.loc["edge", "dsr"] == pytest.approx(0.808493, abs=1e-6)
    assert table.loc["edge", "sr0_per_step"] == pytest.approx(0.073625, abs=1e-6)


def test_constant_returns_have_no_sharpe_ratio():
    table = sharpe_inference({"flat": np.zeros(50), "some": np.random.default_rng(0).normal(0, 0.01, 50)})
    assert math.isnan(table.loc["flat", "psr"]) and "constant" in table.loc["flat", "note"]
    assert table.loc["some", "n_trials"] == 1 and table.loc["some", "dsr"] == table.loc["some", "psr"]


# ---------------------------------------------------------------------- SPA, StepM, MCS, intervals
def test_spa_stepm_and_mcs_equal_the_reference_values():
    returns = fixed_returns()
    test = benchmark_tests(returns, "bench", reps=1000, seed=0)
    assert test.superior == ("edge",)
    assert test.spa_pvalues == pytest.approx({"lower": 0.0, "consistent": 0.001, "upper": 0.001})
    assert test.block_length == 2 and test.reps == 1000
    mcs = confidence_set(returns, reps=1000, seed=0)
    assert mcs.included == ("edge",)
    assert mcs.pvalues == pytest.approx({"noise_b": 0.004, "noise_a": 0.018, "bench": 0.018, "edge": 1.0})
    # without the edge, nothing beats the benchmark
    plain = benchmark_tests(returns.drop(columns="edge"), "bench", reps=1000, seed=0)
    assert plain.superior == () and plain.spa_pvalues["consistent"] > 0.05


def test_bootstrap_intervals_cover_the_statistic():
    r = fixed_returns()["edge"].to_numpy()
    iv = bootstrap_intervals(r, 100, 8760.0, reps=500, seed=0)
    growth = np.prod(1 + r) ** (100 / r.size) - 1
    sharpe = r.mean() / r.std(ddof=1) * math.sqrt(8760)
    assert iv.return_low < growth < iv.return_high
    assert iv.sharpe_low < sharpe < iv.sharpe_high
    assert iv.block_length >= 1 and iv.reps == 500
    # the same replications through arch's own percentile interval
    from arch.bootstrap import StationaryBootstrap

    def statistics(x):
        return np.array([np.expm1(np.log1p(x).sum() * 100 / x.size), x.mean() / x.std(ddof=1) * math.sqrt(8760)])

    reference = StationaryBootstrap(iv.block_length, r, seed=0).conf_int(statistics, reps=500, method="percentile")
    np.testing.assert_allclose([[iv.return_low, iv.sharpe_low], [iv.return_high, iv.sharpe_high]], reference,
                               rtol=1e-12)


# ---------------------------------------------------------------------- the table
def test_significance_table_has_every_column_for_every_contestant():
    from arena_gym.agents.baselines import BuyAndHold, HoldCash

    market = synthetic_market(2000, seed=3)
    config = EnvConfig(episode_length=60)
    starts = [700, 1000, 1300]
    contestants = {"random_entries": played(RandomEntries(), market, config, starts),
                   "buy_and_hold": played(BuyAndHold(), market, config, starts),
                   "hold_cash": played(HoldCash(), market, config, starts)}
    result = significance_table(contestants, market, config, n_surrogates=200, reps=200)
    table = result.table
    assert list(table.index) == list(contestants)
    for column in ("null_p_return", "null_p_sharpe", "psr", "dsr", "skew", "kurtosis", "n_returns", "beats",
                   "in_mcs", "return_ci_low", "sharpe_ci_high", "note"):
        assert column in table.columns
    assert 0 < table.loc["random_entries", "null_p_return"] <= 1
    assert table.loc["random_entries", "n_returns"] == 180
    assert "no trades" in table.loc["hold_cash", "note"]
    assert any("SPA p-value" in n and "buy_and_hold" in n for n in result.notes)
    assert any("block" in n and "replications" in n for n in result.notes)


# ---------------------------------------------------------------------- learnability
@pytest.mark.slow
def test_ppo_with_the_projects_config_learns_a_planted_edge():
    """PPO with policies/ppo.toml, trained on the train split of a market with a planted
    persistent drift, beats hold_cash on the held-out test windows with null p < 0.01: the
    pipeline can learn an edge where there is one (about a minute on two cores)."""
    from arena_gym.campaigns.arena_campaign import with_fields
    from arena_gym.agents.policies import SB3Policy
    from arena_gym.evaluation.splits import evaluation_windows, split_config, time_splits
    from arena_gym.training.ppo_training import load_policy_preset, train_ppo

    market = synthetic_market(8760, seed=7, trend_drift=0.0, range_reversion=0.0, signal_strength=0.5,
                              signal_halflife_hours=48.0)
    preset = load_policy_preset("ppo")
    config = with_fields(EnvConfig(), preset["env"])
    splits = time_splits(market.n_bars, (0.6, 0.2, 0.2), lookback=config.lookback)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        model = train_ppo(market, config, splits, folder, preset, log=None)
        policy = SB3Policy.load(model, name="ppo")
        test_config = split_config(config, splits, "test")
        windows = evaluation_windows(market, test_config, 8, seed=0)
        episodes = played(policy, market, test_config, windows, "ppo")
    result = null_tests({"ppo": episodes}, market, test_config, n_surrogates=1000)["ppo"]
    assert result.recorded_return > 0.0                      # hold_cash makes exactly 0
    assert result.p_return < 0.01 and result.p_sharpe < 0.01


def test_report_and_cli_carry_the_significance_table(tmp_path, capsys):
    import matplotlib.image

    from arena_gym.cli import main
    from arena_gym.agents.baselines import BuyAndHold, HoldCash
    from arena_gym.evaluation.evaluation_report import write_report
    from arena_gym.evaluation.runner import evaluate
    from arena_gym.evaluation.significance import evaluation_significance, remove_significance

    market = synthetic_market(2000, seed=3)
    config = EnvConfig(episode_length=60)
    evaluate([RandomEntries(), BuyAndHold(), HoldCash()], market, config, [700, 1000, 1300], [0], tmp_path,
             progress=False)
    result = evaluation_significance(tmp_path, market, config, n_surrogates=100, reps=200)
    summary = write_report(tmp_path, n_boot=100)
    page = (tmp_path / "report.html").read_text()
    assert "Could it be chance?" in page and "null p (return)" in page and "DSR" in page
    assert "beats (5 %, corrected)" in page and "SPA p-value" in page
    image = matplotlib.image.imread(summary["paths"]["null_png"])
    assert image.shape[0] > 100 and image.std() > 0
    assert list(summary["significance"].index) == list(result.table.index)
    remove_significance(tmp_path)
    assert "significance" not in write_report(tmp_path, n_boot=100)
    assert main(["eval", "--policy", "random", "--surrogates", "-1", "--out", str(tmp_path / "x")]) == 2
    assert "--surrogates must be >= 0" in capsys.readouterr().err


def test_identical_contestants_share_their_place_in_the_confidence_set():
    returns = fixed_returns().assign(cash=0.0, idle=0.0)
    mcs = confidence_set(returns, reps=300, seed=0)
    assert mcs.pvalues["cash"] == mcs.pvalues["idle"]
    assert ("cash" in mcs.included) == ("idle" in mcs.included)
    assert "edge" in mcs.included


def test_a_rerun_that_played_nothing_new_keeps_the_table(tmp_path):
    from arena_gym.campaigns.arena_campaign import ArenaPlan, run_arena
    from arena_gym.agents.baselines import BuyAndHold
    from arena_gym.evaluation.significance import FACTS_NAME, significance_is_current

    market = synthetic_market(3000, seed=3)
    config = EnvConfig(episode_length=48)
    plan = ArenaPlan(n_windows=2, seeds=(0,))
    run_arena(market, config, [RandomEntries(), BuyAndHold()], tmp_path, plan, progress=False, n_boot=100,
              n_surrogates=50)
    assert significance_is_current(tmp_path, n_surrogates=50, reps=100)
    assert not significance_is_current(tmp_path, n_surrogates=60, reps=100)
    stamp = (tmp_path / FACTS_NAME).stat().st_mtime_ns
    summary = run_arena(market, config, [RandomEntries(), BuyAndHold()], tmp_path, plan, progress=False, n_boot=100,
                        n_surrogates=50)
    assert (tmp_path / FACTS_NAME).stat().st_mtime_ns == stamp and summary["significance"] is not None
    run_arena(market, config, [RandomEntries(), BuyAndHold()], tmp_path, plan, progress=False, n_boot=100,
              n_surrogates=0)
    assert not (tmp_path / FACTS_NAME).exists()
