"""The ``arena-gym`` command line.

Each subcommand lives in its own module under ``arena_gym.cli`` and defines
``register(subparsers)`` (adds its parser and sets ``func``). Modules are imported only when
the command line is built, and heavy libraries only inside the command that needs them.
Options several commands share are declared once, in :mod:`arena_gym.cli.evaluation_options`.

Arrows: the top floor; reads the campaigns, training, evaluation, agents, presets and data, and
nothing reads it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("demo", "episode", "train", "sweep", "eval", "arena", "report", "download", "replay", "season1", "paper",
            "serve-env", "train-llm")


#: LLVM optimisation level the command line asks numba for, unless ``NUMBA_OPT`` is set already:
#: the compiled step runs as fast at 1 as at numba's default 3 (single env 18.7-20.2 against
#: 19.6-22.9 us per step, vector env 218-232 against 218-231 us per 256-account step, alternated
#: three times) and its first compile takes less CPU: 11.8-15.3 s against 15.0-18.9 s, lower in
#: each of six alternated pairs, by 6-33 % (median about 15 %).
#: The level changes no number: without fast-math, LLVM keeps IEEE semantics at every level.
NUMBA_OPT_LEVEL = "1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena-gym", description="Perpetual-futures trading arena for LLM and RL policies.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"arena_gym.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # read by numba when it is first imported, which only a command's own work does (it is lazy)
    os.environ.setdefault("NUMBA_OPT", NUMBA_OPT_LEVEL)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"arena-gym {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
