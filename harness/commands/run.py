"""Run a scenario: start the cluster, inject faults, drive the clients, check the history.

Exit codes: 0 valid (or, with `expect: invalid`, the expected anomaly was found),
1 anomalies found, 2 unknown (checker time limit, or too many unknown outcomes outside
fault windows), 3 invalid scenario, 4 environment (redis-server/toxiproxy-server missing
or would not start, a client's venv cannot be built, too few open files, or the run
exercised nothing), 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM).
With --junit-xml the run is also written as JUnit XML (one test case; see harness/junit.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.clients.specs import client_names
from harness.commands import add_results_option
from harness.commands.gate import add_junit_argument
from harness.errors import HarnessError
from harness.gate import CaseOutcome, GateResult, outcome_of_error, outcome_of_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", type=Path, help="scenario YAML file (see scenarios/README.md)")
    add_results_option(parser)
    parser.add_argument("--duration", type=float, metavar="S", help="override the scenario's duration (s)")
    parser.add_argument("--seed", type=int, metavar="N", help="override the scenario's seed")
    parser.add_argument("--client", choices=client_names(), metavar="NAME",
                        help="lock library under test (lock workloads; default: the scenario's, else "
                             f"majorityredis): {', '.join(client_names())}")
    add_junit_argument(parser)


def execute(args: argparse.Namespace) -> int:
    from harness.runner import run_scenario

    started = time.monotonic()
    try:
        outcome = run_scenario(args.scenario, results_dir=args.results, duration=args.duration, seed=args.seed,
                               client=args.client)
    except HarnessError as error:
        if args.junit_xml is not None:
            _write_junit(args.junit_xml, outcome_of_error(str(args.scenario), error, time.monotonic() - started))
        raise
    if args.junit_xml is not None:
        _write_junit(args.junit_xml, outcome_of_run(str(args.scenario), outcome.run_dir, outcome.results,
                                                    outcome.exit_code, time.monotonic() - started))
    return outcome.exit_code


def _write_junit(path: Path, case: CaseOutcome) -> None:
    from harness.junit import write_junit

    write_junit(path, GateResult([case], [], case.exit_code, case.time_s), suite="harness run",
                classname="harness.run")
