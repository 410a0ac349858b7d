"""``arena-gym report``: rebuild the tables, plots and report.html of an evaluation folder.

Example::

    arena-gym report runs/demo/eval --title "PPO against the baselines"
"""

from __future__ import annotations

import argparse

from .evaluation_options import print_summary


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write the tables, plots and HTML report of an evaluation folder",
        description="Read <run>/episodes.jsonl and the per-episode files and write results, metrics (CSV, "
                    "Parquet, JSON), the leaderboard, equity_curves.png, fingerprints.png and report.html.")
    p.add_argument("run", help="evaluation folder (holds episodes.jsonl)")
    p.add_argument("--title", help="report title (default: from the folder name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from arena_gym.evaluation.evaluation_report import write_report

    print_summary(write_report(args.run, title=args.title))
    return 0
