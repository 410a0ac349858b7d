"""Benchmark runner: arena-gym's ``PerpVectorEnv`` over the benchmark's six-asset market.

One step advances every account; actions are batches of target exposures drawn from the
batched action space; every other parameter is the environment's default (see
``arena_gym.env.EnvConfig``). The environment resets its own accounts when their episodes end.
"""

from __future__ import annotations

from arena_gym.env import PerpVectorEnv
from arena_gym.market import MarketData

from _timing import measure, runner_arguments, sample_actions, time_vector, write_result


def main() -> None:
    parser = runner_arguments(__doc__)
    parser.add_argument("--num-envs", type=int, required=True, help="accounts stepped together")
    args = parser.parse_args()
    market = MarketData.from_parquet(args.prices)
    env = PerpVectorEnv(market=market, num_envs=args.num_envs, action_mode="target")
    actions = sample_actions(env.action_space, args.seed)
    env.reset(seed=args.seed)
    seconds, resets = measure(time_vector, env, actions, args)
    write_result(args, engine=f"perp-vector-{args.num_envs}", accounts=args.num_envs, seconds=seconds,
                 resets=resets, packages=("arena-gym", "gymnasium", "numpy"),
                 details={"bars": market.n_bars, "assets": list(market.symbols),
                          "action_space": str(env.action_space),
                          "observation_shape": list(env.observation_space.shape)})


if __name__ == "__main__":
    main()
