"""Benchmark runner: arena-gym's ``PerpVectorEnv`` over the benchmark's six-asset market.

One step advances every account; actions are batches of target exposures drawn from the
batched action space; every other parameter is the environment's default (see
``arena_gym.env.EnvConfig``). The environment resets its own accounts when their episodes end.

With ``--exchange-only`` the same loop runs, but only the time spent inside the exchange's
``step`` (fills, funding, margin, liquidation, marks) is counted: decoding actions, building
observations and info, and resets are left out. That is the part of a vector step that the
environment wrapper cannot make faster.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from arena_gym.env import PerpVectorEnv
from arena_gym.market import MarketData

from _timing import measure, runner_arguments, sample_actions, time_vector, write_result


def exchange_timer(env: PerpVectorEnv):
    """A timer like ``time_vector`` that returns only the seconds spent in the exchange's step."""
    exchange = env.core.exchange
    inner = exchange.step
    spent = [0.0]

    def timed_step(*args: Any, **kwargs: Any):
        start = time.perf_counter()
        report = inner(*args, **kwargs)
        spent[0] += time.perf_counter() - start
        return report

    exchange.step = timed_step

    def timer(env: PerpVectorEnv, actions: Sequence, steps: int) -> tuple[float, int]:
        spent[0] = 0.0
        time_vector(env, actions, steps)
        return spent[0], 0

    return timer


def main() -> None:
    parser = runner_arguments(__doc__)
    parser.add_argument("--num-envs", type=int, required=True, help="accounts stepped together")
    parser.add_argument("--exchange-only", action="store_true", help="count only the exchange's step")
    args = parser.parse_args()
    market = MarketData.from_parquet(args.prices)
    env = PerpVectorEnv(market=market, num_envs=args.num_envs, action_mode="target")
    actions = sample_actions(env.action_space, args.seed)
    env.reset(seed=args.seed)
    timer = exchange_timer(env) if args.exchange_only else time_vector
    seconds, resets = measure(timer, env, actions, args)
    name = f"perp-{'exchange' if args.exchange_only else 'vector'}-{args.num_envs}"
    write_result(args, engine=name, accounts=args.num_envs, seconds=seconds,
                 resets=resets, packages=("arena-gym", "gymnasium", "numpy"),
                 details={"bars": market.n_bars, "assets": list(market.symbols),
                          "action_space": str(env.action_space),
                          "observation_shape": list(env.observation_space.shape),
                          "timed": "exchange step only" if args.exchange_only else "whole env step"})


if __name__ == "__main__":
    main()
