"""Alpha Arena Season 1 on the record: the six recorded LLMs, walk-forward PPO and the five
baselines on the contest's own window, under one env configuration.

Every contestant plays the contest preset's env (Hyperliquid rules with the contest's dated fee
schedule, isolated margin, $10,000, house rules) on the same real 1-hour bars (Binance USD-M,
which tracks Hyperliquid's prices within about 0.05-0.1 %), offline:

* the **recorded LLMs**, each twice: the contest's trade log played back through ``env.step``
  (:mod:`arena_gym.agents.recorded`) **as traded** (every fill at its recorded price and time) and **on bars**
  (the contest's JSON decision, filled at the next open like every other contestant), each
  position at the leverage of the nearest contest record that covers it
  (:mod:`.season1_recorded`; the log itself carries a placeholder leverage of 1);
* **PPO**, trained and validated only on bars before the window (:mod:`arena_gym.training.walk_forward`, preset
  ``policies/ppo-season1.toml``), under the same env, once per seed of :data:`PPO_SEEDS` (one
  after another, one thread each): each seed is its own contestant (``ppo-s<seed>``) and the
  seeds' mean is reported with a t-interval over seeds;
* the five **baselines**.

Beside raw return, every contestant gets its exposure, its beta to the equal-weight index of the
six coins and the return that beta does not explain (:mod:`.exposure`).

Outputs in ``out``: ``full/`` (the whole window: one continuous episode per contestant, equity
curves in one plot, report), ``daily/`` (the UTC days of those same runs, positions carried
across midnight (:mod:`.days`): the Bradley-Terry ranking with bootstrap intervals over paired
days, ``daily_returns.csv``, report), ``season1_table.csv``, ``ppo_seeds.csv``,
``recorded_vs_contest.csv`` (each recorded LLM's net PnL as traded and on bars beside the
contest's), ``recorded_discrepancies.csv`` (positions the simulator scaled, refused or closed
where the contest did not, with the cause), ``recorded_difference_causes.csv`` (each difference
split into its causes), ``recorded_outcomes.csv`` (what the env did with every recorded
position, with its leverage and where it came from), ``season1.md`` (all of it as text) and
``report.html`` (:mod:`.season1_report`). Rerunning resumes (the PPO models and finished episodes are
reused).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from arena_gym.agents.baselines import BASELINES
from arena_gym.agents.policies import SB3Policy, model_config_path
from arena_gym.agents.recorded import AS_TRADED, ON_BARS, outcome_summary, recorded_policies
from arena_gym.data.cache import DataError
from arena_gym.env.config import EnvConfig
from arena_gym.evaluation.days import compounded, cut_into_days
from arena_gym.evaluation.evaluation_report import format_leaderboard, write_report
from arena_gym.evaluation.exposure import exposure_comparison, index_step_returns
from arena_gym.evaluation.metrics import exposure_from_positions
from arena_gym.evaluation.significance import format_significance
from arena_gym.evaluation.windows import DateWindow, pinned_plan
from arena_gym.market.data import MarketData
from arena_gym.presets import env_config, load_market, read_env_preset
from arena_gym.replay.tradelog import load_trade_log, read_table
from arena_gym.training.ppo_training import load_policy_preset
from arena_gym.training.walk_forward import train_walk_forward
from arena_gym.venue import asset_specs

from .arena_campaign import ArenaPlan, run_arena, with_fields
from .policy_specs import policy_from_spec
from .season1_recorded import (carry_every_entry, contest_curves, difference_causes, discrepancies, finer_on_bars,
                               leverage_sources, play_recorded, position_leverage, versus_contest)
from .season1_report import CAUSE_HEADERS, VERSUS_HEADERS, write_season_report

#: The coins of the contest, in the order of its prompts.
COINS = ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE")
#: The preset naming the contest's env, window and real-data market.
PRESET = "alpha-arena-s1-real"
#: File name of the contest's trade log (closed trades 2025-10-17 .. 2025-10-28).
CONTEST_LOG_NAME = "trades_api_union_2025-10-17_to_10-28.csv"
#: Leverage of a recorded position no contest record covers (none does in the contest's log).
FALLBACK_LEVERAGE = 10.0
#: Known gaps of the contest's log, shown beside the model.
LOG_NOTES = {"gemini-2.5-pro": "log incomplete: about 58 early trades are missing"}
#: A gap every recorded model shares.
COMMON_LOG_NOTE = ("The log holds closed trades only: positions still open when it was cut (2025-10-28 07:04 UTC) "
                   "are not in it")
#: Seeds PPO is trained with, each its own contestant ``ppo-s<seed>``.
PPO_SEEDS = (0, 1, 2, 3, 4)
#: Exposure columns of the table (:func:`~arena_gym.evaluation.exposure.exposure_comparison`): (key, header, scale).
EXPOSURE_COLUMNS = (("peak_exposure", "peak exposure x equity", 1.0), ("beta", "beta to EW index", 1.0),
                    ("alpha", "alpha % (return - beta x EW index)", 100.0),
                    ("index_at_avg_exposure", "EW index at own avg exposure %", 100.0),
                    ("excess_over_index_exposure", "return - EW index at own exposure pp", 100.0))

#: Columns of the full-window table: (metric, header with its unit, scale).
TABLE_COLUMNS = (("total_return", "return %", 100.0), ("sharpe", "Sharpe (annualized)", 1.0),
                 ("max_drawdown", "max drawdown %", 100.0), ("fees_paid", "fees $", 1.0),
                 ("funding_paid", "funding $", 1.0), ("n_trades", "trades", 1.0),
                 ("trade_win_rate", "win rate % (trades)", 100.0), ("avg_trade_leverage", "avg trade leverage x", 1.0),
                 ("avg_gross_leverage", "avg exposure x equity", 1.0))


def season_preset() -> dict[str, Any]:

    return read_env_preset(PRESET)


def season_config() -> EnvConfig:
    """The env every contestant plays (the preset's ``[env]``)."""
    preset = season_preset()
    return env_config(preset.get("env", {}), preset["path"])


def _needed_files(quote: str = "USDT") -> str:
    return ", ".join(f"{c}_{quote}_{quote}-1h-futures.feather" for c in COINS) + \
        f" (and <COIN>_{quote}_{quote}-8h-funding_rate.feather for funding)"


def _how_to_get() -> str:
    return ("get them with 'arena-gym download --exchange binanceusdm --coins BTC,ETH,SOL,BNB,XRP,DOGE --timeframe 1h "
            "--since 2024-01-01' (then run without --data, from the cache) or import a freqtrade folder with "
            "'arena-gym download --from-freqtrade DIR --exchange binanceusdm --timeframe 1h'")


def load_season_market(data: str | Path | None) -> MarketData:
    """The contest coins at 1 hour under the contest's rules, from a freqtrade folder, a
    long-format parquet file, or (``None``) the download cache named by the preset.

    Raises:
        FileNotFoundError: naming the files needed and how to get them.
    """
    preset = season_preset()
    rules = preset.get("evaluation", {}).get("rules", "alpha-arena-s1")
    if data is None:
        table = dict(preset["market"])
        try:
            market = load_market(table, Path(preset["path"]).parent)
        except (DataError, FileNotFoundError, ValueError) as err:
            raise FileNotFoundError(f"the contest preset reads 1h candles and funding of {', '.join(COINS)} on "
                                    f"binanceusdm from the download cache, which lacks them ({err}); {_how_to_get()}; "
                                    "or pass --data FOLDER with the freqtrade files") from None

        return market.with_assets(asset_specs(list(market.symbols), rules))
    path = Path(data)
    if path.is_file() and path.suffix in (".parquet", ".pq"):
        return MarketData.from_parquet(path, rules=rules, symbols=list(COINS), name=path.stem)
    if not path.is_dir():
        raise FileNotFoundError(f"--data {path}: no such folder or parquet file; it must hold {_needed_files()}; "
                                f"{_how_to_get()}")
    for quote in ("USDT", "USDC"):
        if all((path / f"{c}_{quote}_{quote}-1h-futures.feather").is_file() for c in COINS):
            return MarketData.from_freqtrade(path, list(COINS), "1h", quote=quote, rules=rules,
                                             name=f"{path.name}-1h")
    missing = [f"{c}_USDT_USDT-1h-futures.feather" for c in COINS
               if not (path / f"{c}_USDT_USDT-1h-futures.feather").is_file()]
    raise FileNotFoundError(f"--data {path} lacks {', '.join(missing)}; the contest needs {_needed_files()}; "
                            f"{_how_to_get()}")


def find_trade_log(data: str | Path | None, trades: str | Path | None) -> Path:
    """``trades`` when given, else ``alpha-arena-s1/<CONTEST_LOG_NAME>`` in the folder holding ``data``."""
    if trades is not None:
        path = Path(trades)
        if not path.is_file():
            raise FileNotFoundError(f"--trades {path}: no such file")
        return path
    if data is not None:
        guess = Path(data).resolve().parent / "alpha-arena-s1" / CONTEST_LOG_NAME
        if guess.is_file():
            return guess
    raise FileNotFoundError(f"the contest's trade log ({CONTEST_LOG_NAME}: closed trades with model_id, symbol, "
                            "quantity, entry/exit time and price, fees) was not found beside --data; pass --trades PATH")


def contest_log(path: str | Path) -> pd.DataFrame:
    """The contest's trade log, loaded; its ``leverage`` column (1 on every row, a placeholder of
    the source) is dropped: leverage comes from the contest's records (:mod:`.season1_recorded`)."""
    raw = read_table(path)
    return load_trade_log(raw.drop(columns=[c for c in ("leverage",) if c in raw.columns]))


# ---------------------------------------------------------------------- the run
def run_season1(data: str | Path | None, out: str | Path, *, trades: str | Path | None = None,
                total_timesteps: int | None = None, progress: bool = True, n_boot: int = 1000,
                models: Sequence[str] | None = None, baselines: Sequence[str] = tuple(BASELINES),
                ppo_preset: str | Path | dict[str, Any] = "ppo-season1", ppo_seeds: Sequence[int] = PPO_SEEDS,
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """Play the season (module docstring) into ``out``; returns the tables and paths.

    ``models`` keeps only these accounts of the trade log (default all), ``baselines`` these
    baselines (default the five); ``ppo_preset`` is the PPO preset (name, path or dict),
    ``total_timesteps`` overrides its budget and ``ppo_seeds`` are the seeds it is trained with.
    """
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    preset = season_preset()
    evaluation = preset.get("evaluation", {})
    window, cut = evaluation["window"], evaluation["training_cut"]
    log_path = find_trade_log(data, trades)
    market = load_season_market(data)
    config = season_config()
    pinned_plan(market, config, [window])                       # a window the data lacks fails here, first
    trade_log = contest_log(log_path)
    log(f"market {market.name}: {market.n_bars} hourly bars {pd.Timestamp(market.timestamps[0]):%Y-%m-%d} .. "
        f"{pd.Timestamp(market.timestamps[-1]):%Y-%m-%d}; contest log {log_path.name}: {len(trade_log)} trades")

    ppo_preset = ppo_preset if isinstance(ppo_preset, dict) else load_policy_preset(ppo_preset)
    log(f"[1/4] walk-forward PPO, {len(ppo_seeds)} seed(s) one after another")
    ppo_models = train_ppo_seeds(market, with_fields(config, ppo_preset.get("env", {})), cut, out / "ppo", ppo_preset,
                                 ppo_seeds, total_timesteps=total_timesteps, log=log)
    recorded = recorded_contestants(trade_log, log_path.parent, models, market, config, window)
    ppo_policies = [SB3Policy.load(path, name=name) for name, path in ppo_models.items()]
    policies = [*recorded, *ppo_policies, *(policy_from_spec(b) for b in baselines)]
    title = f"Alpha Arena Season 1 on the record, {window} UTC"
    log(f"[2/4] full window {window}: {len(policies)} contestants")
    full = run_arena(market, config, policies, out / "full", ArenaPlan(seeds=(0,), date_windows=(window,)),
                     title=title + " (full window)", progress=progress, n_boot=n_boot)
    log("[3/4] the days of those runs")
    days = cut_into_days(out / "full", out / "daily")
    daily = write_report(out / "daily", title=title + " (days of the continuous runs)", n_boot=n_boot)

    log("[4/4] recorded LLMs against the contest's own figures")
    recorded_result = _recorded_against_contest(recorded, trade_log, market, config, window, data, log)
    plan = pinned_plan(market, config, [window])
    table = _season_table(full["metrics"], recorded, ppo_models)
    exposure = exposure_table(out / "full", market, plan.starts[0])
    table = table.join(exposure).join(significance_columns(full.get("significance")))
    table = table[[c for c in table.columns if c != "note"] + ["note"]]
    ppo_seeds_frame = ppo_seed_table(table, ppo_models)
    window_obj = DateWindow.parse(window)
    facts = {
        "window": window_obj.label, "daily_windows": len(days.days), "training_cut": cut,
        "index_return_pct": window_index_return(market, plan.starts[0], plan.config),
        "buy_and_hold_check": buy_and_hold_check(table, market, plan.starts[0], plan.config),
        "daily_compounding": daily_compounding_check(days.returns, table),
        "daily_notes": list(days.notes),
        "env": full.get("env_line") or (f"{config.exchange} rules, {config.margin_mode} margin, "
                                         f"${config.initial_capital:,.0f}, {market.bar_seconds // 60}-minute bars"),
        "metric_notes": list(full.get("notes", [])),
        "market": market.name, "ppo_models": {k: str(v) for k, v in ppo_models.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    result = {"table": table, "leaderboard": daily["leaderboard"], "leaderboard_note": daily.get("leaderboard_note"),
              **recorded_result, "facts": facts, "full": full, "daily": daily,
              "ppo_seeds": ppo_seeds_frame, "daily_returns": days.returns}
    result["text"] = season_text(result)
    result["paths"] = _write(out, result)
    return result


def train_ppo_seeds(market: MarketData, config: EnvConfig, cut: str, folder: Path, preset: dict[str, Any],
                    seeds: Sequence[int], *, total_timesteps: int | None = None,
                    log: Callable[[str], None] = print) -> dict[str, Path]:
    """Walk-forward PPO once per seed, one after another, into ``folder/seed-<seed>`` (a finished
    seed is reused); returns ``{"ppo-s<seed>": best model path}``."""
    if not seeds:
        raise ValueError("PPO needs at least one seed")
    models = {}
    for seed in seeds:
        seeded = {**preset, "train": {**preset.get("train", {}), "seed": int(seed)}}
        log(f"      seed {seed}")
        models[f"ppo-s{seed}"] = train_walk_forward(market, config, cut, folder / f"seed-{seed}", seeded,
                                                    total_timesteps=total_timesteps,
                                                    log=lambda line: log(f"        {line}"))
    return models


def exposure_table(full_dir: Path, market: MarketData, start: int) -> pd.DataFrame:
    """Per contestant of the full-window run in ``full_dir`` (one window, seed 0): the
    :data:`EXPOSURE_COLUMNS` against the equal-weight index of the market's coins over the
    steps it played."""
    import json

    capital = float(json.loads((full_dir / "config.json").read_text())["env"]["initial_capital"])
    steps = pd.read_parquet(full_dir / "steps.parquet")
    positions = [f"pos_{s}" for s in market.symbols]
    rows = {}
    for name, run in steps[steps["seed"] == steps["seed"].min()].groupby("policy", sort=False):
        run = run.sort_values("step")
        equity = np.r_[capital, run["equity"].to_numpy(dtype=np.float64)]
        gross = exposure_from_positions(run[positions].to_numpy(dtype=np.float64), equity[1:])["gross_leverage"]
        index = index_step_returns(market.close, np.r_[start, run["bar"].to_numpy()])
        figures = exposure_comparison(equity, gross, index)
        rows[name] = {header: figures[key] * scale for key, header, scale in EXPOSURE_COLUMNS}
    return pd.DataFrame.from_dict(rows, orient="index")


def ppo_seed_table(table: pd.DataFrame, ppo_models: dict[str, Path]) -> pd.DataFrame:
    """PPO's seeds, one row each, then their mean and its 95 % t-interval over seeds
    (``mean +- t(0.975, n - 1) x sd / sqrt(n)``; n/a with one seed)."""
    import json

    from scipy import stats

    columns = ["return %", "Sharpe (annualized)", "max drawdown %", "avg exposure x equity",
               "alpha % (return - beta x EW index)", "trades"]
    rows = {}
    for name, path in ppo_models.items():
        meta = json.loads(model_config_path(path).read_text())
        rows[name] = {**{c: float(table.loc[name, c]) for c in columns},
                      "validation best return %": 100.0 * float(meta.get("validation_mean_total_return", np.nan)),
                      "train s": float(meta.get("train_seconds", np.nan))}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    n = len(frame)
    mean, sd = frame.mean(), frame.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n) if n > 1 else sd * np.nan
    frame.loc["mean of seeds"] = mean
    frame.loc["95 % t-interval low"] = mean - half
    frame.loc["95 % t-interval high"] = mean + half
    frame.index.name = "PPO"
    return frame


def window_index_return(market: MarketData, start: int, config: EnvConfig) -> float:
    """The equal-weight index's return over the window after bar ``start`` (hourly rebalanced,
    before costs), in %."""
    bars = np.arange(start, start + config.episode_length * config.bars_per_decision + 1)
    return 100.0 * float(np.prod(1.0 + index_step_returns(market.close, bars)) - 1.0)


def buy_and_hold_check(table: pd.DataFrame, market: MarketData, start: int, config: EnvConfig) -> dict[str, float] | None:
    """buy_and_hold's return beside the equal-weight price return of the coins (first fill at the
    open after ``start``, last close of the window) less its fees and funding; ``None`` without it."""
    if "buy_and_hold" not in table.index:
        return None
    last = start + config.episode_length * config.bars_per_decision
    price_return = 100.0 * float(np.mean(market.close[last] / market.open[start + 1] - 1.0))
    row = table.loc["buy_and_hold"]
    costs = 100.0 * (float(row["fees $"]) + float(row["funding $"])) / config.initial_capital
    return {"equal_weight_price_return_pct": price_return, "costs_pct": costs,
            "expected_pct": price_return - costs, "buy_and_hold_pct": float(row["return %"]),
            "difference_pp": float(row["return %"]) - (price_return - costs)}


def daily_compounding_check(returns: pd.DataFrame, table: pd.DataFrame) -> dict[str, float]:
    """The largest gap, over contestants, between the compounded daily returns and the
    full-window return (percentage points)."""
    days = compounded(returns[returns["seed"] == returns["seed"].min()]).droplevel("seed")
    gap = (days - table["return %"].reindex(days.index)).abs()
    return {"contestants": int(gap.notna().sum()), "max_abs_difference_pp": float(gap.max())}


# ---------------------------------------------------------------------- recorded LLMs
def recorded_contestants(trade_log: pd.DataFrame, records: Path, models: Sequence[str] | None,
                         market: MarketData, config: EnvConfig, window: str) -> list:
    """Each model of the log twice, as traded and on bars, each position at the leverage of the
    nearest contest record that covers it (:mod:`.season1_recorded`)."""
    plan = pinned_plan(market, config, [window])
    leverage = carry_every_entry(trade_log, position_leverage(trade_log, records, market, FALLBACK_LEVERAGE), market,
                                 plan.config, plan, models)
    notes = dict(LOG_NOTES)
    return [policy for execution in (AS_TRADED, ON_BARS)
            for policy in recorded_policies(trade_log, leverage=FALLBACK_LEVERAGE, notes=notes, models=models,
                                            execution=execution, position_leverage=leverage,
                                            suffix=f" ({execution})")]


def _recorded_against_contest(recorded, trade_log, market, config, window, data, log) -> dict[str, Any]:
    """Both executions of every recorded model against the contest's log (:mod:`.season1_recorded`)."""
    plan = pinned_plan(market, config, [window])
    played = play_recorded(recorded, market, plan.config, plan)
    disc = discrepancies(played["compared"], market)
    finer = finer_on_bars([p for p in recorded if p.execution == ON_BARS], data, window, config, trade_log, log) \
        if data is not None else None
    shown = trade_log[trade_log["model"].isin({p.model for p in recorded})]
    return {"versus_contest": versus_contest(shown, played, disc, finer), "discrepancies": disc,
            "difference_causes": difference_causes(shown, played, disc),
            "outcomes": outcome_summary(played["outcomes"]), "position_outcomes": played["outcomes"],
            "leverage_sources": leverage_sources(played["outcomes"]),
            "pnl_curves": pd.concat([contest_curves(shown), played["curves"]], ignore_index=True)}


def _season_table(metrics: pd.DataFrame, recorded, ppo_models: dict[str, Path]) -> pd.DataFrame:
    rows = {}
    kinds = {p.name: "recorded LLM" for p in recorded}
    notes = {p.name: p.note for p in recorded}
    executions = {p.name: p.execution for p in recorded}
    for name, row in metrics.iterrows():
        rows[name] = {"kind": kinds.get(name, "PPO (walk-forward)" if name in ppo_models else "baseline"),
                      "execution": executions.get(name, ""),
                      **{header: float(row.get(metric, np.nan)) * scale for metric, header, scale in TABLE_COLUMNS},
                      "note": notes.get(name, "")}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["trades"] = table["trades"].round().astype("Int64")
    table.index.name = "contestant"
    return table.sort_values("return %", ascending=False)


#: significance table column -> season table header (:mod:`.significance`).
SIGNIFICANCE_COLUMNS = {"null_p_return": "null p (return)", "null_p_sharpe": "null p (Sharpe)", "psr": "PSR",
                        "dsr": "DSR", "beats": "beats benchmark (5 %, corrected)"}


def significance_columns(significance: pd.DataFrame | None) -> pd.DataFrame:
    """The season table's chance columns from the full window's significance table (empty without one)."""
    if significance is None or significance.empty:
        return pd.DataFrame(columns=list(SIGNIFICANCE_COLUMNS.values()))
    out = significance[list(SIGNIFICANCE_COLUMNS)].rename(columns=SIGNIFICANCE_COLUMNS)
    out[SIGNIFICANCE_COLUMNS["beats"]] = out[SIGNIFICANCE_COLUMNS["beats"]].fillna("").replace("", "-")
    return out


def significance_text(full: dict[str, Any]) -> list[str]:
    """The "could it be chance?" section of the printout, with how it was computed."""
    table = full.get("significance")
    if table is None or table.empty:
        return ["## Could it be chance?", "No significance table (no surrogates were played)."]
    return ["## Could it be chance? (full window)", "```\n" + format_significance(table) + "\n```",
            *full.get("significance_notes", [])]


def _fmt_table(frame: pd.DataFrame, floatfmt: str = "{:,.2f}") -> str:
    """A Markdown table (units in the headers)."""
    cols = [frame.index.name or ""] + list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for idx, row in frame.iterrows():
        cells = [str(idx)]
        for v in row:
            if isinstance(v, (bool, np.bool_)):
                cells.append("yes" if v else "no")
            elif isinstance(v, (float, np.floating)):
                cells.append("" if np.isnan(v) else floatfmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def exposure_text(facts: dict[str, Any]) -> list[str]:
    """What the exposure columns mean, and buy_and_hold beside the equal-weight price return."""
    lines = [f"Exposure x equity: gross notional over equity after each hour. Beta and alpha against the equal-weight "
             f"index of the six coins (rebalanced hourly, before costs; {facts['index_return_pct']:+.2f} % over the "
             "window): alpha = return - beta x index return. 'EW index at own avg exposure' holds that index long at "
             "the contestant's own average exposure (before costs): did it beat the market at its own leverage?"]
    check = facts.get("buy_and_hold_check")
    if check:
        lines.append(f"buy_and_hold returned {check['buy_and_hold_pct']:+.2f} %: the equal-weight price return of the "
                     f"six coins ({check['equal_weight_price_return_pct']:+.2f} %) less its fees and funding "
                     f"({check['costs_pct']:.2f} % of capital) is {check['expected_pct']:+.2f} %; the "
                     f"{check['difference_pp']:+.3f} pp left is the fill slippage and the opening fee's room in the "
                     "margin (it holds 1 / (1 + fee) of equity).")
    return lines


def ppo_seeds_text(frame: pd.DataFrame) -> list[str]:
    """PPO's seeds and their mean with its t-interval, as Markdown."""
    n = len(frame) - 3
    total = frame["train s"].iloc[:n].sum()
    return [f"## PPO over {n} seed(s)", _fmt_table(frame),
            f"Each seed trained walk-forward with the same preset, one after another on one thread each "
            f"({total:,.0f} s of training in all). Mean of seeds with a 95 % t-interval over seeds "
            "(mean +- t(0.975, n - 1) x sd / sqrt(n)); one seed gives none."]


def daily_text(facts: dict[str, Any]) -> list[str]:
    """What the daily ranking is, and the check that its days compound to the window."""
    check = facts["daily_compounding"]
    return [*facts.get("daily_notes", []),
            f"Check: for all {check['contestants']} contestants the daily returns compound to the full-window "
            f"return within {check['max_abs_difference_pp']:.1e} pp (daily/daily_returns.csv)."]


def season_text(result: dict[str, Any]) -> str:
    """Everything the command prints, as Markdown."""
    f = result["facts"]
    parts = [f"# Alpha Arena Season 1 on the record: {f['window']} UTC",
             f"{f['env']} PPO trained and validated only on bars before {f['training_cut']} UTC. Recorded LLMs: "
             f"{COMMON_LOG_NOTE}.",
             "## Full window", _fmt_table(result["table"]), *f["metric_notes"], *exposure_text(f),
             *significance_text(result["full"]), *ppo_seeds_text(result["ppo_seeds"]),
             f"## Bradley-Terry ranking over the {f['daily_windows']} UTC days of the continuous runs (total return; "
             "Elo scale, 95 % bootstrap intervals)"]
    if result["leaderboard"] is not None:
        parts.append("```\n" + format_leaderboard(result["leaderboard"]) + "\n```")
    else:
        parts.append(f"No ranking: {result['leaderboard_note']}.")
    parts += daily_text(f)
    parts += recorded_text(result)
    parts.append(f"Finished in {f['seconds']:.0f} s.")
    return "\n\n".join(parts) + "\n"


def recorded_text(result: dict[str, Any]) -> list[str]:
    """The recorded LLMs' sections of the printout: against the contest, discrepancies, outcomes."""
    versus = result["versus_contest"]
    parts = ["## Recorded LLMs: as traded and on bars against the contest's own net PnL",
             "Net PnL over the whole log, $, gross - fees, before funding, as the contest's log reports it (the "
             "simulated funding is beside it). Replay error: the difference without the discrepancies' share.",
             _fmt_table(versus.rename(columns=VERSUS_HEADERS)[[h for h in VERSUS_HEADERS.values()
                                                               if h in versus.rename(columns=VERSUS_HEADERS)]])]
    disc = result["discrepancies"]
    parts.append(f"## Discrepancies: {len(disc)} recorded position(s) the simulator scaled, refused or closed where "
                 "the contest did not")
    if len(disc):
        shown = disc.set_index("model")[["execution", "symbol", "size", "leverage", "cause", "contest_net_usd",
                                         "simulated_net_usd"]]
        parts.append(_fmt_table(shown.rename(columns={"size": "size (coins)", "leverage": "leverage x",
                                                      "contest_net_usd": "contest net $",
                                                      "simulated_net_usd": "simulated net $"})))
    causes = result["difference_causes"].reset_index().set_index("model").rename(columns=CAUSE_HEADERS)
    parts += ["## Where each difference comes from ($)",
              "Simulated minus contest net PnL, split into: the log's own net PnL against its gross PnL less its "
              "fees; fill prices of the positions played without discrepancy; their fees; the discrepancies; positions "
              "not played; positions whose exit fell after the episode; what is left (residual).",
              _fmt_table(causes),
              "## Leverage of the recorded positions, by source",
              _fmt_table(result["leverage_sources"].reset_index().set_index("model"), "{:,.0f}"),
              "## What the env did with each recorded position", _fmt_table(result["outcomes"], "{:,.0f}")]
    return parts


def _write(out: Path, result: dict[str, Any]) -> dict[str, Path]:

    paths = {"table": out / "season1_table.csv", "ppo_seeds": out / "ppo_seeds.csv",
             "versus": out / "recorded_vs_contest.csv",
             "discrepancies": out / "recorded_discrepancies.csv", "causes": out / "recorded_difference_causes.csv",
             "outcomes": out / "recorded_outcomes.csv",
             "markdown": out / "season1.md", "html": out / "report.html"}
    result["table"].to_csv(paths["table"])
    result["ppo_seeds"].to_csv(paths["ppo_seeds"])
    result["versus_contest"].to_csv(paths["versus"])
    result["discrepancies"].to_csv(paths["discrepancies"], index=False)
    result["difference_causes"].to_csv(paths["causes"])
    result["position_outcomes"].to_csv(paths["outcomes"], index=False)
    paths["markdown"].write_text(result["text"], encoding="utf-8")
    write_season_report(out, result, paths["html"])
    return paths
