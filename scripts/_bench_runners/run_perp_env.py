"""Benchmark runner: arena-gym's ``PerpTradingEnv`` over the benchmark's six-asset market.

Actions are target exposures (``action_mode="target"``) drawn from the action space; every
other parameter is the environment's default (see ``arena_gym.env.EnvConfig``: episode length,
random start, observation, ledger).
"""

from __future__ import annotations

from arena_gym.env import PerpTradingEnv
from arena_gym.market import MarketData

from _timing import measure, runner_arguments, sample_actions, time_single, write_result


def main() -> None:
    args = runner_arguments(__doc__).parse_args()
    market = MarketData.from_parquet(args.prices)
    env = PerpTradingEnv(market=market, action_mode="target")
    actions = sample_actions(env.action_space, args.seed)
    env.reset(seed=args.seed)
    seconds, resets = measure(time_single, env, actions, args)
    write_result(args, engine="perp-env", accounts=1, seconds=seconds, resets=resets,
                 packages=("arena-gym", "gymnasium", "numpy"),
                 details={"bars": market.n_bars, "assets": list(market.symbols),
                          "action_space": str(env.action_space),
                          "observation_shape": list(env.observation_space.shape)})


if __name__ == "__main__":
    main()
