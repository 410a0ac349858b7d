"""LLMs against PPO and the baselines on the Alpha Arena Season 1 setup.

The contest preset (envs/alpha-arena-s1.toml: six coins, Hyperliquid rules, $10,000, cross
margin, the contest prompt and JSON decision with its house rules) runs on real candles when
``--data`` points at them, else on its synthetic market. PPO is trained on the train split of
the same market (numeric observations, target weights); every policy then plays the same
held-out test windows with PPO's episode timing (policies/ppo.toml ``[env]``: one-week
episodes of 4-hour decisions), the LLMs with the contest's prompt and decision.

    python scripts/benchmark_llm_vs_ppo.py                          # synthetic, LLMs with keys set
    python scripts/benchmark_llm_vs_ppo.py --data user_data/data/hyperliquid --llm gpt-5,claude-sonnet-4-5
    python scripts/benchmark_llm_vs_ppo.py --data user_data/data/binance/futures   # USDT-quoted files work too
    python scripts/benchmark_llm_vs_ppo.py --llm mock --windows 2   # offline check of the LLM path

Results, resumable, go to ``--out`` (default runs/llm-vs-ppo): the episode log, metric
tables, leaderboard, equity curves, the significance table (random-entry null p-values, PSR,
DSR, the corrected comparison with buy_and_hold and hold_cash) and report.html.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arena_gym.cli.evaluation_options import llm_specs
from arena_gym.cli.evaluation_options import parse_seeds, print_summary
from arena_gym.campaigns.arena_campaign import ArenaPlan, head_to_head, ppo_against_field, with_fields
from arena_gym.agents.baselines import BASELINES
from arena_gym.evaluation.evaluation_report import format_head_to_head
from arena_gym.training.ppo_training import load_policy_preset
from arena_gym.presets import load_env_preset, load_market
from arena_gym.registration import CONTEST_COINS


def real_market(path: Path, timeframe: str, coins: list[str]):
    """Candles (and funding) from a freqtrade folder (any quote currency, the folder or its
    ``futures/`` subfolder) or a long-format parquet file."""
    if not path.exists():
        raise FileNotFoundError(f"--data {path} does not exist: give a freqtrade data folder (files like "
                                f"BTC_USDC_USDC-{timeframe}-futures.feather) or a long-format parquet file")
    if path.is_dir():
        table = {"source": "freqtrade", "directory": str(path), "coins": coins, "timeframe": timeframe}
    else:
        table = {"source": "parquet", "path": str(path), "coins": coins}
    return load_market(table, Path.cwd())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="alpha-arena-s1", help="env preset (default alpha-arena-s1)")
    parser.add_argument("--data", type=Path, help="freqtrade folder or parquet file of real candles")
    parser.add_argument("--timeframe", default="1h", help="candle timeframe in --data (default 1h)")
    parser.add_argument("--coins", default=",".join(CONTEST_COINS), help="coins (default the contest's six)")
    parser.add_argument("--llm", default="auto", help="'auto' (presets whose key is set), 'none', or presets")
    parser.add_argument("--episode-length", type=int,
                        help="decisions per episode, for PPO and the others alike (default: policies/ppo.toml's)")
    parser.add_argument("--timesteps", type=int, help="PPO timesteps (default: policies/ppo.toml)")
    parser.add_argument("--windows", type=int, default=8, help="held-out test windows (default 8)")
    parser.add_argument("--seeds", default="0", help="comma-separated env seeds (default 0)")
    parser.add_argument("--concurrency", type=int, default=8, help="LLM episodes in flight (default 8)")
    parser.add_argument("--surrogates", type=int, default=1000,
                        help="random-entry surrogates per policy and episode for the null p-values (default 1000)")
    parser.add_argument("--out", type=Path, default=Path("runs/llm-vs-ppo"), help="output folder")
    args = parser.parse_args(argv)
    try:
        plan = ArenaPlan(split="test", n_windows=args.windows, seeds=tuple(parse_seeds(args.seeds)))
    except ValueError as err:
        parser.error(str(err))
    if args.surrogates < 0:
        parser.error(f"--surrogates must be >= 0, got {args.surrogates}")

    try:
        return run(args, plan)
    except (ValueError, FileNotFoundError) as err:  # bad paths and settings: one line, no traceback
        print(f"{Path(sys.argv[0]).name}: error: {err}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, plan: ArenaPlan) -> int:
    market, config = load_env_preset(args.env)
    coins = [c.strip() for c in args.coins.split(",") if c.strip()]
    if args.data is not None:
        market = real_market(args.data, args.timeframe, coins)
        config = with_fields(config, {"assets": coins})
    preset = load_policy_preset("ppo")
    if args.episode_length is not None:
        preset["env"] = {**preset.get("env", {}), "episode_length": args.episode_length}
    llms = llm_specs(args.llm)
    if not llms:
        print("No LLM in this run: name presets with --llm (local-smollm2 runs on this machine, mock checks the "
              "plumbing offline).")
    summary = ppo_against_field(market, config, [*BASELINES, *llms], args.out, plan, preset,
                                total_timesteps=args.timesteps, title=f"LLMs against PPO on {market.name}",
                                extra={"data": str(args.data) if args.data else "synthetic"},
                                concurrency=args.concurrency, n_surrogates=args.surrogates)
    print_summary(summary)
    llm_names = [p for p in summary["ok"]["policy"].unique() if p.startswith("llm:")]
    if llm_names:
        print("\nPPO against each LLM (paired episodes):")
        print(format_head_to_head(head_to_head(summary["ok"], "ppo", llm_names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
