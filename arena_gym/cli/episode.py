"""``arena-gym episode``: run one episode of one policy on an env preset and print its result."""

from __future__ import annotations

import argparse
import json
import time
from contextlib import ExitStack


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("episode", help="run one episode of a baseline or an LLM on an env preset",
                       description="Run one episode and print its result. Numeric presets take a baseline "
                                   "(--policy); decision presets (e.g. alpha-arena-s1) take an LLM (--llm).")
    p.add_argument("--env", default="synthetic", help="env preset name or TOML path (default: synthetic)")
    p.add_argument("--policy", default="ema_momentum",
                   help="baseline for numeric presets: hold_cash, buy_and_hold, random, ema_momentum, funding_carry")
    p.add_argument("--llm", default=None, help="LLM profile name (policies/llm/) or litellm model string")
    p.add_argument("--seed", type=int, default=0, help="seed of the window draw and the policy")
    p.add_argument("--start", default=None, help="start bar index or UTC timestamp (default: drawn from --seed)")
    p.add_argument("--steps", type=int, default=None, help="decisions to run (default: the preset's episode length)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..env import PerpTradingEnv
    from ..presets import load_env_preset

    market, config = load_env_preset(args.env)
    if args.steps is not None:
        config = replace(config, episode_length=args.steps)
    if args.start is not None:
        config = replace(config, start=int(args.start) if args.start.isdigit() else args.start)
    env = PerpTradingEnv(market, config)
    with ExitStack() as resources:
        act = _llm_actor(args, env, resources) if config.action_mode == "decision" else _baseline_actor(args, env)
        result = _run_episode(args, env, act)
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            shown = (f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4f}") if isinstance(value, float) else value
            print(f"{key:<{width}}  {shown}")
    return 0


def _run_episode(args: argparse.Namespace, env, act) -> dict:
    import numpy as np

    from ..evaluation.metrics import episode_metrics

    market, config = env.market, env.config
    started = time.perf_counter()
    obs, info = env.reset(seed=args.seed)
    equity = [info["equity"]]
    first_bar = info["bar"]
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(act(obs, info))
        equity.append(info["equity"])
        done = terminated or truncated
    trades = env.trades(include_open=True)
    metrics = episode_metrics(
        np.asarray(equity), market.bar_seconds * config.bars_per_decision, trades=trades,
        totals={"fees_paid": info["fees_paid"], "funding_paid": info["funding_paid"],
                "n_liquidations": info["liquidations"]})
    result = {
        "env": args.env, "policy": args.llm or args.policy, "seed": args.seed,
        "window": f"{_time(env.market, first_bar)} .. {_time(env.market, info['bar'])} UTC",
        "decisions": info["step"], "terminated": bool(terminated), "final_equity": info["equity"],
        "invalid_outputs": int(sum(r["invalid_output"] for r in env.records)),
        "seconds": round(time.perf_counter() - started, 2),
        **{k: metrics[k] for k in ("total_return", "sharpe", "max_drawdown", "n_trades", "win_rate",
                                   "fees_paid", "funding_paid", "n_liquidations") if k in metrics},
    }
    return result


def _time(market, bar: int) -> str:
    return str(market.timestamps[bar].astype("datetime64[m]")).replace("T", " ")


def _baseline_actor(args, env):
    from ..evaluation.baselines import make_baseline

    policy = make_baseline(args.policy)
    policy.bind(env)
    policy.reset(args.seed)
    return policy.act


def _llm_actor(args, env, resources: ExitStack):
    """An LLM policy for a profile name (policies/llm/) or a litellm model string; the local
    model's server is started here and stopped when the episode ends."""
    if not args.llm:
        raise ValueError(f"env preset {args.env!r} takes contest decisions: pass --llm PROFILE_OR_MODEL "
                         "(a profile of policies/llm/, e.g. mock or local-smollm2, or a litellm model string)")
    from ..llm.local_server import MODEL_ALIAS, LocalModelServer
    from ..llm.policy import LLMPolicy
    from ..llm.profiles import available_profiles, load_profile

    profile = load_profile(args.llm) if args.llm in available_profiles() or args.llm.endswith(".toml") else None
    model = profile.model if profile is not None else args.llm
    connection = {}
    if model == f"openai/{MODEL_ALIAS}":
        connection = resources.enter_context(LocalModelServer()).policy_kwargs()
    policy = resources.enter_context(LLMPolicy(model, profile=profile, system_prompt=env.system_prompt,
                                               coins=list(env.market.symbols), **connection))
    policy.reset(args.seed)
    return policy.act
