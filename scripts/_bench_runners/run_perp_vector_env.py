"""Benchmark runner: arena-gym's ``PerpVectorEnv`` over the benchmark's six-asset market.

One step advances every account; actions are batches of target exposures drawn from the
batched action space; every other parameter is the environment's default (see
``arena_gym.env.EnvConfig``). The environment resets its own accounts when their episodes end.

With ``--exchange-only`` the exchange of the same environment is stepped directly
(``Exchange.step``: fills, funding, margin, liquidation, marks), with target orders made from the
same pool of actions (each weight times the leverage cap times the initial capital, in coins at
the start bar's close); the accounts restart at their start bars before they run out of data.
Decoding actions, observations, rewards and info are left out: that is the part of a vector step
that no wrapper around the exchange can make faster. ``--num-threads`` spreads the vector env's
accounts over that many threads. On one thread the runner also times the parts of the step
(:func:`step_parts`).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from arena_gym.env import PerpVectorEnv
from arena_gym.env.buffers import OK
from arena_gym.exchange import Orders
from arena_gym.market import MarketData

PART_STEPS, PART_REPEATS = 200, 9   # steps per timed run of a part, and runs (the best is kept)

from _timing import measure, runner_arguments, sample_actions, time_vector, write_result


def exchange_timer(env: PerpVectorEnv, actions: Sequence):
    """A timer like ``time_vector`` that steps only the environment's exchange (module docstring)."""
    core = env.core
    exchange, market, config = core.exchange, core.market, core.config
    start = core.first_start
    coins = config.leverage_cap * config.initial_capital / market.close[start]
    pool = [Orders(size=np.asarray(a, np.float64) * coins, leverage=np.full(np.shape(a), config.leverage_cap),
                   stop_loss=np.full(np.shape(a), np.nan), take_profit=np.full(np.shape(a), np.nan)) for a in actions]
    last_start = market.n_bars - 2 - core.k

    def timer(env: PerpVectorEnv, actions: Sequence, steps: int) -> tuple[float, int]:
        exchange.reset(start)
        step, n = exchange.step, len(pool)
        spent = 0.0
        for i in range(steps):
            if exchange.state.bar[0] >= last_start:
                exchange.reset(start)
            began = time.perf_counter()
            step(pool[i % n], core.k)
            spent += time.perf_counter() - began
        return spent, 0

    return timer


def step_parts(env: PerpVectorEnv, actions: Sequence, seed: int) -> dict[str, float]:
    """Microseconds per step of a one-thread vector step and of its parts, each the best (the whole
    step: also the median) of ``PART_REPEATS`` runs of ``PART_STEPS`` steps from a fresh reset
    (short runs, timed one after the other, so that all come from the same stretch of a shared
    machine): the whole ``env.step``, the compiled step alone (decoding the actions, the
    exchange, rewards, episode ends, info and observations, in one call), the exchange's bars
    without orders (funding, liquidation checks, marks), and the observations and info of every
    account. What the whole step costs beyond the compiled step is the Python around it
    (Gymnasium's step contract: copies and the info dict; autoresets are rare in runs this
    short)."""
    core = env.core
    exchange, pool = core.exchange, len(actions)

    def whole_step(i: int) -> None:
        env.step(actions[i % pool])

    def compiled_step(i: int) -> None:
        core._actions[...] = actions[i % pool]
        status, rows = core._step.run(core._actions, *core._bundles, *exchange.kernel_arguments(core.k))
        if status != OK:
            raise RuntimeError(f"the compiled step did nothing (status {status}): lower PART_STEPS")

    def bars_without_orders(i: int) -> None:
        exchange.step(None, core.k)

    def observations_and_info(i: int) -> None:
        core.reset_info()

    def runs(part: Callable[[int], None]) -> list[float]:
        out = []
        for _ in range(PART_REPEATS):
            env.reset(seed=seed)
            began = time.perf_counter()
            for i in range(PART_STEPS):
                part(i)
            out.append(1e6 * (time.perf_counter() - began) / PART_STEPS)
        return out

    def best(part: Callable[[int], None]) -> float:
        return min(runs(part))

    whole = runs(whole_step)
    return {"part_runs": PART_REPEATS, "whole_step_us": min(whole), "whole_step_median_us": float(np.median(whole)),
            "compiled_step_us": best(compiled_step), "bars_without_orders_us": best(bars_without_orders),
            "observations_and_info_us": best(observations_and_info)}


def main() -> None:
    parser = runner_arguments(__doc__)
    parser.add_argument("--num-envs", type=int, required=True, help="accounts stepped together")
    parser.add_argument("--exchange-only", action="store_true", help="count only the exchange's step")
    parser.add_argument("--num-threads", type=int, default=1, help="threads of the vector env's step (default 1)")
    args = parser.parse_args()
    market = MarketData.from_parquet(args.prices)
    env = PerpVectorEnv(market=market, num_envs=args.num_envs, action_mode="target", num_threads=args.num_threads)
    actions = sample_actions(env.action_space, args.seed)
    env.reset(seed=args.seed)
    timer = exchange_timer(env, actions) if args.exchange_only else time_vector
    seconds, resets = measure(timer, env, actions, args)
    parts = step_parts(env, actions, args.seed) if not args.exchange_only and args.num_threads == 1 else {}
    name = f"perp-{'exchange' if args.exchange_only else 'vector'}-{args.num_envs}"
    if args.num_threads > 1:
        name += f"-{args.num_threads}threads"
    write_result(args, engine=name, accounts=args.num_envs, seconds=seconds,
                 resets=resets, packages=("arena-gym", "gymnasium", "numpy"),
                 details={"bars": market.n_bars, "assets": list(market.symbols),
                          "action_space": str(env.action_space),
                          "observation_shape": list(env.observation_space.shape),
                          "timed": "exchange step only" if args.exchange_only else "whole env step",
                          "num_threads": args.num_threads, **parts})


if __name__ == "__main__":
    main()
