"""Sweep scenarios over many seeds on Dask distributed: simulated (`--simulate`) or in real time.

    python -m harness sweep scenarios/partition.yaml scenarios/queue-partition.yaml --seeds 0..9999 --simulate
    python -m harness sweep scenarios/partition.yaml --seeds 0..99 --simulate --jobs 8
    python -m harness sweep scenarios/partition.yaml --seeds 0..99999 --simulate --scheduler tcp://10.0.0.5:8786

`--jobs N` (default: the machine's cores) runs an embedded Dask LocalCluster of N worker
processes; `--jobs 1` runs in this process; `--scheduler` submits to an existing Dask
cluster (`dask scheduler` and `dask worker` on other machines, each with the project
installed; real-time tasks need redis-server and toxiproxy-server there too, or they
report exit 4). Run folders of seeds that were not valid come back into --results (every
one with --keep-all). Writes <name>-sweep-<stamp>/sweep.json and sweep.html and prints a
table. Exit: the worst scenario's (0: every scenario met its expectation over the seeds;
see harness/sweeps/summary.py), 3 bad scenario, 130 interrupted (summary of what finished).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness.commands import add_results_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenarios", type=Path, nargs="+", metavar="SCENARIO", help="scenario YAML files")
    parser.add_argument("--seeds", required=True, metavar="A..B", help="the seeds A to B (both included)")
    parser.add_argument("--simulate", action="store_true", help="simulate (default: real time)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, metavar="N", help="local Dask worker processes (default: cores)")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask scheduler")
    add_results_option(parser)
    parser.add_argument("--duration", type=float, metavar="S", help="override every scenario's duration (s)")
    parser.add_argument("--keep-all", action="store_true", help="bring back every run folder, not only failing")
    parser.add_argument("--shrink", action="store_true",
                        help="shrink every failing simulated run to a minimal reproducer (harness shrink)")


def execute(args: argparse.Namespace) -> int:
    from harness.errors import BadInput
    from harness.sweeps import parse_seeds
    from harness.sweeps.sweep import run_sweep

    if args.jobs is not None and args.jobs < 1:
        raise BadInput(None, f"--jobs must be >= 1, not {args.jobs}", field="--jobs")
    if args.shrink and not args.simulate:
        raise BadInput(None, "--shrink needs --simulate (a real-time run cannot be replayed)", field="--shrink")
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    outcome = run_sweep(args.scenarios, parse_seeds(args.seeds), simulate=args.simulate, jobs=jobs,
                        scheduler=args.scheduler, keep_all=args.keep_all, duration=args.duration,
                        results_dir=args.results)
    if args.shrink:
        from harness.sweeps.shrink import shrink_failures

        shrink_failures(outcome, results_dir=args.results)
    return outcome.exit_code
