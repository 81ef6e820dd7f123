"""Run a scenario: start the cluster, inject faults, drive the clients, check the history.

Exit codes: 0 valid (or, with `expect: invalid`, the expected anomaly was found),
1 anomalies found, 2 unknown (checker time limit), 3 invalid scenario,
4 redis-server/toxiproxy-server missing or would not start (or a client's venv cannot be
built), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.clients.specs import client_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", type=Path, help="scenario YAML file (see scenarios/README.md)")
    parser.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                        help="folder of run folders (default: results/)")
    parser.add_argument("--duration", type=float, metavar="S", help="override the scenario's duration (s)")
    parser.add_argument("--seed", type=int, metavar="N", help="override the scenario's seed")
    parser.add_argument("--client", choices=client_names(), metavar="NAME",
                        help="lock library under test (lock workloads; default: the scenario's, else "
                             f"majorityredis): {', '.join(client_names())}")


def execute(args: argparse.Namespace) -> int:
    from harness.runner import run_scenario

    outcome = run_scenario(args.scenario, results_dir=args.results, duration=args.duration, seed=args.seed,
                           client=args.client)
    return outcome.exit_code
