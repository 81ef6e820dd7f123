"""Gate CI on several scenarios: run each in real time (or simulate it over seeds), print one
summary table, write JUnit XML.

    python -m harness gate tests/scenarios/*.yaml --junit-xml results/junit-gate.xml
    python -m harness gate scenarios/partition.yaml scenarios/pause.yaml --simulate --seeds 0..19

Every scenario is run as `harness run` runs it (its own run folder and report); with
`--simulate --seeds A..B` as `harness simulate --seeds` sweeps it: one test case per seed
and one for the sweep's verdict over all seeds (for `expect: invalid`, the anomaly found in
at least one seed), run folders kept for the seeds that were not valid.
Exit code: the worst over the scenarios — 0 only when every scenario met its
expectation; 1 anomalies (or an expected anomaly not found); 2 unknown; 3 bad
scenario; 4 environment; 130 interrupted (Ctrl-C), 143 SIGTERM: the JUnit XML
then holds what finished, and the cases not run are marked skipped.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from harness.commands import add_results_option
from harness.gate import CaseOutcome, run_gate, scenario_case, summary_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO",
                        help="scenario YAML files (see scenarios/README.md), run one after another")
    add_results_option(parser)
    parser.add_argument("--simulate", action="store_true",
                        help="simulate each scenario over --seeds instead of one real-time run")
    parser.add_argument("--seeds", metavar="A..B", help="with --simulate: the seeds A to B (both included)")
    add_junit_argument(parser)


def add_junit_argument(parser: argparse.ArgumentParser) -> None:
    """`--junit-xml PATH`, shared by gate, run and check."""
    parser.add_argument("--junit-xml", type=Path, metavar="PATH",
                        help="also write the result as JUnit XML (one test case per scenario or file)")


def execute(args: argparse.Namespace) -> int:
    from harness.errors import BadInput
    from harness.junit import write_junit

    if args.simulate != (args.seeds is not None):
        raise BadInput(None, "--simulate and --seeds go together (a simulated gate sweeps seeds A..B)",
                       field="--seeds")
    if args.simulate:
        from harness.gate import simulated_cases
        from harness.sweeps import parse_seeds

        seeds = list(parse_seeds(args.seeds))
        cases = [case for path in args.scenarios for case in simulated_cases(path, seeds, results_dir=args.results)]
    else:
        cases = [scenario_case(path, results_dir=args.results) for path in args.scenarios]
    total = len(cases)
    done = 0

    def announce(outcome: CaseOutcome) -> None:
        nonlocal done
        done += 1
        print(f"[gate {done}/{total}] {outcome.name}: exit {outcome.exit_code}", file=sys.stderr, flush=True)

    result = run_gate(cases, on_outcome=announce)
    print(summary_table(result), flush=True)
    if args.junit_xml is not None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not lose the XML
        try:
            written = write_junit(args.junit_xml, result)
        finally:
            signal.signal(signal.SIGINT, previous)
        print(f"JUnit XML: {written}", flush=True)
    return result.exit_code
