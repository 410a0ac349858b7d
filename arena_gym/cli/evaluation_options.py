"""Command-line options shared by the commands, each declared once: the env (``--env``,
``--set``), the contestants (``--baselines``, ``--add``, ``--add-sweep``, ``--llm``), the
evaluation plan (windows, seeds, significance, Ray), and the leaderboard printout."""

from __future__ import annotations

import argparse
import json
from typing import Any

from arena_gym.env.config import EnvConfig
from arena_gym.market.data import MarketData


def add_env_options(parser: argparse.ArgumentParser, default_env: str = "synthetic", env_note: str = "",
                    set_note: str = "") -> None:
    """``--env`` (a preset) and ``--set`` (field overrides); :func:`load_env`, :func:`env_config_of`
    and :func:`parse_fields` read them. ``env_note`` and ``set_note`` add what a command needs
    of them to their help."""
    parser.add_argument("--env", default=default_env,
                        help=f"env preset name under envs/ or a TOML path{env_note} (default {default_env})")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an EnvConfig field, e.g. --set episode_length=84 (value read as JSON, "
                             f"else as text){set_note}; repeatable")


def add_contestant_options(parser: argparse.ArgumentParser, all_baselines: bool, sweeps: bool = False) -> None:
    """``--baselines`` (default every baseline when ``all_baselines``, else none), ``--add``,
    ``--add-sweep`` (with ``sweeps``) and ``--llm``; :func:`contestant_specs` reads them."""
    from arena_gym.agents.baselines import BASELINES

    every = ",".join(BASELINES)
    parser.add_argument("--baselines", default=every if all_baselines else "",
                        help=f"comma-separated baselines of {every} (default {'all' if all_baselines else 'none'}; "
                             "'' for none)")
    parser.add_argument("--add", action="append", default=[], metavar="SPEC",
                        help="another contestant: a baseline, ppo:<model.zip>, llm:<preset> or LABEL=<spec>; repeatable")
    if sweeps:
        parser.add_argument("--add-sweep", action="append", default=[], metavar="DIR",
                            help="every seed of the best configuration of a finished 'arena-gym sweep' in DIR; "
                                 "repeatable")
    add_llm_option(parser, "none")


def add_llm_option(parser: argparse.ArgumentParser, default: str) -> None:
    """``--llm``: ``none``, ``auto`` or LLM presets by name (see :func:`llm_specs`)."""
    parser.add_argument("--llm", default=default,
                        help="'auto' adds every hosted LLM preset whose provider key is set; or name presets, e.g. "
                             "gpt-5,local-smollm2 (the local model runs on the CPU: minutes per decision on a small "
                             f"one); 'none' adds none (default {default})")


def llm_specs(choice: str, log=print) -> list[str]:
    """Policy specs for ``--llm``: ``none``, ``auto``, or a comma-separated list of presets.

    With ``auto``, ``log`` receives which presets were added and which were skipped and why.
    """
    if choice == "none":
        return []
    if choice == "auto":
        from arena_gym.agents.policies import llm_preset_status

        status = llm_preset_status(include_local=False)
        added = [name for name, reason in status.items() if reason is None]
        log(f"--llm auto: added {', '.join(added) if added else 'no LLM preset'}")
        skipped = [f"{name} ({reason})" for name, reason in status.items() if reason is not None]
        if skipped:
            log(f"  skipped: {'; '.join(skipped)}")
        return [f"llm:{name}" for name in added]
    return [f"llm:{name.strip()}" for name in choice.split(",") if name.strip()]


def contestant_specs(args: argparse.Namespace) -> list[str]:
    """The policy specs of :func:`add_contestant_options`' options, in order: baselines, ``--add``,
    each seed of the best configuration of each ``--add-sweep`` folder, ``--llm``."""
    specs = [b.strip() for b in args.baselines.split(",") if b.strip()] + args.add
    if getattr(args, "add_sweep", None):
        from arena_gym.training.ppo_sweep import sweep_specs

        specs += [spec for folder in args.add_sweep for spec in sweep_specs(folder)]
    return specs + llm_specs(args.llm)


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"),
                        help="split whose windows are played (default test: held out from training)")
    parser.add_argument("--windows", type=int, default=8, help="number of evaluation windows (default 8)")
    parser.add_argument("--seeds", default="0,1", help="comma-separated env seeds, each window once per seed "
                                                       "(default 0,1)")
    parser.add_argument("--window-seed", type=int, default=0, help="seed that draws the windows (default 0)")
    parser.add_argument("--window", action="append", default=[], metavar="START..END",
                        help="evaluate on this UTC date range instead of random windows of --split, e.g. "
                             "2025-10-17T00:00..2025-10-28T00:00 (END exclusive); repeatable (equal lengths)")
    parser.add_argument("--daily", action="store_true",
                        help="play each --window range as one continuous run and rank its UTC days, the day-by-day "
                             "segments of that run (positions carried across midnight; a partial first or last day "
                             "is kept as its own segment and stated); the runs themselves go to OUT/continuous")
    parser.add_argument("--flat-days", action="store_true",
                        help="instead play every whole UTC day inside the --window ranges as its own episode, each "
                             "starting flat with the initial capital (partial days left out, stated)")
    parser.add_argument("--surrogates", type=int, default=1000, metavar="N",
                        help="random-entry surrogates per policy and episode for the null p-values (default 1000; "
                             "0 skips the significance table)")
    parser.add_argument("--concurrency", type=int, default=8, help="LLM episodes in flight at once (default 8)")
    add_progress_options(parser)
    parser.add_argument("--ray", action="store_true",
                        help="play the episodes as Ray tasks on a local cluster sized to this machine (ray extra)")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="play the episodes on the existing Ray cluster at ADDR (e.g. 10.0.0.5:6379)")


def executor_from(args: argparse.Namespace, specs: list[str], policies: list[Any]):
    """The Ray executor asked for by ``--ray`` / ``--ray-address``, else ``None`` (local)."""
    if not (args.ray or args.ray_address):
        return None
    from arena_gym.campaigns.distributed import RayExecutor

    return RayExecutor({p.name: spec for spec, p in zip(specs, policies)}, address=args.ray_address,
                       concurrency=args.concurrency)


def parse_fields(pairs: list[str], option: str = "--set") -> dict[str, Any]:
    """``["episode_length=84", "assets=[\\"BTC\\"]"]`` -> ``{"episode_length": 84, "assets": ["BTC"]}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} needs NAME=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            out[key.strip()] = text
    return out


def load_env(args: argparse.Namespace) -> tuple[MarketData, EnvConfig]:
    """The market and config of ``--env`` with the ``--set`` overrides applied."""
    from arena_gym.presets import load_env_preset

    market, config = load_env_preset(args.env)
    return market, with_overrides(config, args.set)


def env_config_of(args: argparse.Namespace) -> EnvConfig:
    """The config of ``--env`` with the ``--set`` overrides applied, without loading its market."""
    from arena_gym.presets import env_config, read_env_preset

    preset = read_env_preset(args.env)
    return with_overrides(env_config(preset.get("env", {}), preset["path"]), args.set)


def with_overrides(config: EnvConfig, pairs: list[str]) -> EnvConfig:
    """``config`` with the ``--set FIELD=VALUE`` pairs applied (an unknown field is named)."""
    from arena_gym.campaigns.arena_campaign import with_fields
    from arena_gym.presets import env_config

    fields = parse_fields(pairs)
    if fields:
        env_config(fields, "--set")  # names unknown fields clearly
        config = with_fields(config, fields)
    return config


def add_progress_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar and no decision lines")
    parser.add_argument("--progress-every", type=float, default=10.0, metavar="SECONDS",
                        help="an LLM's decisions get a line each (which decision, its seconds, valid or invalid), "
                             "at most one per LLM every SECONDS (default 10; 0: every decision)")


def progress_every(args: argparse.Namespace) -> float:
    """``--progress-every``, checked."""
    if not args.progress_every >= 0:
        raise ValueError(f"--progress-every must be >= 0 seconds, got {args.progress_every:g}")
    return args.progress_every


def parse_seeds(text: str) -> list[int]:
    """The env seeds of ``--seeds``: ``"0, 1,2"`` -> ``[0, 1, 2]`` (empty items are skipped)."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as err:
        raise ValueError(f"--seeds must be comma-separated integers, got {text!r}") from err
    if not seeds:
        raise ValueError(f"--seeds needs at least one integer, got {text!r}")
    return seeds


def plan_from(args: argparse.Namespace):
    from arena_gym.campaigns.arena_campaign import ArenaPlan

    from arena_gym.evaluation.windows import DateWindow

    for flag, given in (("--daily", args.daily), ("--flat-days", args.flat_days)):
        if given and not args.window:
            raise ValueError(f"{flag} cuts the --window ranges into days; give at least one --window START..END")
    if args.daily and args.flat_days:
        raise ValueError("--daily (the days of one continuous run) and --flat-days (one flat episode per day) exclude "
                         "each other; choose one")
    dated = tuple(DateWindow.parse(w).label for w in args.window)   # a typo fails here, before any work
    if args.surrogates < 0:
        raise ValueError(f"--surrogates must be >= 0, got {args.surrogates}")
    if args.flat_days:
        from arena_gym.evaluation.windows import left_out_notes

        for note in left_out_notes([DateWindow.parse(w) for w in dated]):
            print(f"note: --flat-days: {note}")
    return ArenaPlan(split=args.split, n_windows=args.windows, seeds=tuple(parse_seeds(args.seeds)),
                     window_seed=args.window_seed, date_windows=dated, daily=args.daily, flat_days=args.flat_days)


def exit_code(summary: dict[str, Any]) -> int:
    """1 when some episode failed (the failures are printed and the run can be resumed with
    --retry-errors), else 0."""
    return 1 if len(summary["errors"]) else 0


def print_summary(summary: dict[str, Any]) -> None:
    """The leaderboard (or why there is none), failed episodes and where the report is."""
    import textwrap

    from arena_gym.evaluation.evaluation_report import LEADERBOARD_LEGEND, METRIC_UNITS, format_leaderboard, metric_header

    print()
    print(textwrap.fill(summary.get("env_line", ""), width=110))
    if summary["leaderboard"] is not None:
        print("\nLeaderboard (Bradley-Terry on total return, paired episodes; Elo scale, 95 % CI; means per episode):")
        print(format_leaderboard(summary["leaderboard"], summary["metrics"]))
        print(textwrap.fill(LEADERBOARD_LEGEND, width=110))
    else:
        print(f"\nNo leaderboard: {summary['leaderboard_note']}.")
        if not summary["metrics"].empty:
            columns = [c for c in ("total_return", "sharpe", "max_drawdown", "n_trades") if c in summary["metrics"]]
            table = summary["metrics"][columns] * [METRIC_UNITS[c][1] for c in columns]
            print(table.rename(columns=metric_header).to_string(float_format=lambda v: f"{v:.2f}", na_rep="n/a"))
    for note in summary.get("notes", []):
        print(note)
    if summary.get("significance") is not None:
        from arena_gym.evaluation.significance import SIGNIFICANCE_LEGEND, format_significance

        print("\nCould it be chance? (random-entry null, probabilistic and deflated Sharpe, corrected comparison):")
        print(format_significance(summary["significance"]))
        print(textwrap.fill(SIGNIFICANCE_LEGEND, width=110))
        for note in summary.get("significance_notes", []):
            print(textwrap.fill(note, width=110, subsequent_indent="  "))
    errors = summary["errors"]
    if len(errors):
        print(f"\n{len(errors)} episode(s) failed:")
        for (policy, message), group in errors.groupby(["policy", "error"], dropna=False):
            print(f"  {policy}: {len(group)} x {message}")
    paths = summary.get("paths", {})
    if "html" in paths:
        print(f"\nReport: {paths['html']}")
    if "equity_png" in paths:
        print(f"Equity curves: {paths['equity_png']}")
