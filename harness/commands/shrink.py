"""Shrink a failing simulated run to a minimal reproducer (delta debugging over its faults,
clients, duration and operations; harness/sweeps/shrink.py).

    python -m harness shrink results/kill-restart-empty-sim-s3-20261202T101500Z

Writes a new run folder (with report.html) whose `reproducer.yaml` is a scenario with an
explicit fault schedule and seed that fails deterministically, and prints faults, ops and
events before -> after. Exit 0 when a reproducer was written, 3 when the folder is not a
failing simulated run.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a failing simulated run folder")
    parser.add_argument("--checker", help="the checker whose failure must stay (default: the first failing)")
    parser.add_argument("--results", type=Path, metavar="DIR", help="where the reproducer's run folder goes "
                        "(default: beside RUN_DIR)")
    parser.add_argument("--max-runs", type=int, default=150, metavar="N", help="simulations at most (150)")


def execute(args: argparse.Namespace) -> int:
    from harness.sweeps.shrink import shrink_run

    shrink_run(args.run_dir, results_dir=args.results, checker=args.checker, max_runs=args.max_runs)
    return 0
