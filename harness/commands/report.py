"""Rebuild the report of a run folder: report.html, latency.png and rate.png.

Exit 0 on success; 3 (bad input) when the folder or its history.jsonl is missing or unreadable.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path,
                        help="a run folder, e.g. results/latest or results/partition-20261126T060000Z")


def execute(args: argparse.Namespace) -> int:
    from harness.report import write_report  # matplotlib loads only for this command

    for path in write_report(args.run_dir):
        print(path)
    return exitcodes.VALID
