"""``arena-gym episode``: run one episode of one policy on an env preset and print its result.

The policy is built and the episode played by the evaluation harness (``policy_from_spec`` and
``play_episode``), so the numbers equal those ``arena-gym eval`` logs for the same start bar and
seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

#: Harness metrics printed after the facts of the episode.
METRIC_FIELDS = ("total_return", "sharpe", "max_drawdown", "n_trades", "trade_win_rate", "fees_paid", "funding_paid",
                 "n_liquidations")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("episode", help="run one episode of a baseline or an LLM on an env preset",
                       description="Run one episode and print its result. Numeric presets take a baseline "
                                   "(--policy); decision presets (e.g. alpha-arena-s1) take an LLM (--llm).")
    p.add_argument("--env", default="synthetic", help="env preset name or TOML path (default: synthetic)")
    p.add_argument("--policy", default="ema_momentum",
                   help="baseline for numeric presets: hold_cash, buy_and_hold, random, ema_momentum, funding_carry "
                        "(or ppo:<model.zip>)")
    p.add_argument("--llm", default=None,
                   help="LLM to play instead: a profile name (policies/llm/), a profile TOML path, or a litellm "
                        "model string with its provider, e.g. openai/gpt-4o")
    p.add_argument("--seed", type=int, default=0, help="seed of the window draw and the policy")
    p.add_argument("--start", default=None, help="start bar index or UTC timestamp (default: drawn from --seed)")
    p.add_argument("--steps", type=int, default=None, help="decisions to run (default: the preset's episode length)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (returns, drawdowns and rates as fractions; \"undefined\" gives the reason of each NaN)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from arena_gym.campaigns.arena_campaign import built_policies
    from arena_gym.evaluation.progress import decision_outcome
    from ..evaluation.runner import EpisodeKey, make_env, play_episode
    from ..presets import load_env_preset

    market, config = load_env_preset(args.env)
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.steps is not None:
        config = replace(config, episode_length=args.steps)
    if args.start is not None:
        config = replace(config, start=int(args.start) if args.start.isdigit() else args.start)
    coins = list(config.assets or market.symbols)  # pins an LLM's decision schema to the env's coins
    with built_policies([_policy_spec(args, config.action_mode)], coins=coins) as (policy,):
        env = make_env(market, config, policy)  # the episode's env: its reset with --seed draws the start bar
        _, first = env.reset(seed=args.seed)
        on_step = None
        if args.llm:   # each decision waits for the model: say so, and report every one
            planned = env.config.episode_length
            print(f"{policy.name}: {planned} decisions, each waits for the model's answer", file=sys.stderr,
                  flush=True)

            def on_step(action, info: dict, seconds: float) -> None:
                print(f"  decision {info['step']}/{planned} ({_time(env.market, int(info['bar']))} UTC): "
                      f"{seconds:.1f} s, {decision_outcome(action, info)}, equity {info['equity']:,.2f}",
                      file=sys.stderr, flush=True)
        started = time.perf_counter()
        metrics, steps, _ = play_episode(policy, market, config, EpisodeKey(policy.name, 0, int(first["bar"]), args.seed),
                                         on_step=on_step)
        seconds = time.perf_counter() - started
    last = steps.iloc[-1]
    planned = env.config.episode_length
    result = {
        "env": args.env, "policy": args.llm or args.policy, "seed": args.seed,
        "window": f"{_time(env.market, int(first['bar']))} .. {_time(env.market, int(last['bar']))} UTC",
        "decisions": int(last["step"]),
        # the account was closed (liquidated or bankrupt) before the planned number of decisions
        "terminated": planned is not None and int(last["step"]) < planned,
        "final_equity": float(last["equity"]),
        "invalid_outputs": int(steps["invalid_output"].sum()) if "invalid_output" in steps else 0,
        "seconds": round(seconds, 2),
        **{k: metrics[k] for k in METRIC_FIELDS if k in metrics},
    }
    from ..evaluation.metrics import undefined_reasons

    undefined = {k: why for k, why in undefined_reasons(int(last["step"]), env.market.bar_seconds
                                                        * env.config.bars_per_decision).items() if k in result}
    if result.get("n_trades") == 0 and "trade_win_rate" in result:
        undefined["trade_win_rate"] = "no closed trades"
    if args.json:
        print(json.dumps({**result, "undefined": undefined}, indent=2, default=float))
    else:
        print_result(result, undefined)
    return 0


def print_result(result: dict, undefined: dict[str, str]) -> None:
    """One line per field; metrics with their unit as in every table (returns and drawdowns in
    %), n/a with its reason where a metric is undefined."""
    import math

    from arena_gym.evaluation.evaluation_report import METRIC_UNITS, metric_header

    rows = []
    for key, value in result.items():
        label = metric_header(key) if key in METRIC_UNITS else key
        if key in undefined or (isinstance(value, float) and math.isnan(value)):
            shown = f"n/a ({undefined[key]})" if key in undefined else "n/a"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            scaled = value * METRIC_UNITS.get(key, ("", 1.0))[1]
            shown = f"{scaled:,.0f}" if isinstance(value, int) or key.startswith("n_") else f"{scaled:,.2f}"
        else:
            shown = value
        rows.append((label, shown))
    width = max(len(label) for label, _ in rows)
    for label, shown in rows:
        print(f"{label:<{width}}  {shown}")


def _policy_spec(args: argparse.Namespace, action_mode: str) -> str:
    """The harness policy spec: the LLM of ``--llm`` when given, else the ``--policy`` baseline."""
    if args.llm:
        return f"llm:{args.llm}"
    if action_mode == "decision":
        raise ValueError(f"env preset {args.env!r} takes contest decisions: pass --llm PROFILE_OR_MODEL "
                         "(a profile of policies/llm/, e.g. mock or local-smollm2, or a litellm model string)")
    return args.policy


def _time(market, bar: int) -> str:
    return str(market.timestamps[bar].astype("datetime64[m]")).replace("T", " ")
