"""Environment speed benchmark: steps per second of arena-gym's environments and two others.

Usage (from the repository root, in the project's environment)::

    python scripts/bench_env.py                       # everything, competitors included
    python scripts/bench_env.py --skip-competitors    # the floors and arena-gym only
    python scripts/bench_env.py --only perp-env --only gym-trading-env --steps 5000
    python scripts/bench_env.py --json bench.json     # also save the figures
    python scripts/bench_env.py --rounds 3            # the engines in turn, three times: steadier ratios

Engines measured, each in a fresh interpreter of its own:

==================  ==============================================================
floor               a Gymnasium environment whose step does nothing: the cost of the
                    step loop itself
contract-floor      an environment with ``PerpTradingEnv``'s step contract (action
                    checks, a fresh observation of the same size, the same info keys,
                    a per-step record) and no simulation: an upper bound for any
                    Python environment with this interface
perp-env            ``arena_gym.env.PerpTradingEnv``, six assets, random target actions
perp-vector-64      ``arena_gym.env.PerpVectorEnv`` with 64 accounts
perp-vector-256     ``arena_gym.env.PerpVectorEnv`` with 256 accounts
perp-vector-256-2threads
                    the same with ``num_threads=2`` (the accounts spread over two threads)
perp-exchange-256   that environment's exchange stepped on its own (``Exchange.step``) with
                    orders made from the same actions (no action decoding, observations,
                    rewards or info)
first-step          seconds of a fresh process that imports arena-gym, makes an env, resets
                    it and takes its first step, for PerpTradingEnv and PerpVectorEnv(256):
                    cold (empty numba cache: compiling) and warm (cached); and the floors
                    under them: the exchange kernel alone, ``import arena_gym.env``, and
                    numba on its own (one one-line function compiled, or loaded)
sb3-ppo-64          a short Stable-Baselines3 PPO run through ``SB3VecEnv(64)``: the
                    share of its wall time spent inside the environment
gym-anytrading      gym-anytrading's ``StocksEnv`` (window of 10 bars)
gym-trading-env     gym-trading-env's ``TradingEnv`` (positions short / flat / long)
==================  ==============================================================

All engines step over the same seeded synthetic prices (``arena_gym.market.synthetic``: the
contest's six coins, hourly bars). The six-asset market is written to a parquet file for
arena-gym's runners, and its BTC bars to a CSV file for the two others, which see only BTC
(they are single-asset environments). Every engine samples a pool of
random actions from its own action space before timing, takes ``--warmup`` untimed steps,
then ``--repeats`` timed runs of ``--steps`` steps each; the figure reported is the median
run. Episodes that end inside a run are reset inside it (see ``_bench_runners/_timing.py``).

The competitors live in virtual environments of their own under ``.bench-venvs/<name>/`` at
the repository root, created on first use with ``python -m venv`` and filled with pip
(gym-trading-env pins an old ccxt and needs pandas < 3, so it never enters the project's
environment). An engine that cannot be set up or run is reported with the reason, and the
others still run; the exit status is 1 when one of arena-gym's own engines failed, else 0.

Targets checked: the single environment at least as fast as gym-trading-env in steps per
second (goal: 1.5 times it); the vector environment at least 2,000,000 account-steps per second
with 256 accounts on one thread (goal: 3,000,000), and with two threads at least 1.7 times its
one-thread figure; the first step of a fresh process at most 10 s cold (goal 5 s) and 0.5 s
warm (goal 0.2 s), for each env. Under the single-environment target the contract floor's own
ratio to gym-trading-env is printed too: no environment behind this interface written in Python
can be faster than that; under the vector target, the exchange step's own share of the vector
step. ``first-step`` and ``sb3-ppo-64`` report their own figures (``--steps`` for the PPO run is its PPO steps per account, default 8 x 128).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from arena_gym.market import MarketData
from arena_gym.market.synthetic import synthetic_market

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNNERS_DIR = Path(__file__).resolve().parent / "_bench_runners"
DEFAULT_VENV_DIR = REPO_ROOT / ".bench-venvs"

SINGLE_ENV_TARGET = 1.0  # perp-env steps/s over gym-trading-env steps/s
SINGLE_ENV_GOAL = 1.5
VECTOR_ENV_TARGET = 2_000_000.0  # account-steps/s of perp-vector-256 (one thread)
VECTOR_ENV_GOAL = 3_000_000.0
TWO_THREADS_TARGET = 1.7  # perp-vector-256-2threads over perp-vector-256
COLD_FIRST_STEP_TARGET, COLD_FIRST_STEP_GOAL = 10.0, 5.0  # seconds, empty numba cache
WARM_FIRST_STEP_TARGET, WARM_FIRST_STEP_GOAL = 0.5, 0.2  # seconds, cached
PPO_STEPS_PER_ACCOUNT = 1_024
MIN_BARS = 100  # room for the observation windows (at most 24 bars here) and a few steps after them


@dataclass(frozen=True)
class Competitor:
    """A third-party environment package installed in a virtual environment of its own."""

    name: str
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class Engine:
    """One measured environment: its runner script, accounts per step, and where it runs."""

    name: str
    runner: str
    accounts: int
    competitor: Competitor | None = None
    runner_args: tuple[str, ...] = ()


GYM_ANYTRADING = Competitor("gym-anytrading", ("gym-anytrading==2.0.0",))
GYM_TRADING_ENV = Competitor("gym-trading-env", ("gym-trading-env==0.3.5", "pandas<3"))

ENGINES = (
    Engine("floor", "run_floor.py", 1),
    Engine("contract-floor", "run_contract_floor.py", 1),
    Engine("perp-env", "run_perp_env.py", 1),
    Engine("perp-vector-64", "run_perp_vector_env.py", 64, runner_args=("--num-envs", "64")),
    Engine("perp-vector-256", "run_perp_vector_env.py", 256, runner_args=("--num-envs", "256")),
    Engine("perp-vector-256-2threads", "run_perp_vector_env.py", 256,
           runner_args=("--num-envs", "256", "--num-threads", "2")),
    Engine("perp-exchange-256", "run_perp_vector_env.py", 256, runner_args=("--num-envs", "256", "--exchange-only")),
    Engine("first-step", "run_compile.py", 1),
    Engine("sb3-ppo-64", "run_sb3_share.py", 64),
    Engine("gym-anytrading", "run_gym_anytrading.py", 1, GYM_ANYTRADING),
    Engine("gym-trading-env", "run_gym_trading_env.py", 1, GYM_TRADING_ENV),
)
ENGINE_NAMES = tuple(e.name for e in ENGINES)


OWN_FIGURES = ("first-step", "sb3-ppo-64")   # engines reported on their own lines, not as rates


class Unavailable(RuntimeError):
    """An engine could not be set up or run; the message says which step failed and why."""


# ---------------------------------------------------------------------------- prices
def write_prices(market: MarketData, folder: Path) -> dict[str, Path]:
    """The six-asset market as parquet, and its BTC bars as CSV (date, open, high, low, close, volume)."""
    paths = {"market": folder / "market.parquet", "btc": folder / "btc.csv"}
    market.to_parquet(paths["market"])
    btc = market.frame("BTC")[["open", "high", "low", "close", "volume"]]
    btc.to_csv(paths["btc"], index_label="date")
    return paths


# ---------------------------------------------------------------------------- virtual environments
def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_competitor(competitor: Competitor, venv_dir: Path, timeout: float) -> Path:
    """Create the competitor's virtual environment if needed, install its requirements, return its python."""
    venv = venv_dir / competitor.name
    python = venv_python(venv)
    if not python.exists():
        log(f"creating virtual environment {venv}")
        done = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if done.returncode != 0:
            raise Unavailable(f"could not create the virtual environment {venv}:\n{_tail(done.stderr or done.stdout)}")
    log(f"installing {' '.join(competitor.requirements)} into {venv}")
    try:
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *competitor.requirements],
            capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise Unavailable(f"pip install {' '.join(competitor.requirements)} took over {timeout:.0f} s") from None
    if done.returncode != 0:
        raise Unavailable(f"pip install {' '.join(competitor.requirements)} failed in {venv}:\n"
                          f"{_tail(done.stderr or done.stdout)}")
    return python


# ---------------------------------------------------------------------------- running and reporting
def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run_engine(engine: Engine, python: Path, prices: Path, args: argparse.Namespace, workdir: Path) -> dict:
    """Run one engine's runner in a fresh interpreter and return its result with rates added."""
    out = workdir / f"{engine.name}.json"
    steps = PPO_STEPS_PER_ACCOUNT if engine.name == "sb3-ppo-64" else args.steps
    repeats = 1 if engine.name == "sb3-ppo-64" else args.repeats
    command = [
        str(python), str(RUNNERS_DIR / engine.runner), "--prices", str(prices), "--steps", str(steps),
        "--warmup", str(args.warmup), "--repeats", str(repeats), "--seed", str(args.seed), "--out", str(out),
        *engine.runner_args,
    ]
    log(f"running {engine.name}")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{engine.name} did not finish within {args.timeout:.0f} s") from None
    if done.returncode != 0 or not out.exists():
        raise Unavailable(f"{engine.name} failed (exit {done.returncode}):\n{_tail(done.stderr or done.stdout)}")
    return with_rates(json.loads(out.read_text()))


def with_rates(result: dict) -> dict:
    """``result`` with its median run and the rates it gives (steps and account-steps per second)."""
    seconds = statistics.median(result["seconds"])
    result["median_seconds"] = seconds
    result["steps_per_second"] = result["steps"] / seconds
    result["account_steps_per_second"] = result["steps"] * result["accounts"] / seconds
    return result


def merged(earlier: dict, later: dict) -> dict:
    """One engine's results of two rounds as one: every timed run counts for the median; the step's
    parts (best of short runs) are those of the round whose whole step was fastest."""
    out = dict(earlier, seconds=earlier["seconds"] + later["seconds"], resets=earlier["resets"] + later["resets"])
    whole = "whole_step_us"
    if later["details"].get(whole, float("inf")) < earlier["details"].get(whole, float("inf")):
        out["details"] = later["details"]
    return with_rates(out)


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "-"
    ratio = value / reference
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def print_table(results: dict[str, dict]) -> None:
    floor = results.get("floor", {}).get("account_steps_per_second")
    gte = results.get("gym-trading-env", {}).get("account_steps_per_second")
    header = ("engine", "accounts", "steps/s", "account-steps/s", "vs floor", "vs gym-trading-env", "spread")
    rows = [header]
    for name in ENGINE_NAMES:
        if name in results and name not in OWN_FIGURES:
            r = results[name]
            spread = (max(r["seconds"]) - min(r["seconds"])) / r["median_seconds"]
            rows.append((name, str(r["accounts"]), _rate(r["steps_per_second"]),
                         _rate(r["account_steps_per_second"]), _ratio(r["account_steps_per_second"], floor),
                         _ratio(r["account_steps_per_second"], gte), f"{spread:.0%}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print("Ratios compare account-steps per second (for a single environment, steps per second).")
    print("spread: (slowest - fastest repeat) / median repeat time; large values mean a busy machine.")


def target_checks(results: dict[str, dict]) -> list[dict]:
    """The two speed targets, each with its measured figure and verdict (PASS, FAIL, NOT MEASURED)."""
    checks = []
    single, gte = results.get("perp-env"), results.get("gym-trading-env")
    check = {"target": f"perp-env steps/s >= {SINGLE_ENV_TARGET:g}x gym-trading-env steps/s"}
    if single and gte:
        ratio = single["steps_per_second"] / gte["steps_per_second"]
        check.update(measured=ratio, verdict="PASS" if ratio >= SINGLE_ENV_TARGET else "FAIL",
                     text=f"{single['steps_per_second']:,.0f} / {gte['steps_per_second']:,.0f} = {ratio:.2f}x "
                          f"(goal {SINGLE_ENV_GOAL:g}x: {'met' if ratio >= SINGLE_ENV_GOAL else 'not met'})")
        gat = results.get("gym-anytrading")
        if gat:
            check["text"] += f"; vs gym-anytrading {single['steps_per_second'] / gat['steps_per_second']:.2f}x"
        contract = results.get("contract-floor")
        if contract:
            bound = contract["steps_per_second"] / gte["steps_per_second"]
            check["text"] += (f" (the contract floor, with no simulation, reaches {bound:.2f}x; "
                              f"{1e6 / contract['steps_per_second']:.1f} of perp-env's "
                              f"{1e6 / single['steps_per_second']:.1f} us per step)")
    else:
        missing = [n for n, r in (("perp-env", single), ("gym-trading-env", gte)) if not r]
        check.update(measured=None, verdict="NOT MEASURED", text=f"no result for {', '.join(missing)}")
    checks.append(check)
    vector = results.get("perp-vector-256")
    check = {"target": f"perp-vector-256 account-steps/s >= {VECTOR_ENV_TARGET:,.0f}"}
    if vector:
        rate = vector["account_steps_per_second"]
        check.update(measured=rate, verdict="PASS" if rate >= VECTOR_ENV_TARGET else "FAIL",
                     text=f"{rate:,.0f} = {rate / VECTOR_ENV_TARGET:.2f}x the target "
                          f"(goal {VECTOR_ENV_GOAL:,.0f}: {'met' if rate >= VECTOR_ENV_GOAL else 'not met'})")
        exchange = results.get("perp-exchange-256")
        if exchange:
            check["text"] += (f" (the exchange step alone: {exchange['account_steps_per_second']:,.0f}, "
                              f"{1e6 * exchange['median_seconds'] / exchange['steps']:.0f} us of the "
                              f"{1e6 * vector['median_seconds'] / vector['steps']:.0f} us per step)")
        d = vector.get("details", {})
        if "compiled_step_us" in d:
            check["text"] += (f"; in short runs from a reset (best of {d.get('part_runs', 9)}; median "
                              f"{d.get('whole_step_median_us', float('nan')):.0f} us), the whole step took "
                              f"{d['whole_step_us']:.0f} us: the compiled step {d['compiled_step_us']:.0f} us (of "
                              f"which the exchange's bars without orders {d['bars_without_orders_us']:.0f} us, the "
                              f"observations and info {d['observations_and_info_us']:.0f} us, and the rest decoding "
                              f"the actions, validating and filling the orders, rewards) and the Python around it "
                              f"{d['whole_step_us'] - d['compiled_step_us']:.0f} us")
    else:
        check.update(measured=None, verdict="NOT MEASURED", text="no result for perp-vector-256")
    checks.append(check)
    threaded = results.get("perp-vector-256-2threads")
    check = {"target": f"perp-vector-256-2threads >= {TWO_THREADS_TARGET:g}x perp-vector-256 account-steps/s"}
    if vector and threaded:
        ratio = threaded["account_steps_per_second"] / vector["account_steps_per_second"]
        check.update(measured=ratio, verdict="PASS" if ratio >= TWO_THREADS_TARGET else "FAIL",
                     text=f"{threaded['account_steps_per_second']:,.0f} / {vector['account_steps_per_second']:,.0f} "
                          f"= {ratio:.2f}x")
    else:
        check.update(measured=None, verdict="NOT MEASURED", text="no result for perp-vector-256 and its 2 threads")
    checks.append(check)
    first = results.get("first-step")
    for kind in ("single", "vector"):
        for state, target, goal in (("cold", COLD_FIRST_STEP_TARGET, COLD_FIRST_STEP_GOAL),
                                    ("warm", WARM_FIRST_STEP_TARGET, WARM_FIRST_STEP_GOAL)):
            check = {"target": f"{kind} env first step, {state} <= {target:g} s"}
            if first:
                seconds = statistics.median(first["details"][f"{kind}_{state}_seconds"])
                check.update(measured=seconds, verdict="PASS" if seconds <= target else "FAIL",
                             text=f"{seconds:.2f} s (goal {goal:g} s: {'met' if seconds <= goal else 'not met'})")
            else:
                check.update(measured=None, verdict="NOT MEASURED", text="no result for first-step")
            checks.append(check)
    return checks


def own_figures(results: dict[str, dict]) -> list[str]:
    """The compile times and the PPO run's environment share, one line each."""
    lines = []
    first = results.get("first-step")
    if first:
        d = first["details"]
        for kind, label in (("single", "PerpTradingEnv"), ("vector", "PerpVectorEnv(256)")):
            cold, warm = d[f"{kind}_cold_seconds"], d[f"{kind}_warm_seconds"]
            lines.append(f"first-step {kind}: {label}, fresh process (import, make, reset, first step): cold "
                         f"{statistics.median(cold):.1f} s (empty numba cache: compiling), warm "
                         f"{statistics.median(warm):.2f} s (cached); median of {len(cold)}")
        cold, warm = d.get("single_opt1_cold_seconds"), d.get("single_opt1_warm_seconds")
        if cold and warm:
            lines.append(f"first-step single at NUMBA_OPT=1 (as the arena-gym command compiles): cold "
                         f"{statistics.median(cold):.1f} s, warm {statistics.median(warm):.2f} s")
        floors = [(label, d.get(f"{kind}_cold_seconds"), d.get(f"{kind}_warm_seconds"))
                  for kind, label in (("kernel", "the exchange kernel alone"), ("import", "import arena_gym.env"),
                                      ("numba", "numba alone, one one-line function"))]
        lines.append("first-step floors, fresh process, cold / warm: " + "; ".join(
            f"{label} {statistics.median(cold):.2f} / {statistics.median(warm):.2f} s"
            for label, cold, warm in floors if cold and warm))
    ppo = results.get("sb3-ppo-64")
    if ppo:
        share = statistics.median(ppo["details"]["env_share"])
        env_s = statistics.median(ppo["details"]["env_seconds"])
        lines.append(f"sb3-ppo-64: {share:.1%} of the PPO run's wall time is in the environment "
                     f"({env_s:.1f} of {ppo['median_seconds']:.1f} s, {ppo['steps'] * ppo['accounts']:,} "
                     f"account-steps)")
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000, help="timed steps per repeat (default 20000)")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed steps before timing (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported (default 3)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times the rate engines run, in turn, each time in a fresh interpreter; every timed run "
                             "of every round counts for the median, so that engines measured minutes apart share the "
                             "machine's busy and quiet stretches (default 1; first-step and sb3-ppo-64 run once)")
    parser.add_argument("--bars", type=int, default=8_760, help="hourly bars of synthetic prices (default 8760)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the prices and of every action pool")
    parser.add_argument("--skip-competitors", action="store_true", help="measure the floors and arena-gym only")
    parser.add_argument("--only", action="append", choices=ENGINE_NAMES, metavar="NAME",
                        help=f"measure only this engine (repeatable): {', '.join(ENGINE_NAMES)}")
    parser.add_argument("--venv-dir", type=Path, default=DEFAULT_VENV_DIR,
                        help="where the competitors' virtual environments live (default .bench-venvs/)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per engine and per install")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also save the figures as JSON")
    args = parser.parse_args(argv)
    for name in ("steps", "repeats", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.bars < MIN_BARS:
        parser.error(f"--bars must be at least {MIN_BARS}, got {args.bars}")
    if args.warmup < 0:
        parser.error(f"--warmup must be at least 0, got {args.warmup}")
    return args


def selected_engines(args: argparse.Namespace) -> list[Engine]:
    chosen = [e for e in ENGINES if not args.only or e.name in args.only]
    if args.skip_competitors:
        chosen = [e for e in chosen if e.competitor is None]
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engines = selected_engines(args)
    if not engines:
        log("no engine selected (--only names only competitors, and --skip-competitors drops them)")
        return 2
    market = synthetic_market(n_bars=args.bars, seed=args.seed)
    results: dict[str, dict] = {}
    unavailable: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-env-") as tmp:
        workdir = Path(tmp)
        prices = write_prices(market, workdir)
        pythons: dict[str, Path] = {}
        for round_ in range(args.rounds):
            for engine in engines:
                if engine.name in unavailable or (round_ > 0 and engine.name in OWN_FIGURES):
                    continue
                try:
                    if engine.competitor is None:
                        python, price_file = Path(sys.executable), prices["market"]
                    else:
                        name = engine.competitor.name
                        if name not in pythons:
                            pythons[name] = ensure_competitor(engine.competitor, args.venv_dir, args.timeout)
                        python, price_file = pythons[name], prices["btc"]
                    result = run_engine(engine, python, price_file, args, workdir)
                    results[engine.name] = merged(results[engine.name], result) if engine.name in results else result
                except Unavailable as error:
                    unavailable[engine.name] = str(error)
                    results.pop(engine.name, None)
                    log(f"{engine.name} not measured: {error}")

    rounds = f" x {args.rounds} rounds, the engines in turn" if args.rounds > 1 else ""
    print(f"arena-gym environment benchmark: {args.steps:,} timed steps x {args.repeats} repeats{rounds} "
          f"(median of all runs shown), {args.warmup:,} warm-up steps, seed {args.seed}")
    print(f"prices: {market.name}, {market.n_bars:,} hourly bars of {', '.join(market.symbols)} "
          f"(the competitors see BTC only)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print()
    print_table(results)
    print()
    for line in own_figures(results):
        print(line)
    print()
    checks = target_checks(results)
    for check in checks:
        print(f"{check['verdict']:<12}  {check['target']}: {check['text']}")
    print()
    for name, result in results.items():
        versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
        reset_note = f"; episode resets in the timed runs: {sum(result['resets'])}" if result["accounts"] == 1 else ""
        print(f"{name}: {versions}{reset_note}")
    for name, reason in unavailable.items():
        print(f"{name}: NOT MEASURED: {reason}")

    if args.json:
        args.json.write_text(json.dumps({
            "config": {"steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "rounds": args.rounds,
                       "bars": market.n_bars,
                       "seed": args.seed, "assets": list(market.symbols), "prices": market.name},
            "machine": {"machine": platform.machine(), "cpus": os.cpu_count(), "system": platform.platform(),
                        "python": platform.python_version()},
            "results": results,
            "targets": checks,
            "unavailable": unavailable,
        }, indent=2))
        log(f"figures saved to {args.json}")
    own_failures = [e.name for e in engines if e.competitor is None and e.name in unavailable]
    return 1 if own_failures else 0


if __name__ == "__main__":
    sys.exit(main())
