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
import sys

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("demo", "episode", "train", "sweep", "eval", "arena", "report", "download", "replay", "season1", "paper",
            "serve-env", "train-llm")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena-gym", description="Perpetual-futures trading arena for LLM and RL policies.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"arena_gym.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"arena-gym {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
