"""Simulate a scenario deterministically: the same workload, library code, faults and checkers
on virtual time, one process, one seed (harness.sim).

    python -m harness simulate scenarios/partition.yaml --seed 7         # one run -> a run folder
    python -m harness simulate scenarios/partition.yaml --seeds 0..999   # a sweep -> sweep.json
    python -m harness simulate scenarios/sim/client-pause.yaml --seed 3  # faults only a simulator makes

One seed exits like `harness run`: 0 met the expectation, 1 anomalies, 2 unknown,
3 invalid scenario, 130 interrupted. A sweep exits 0 when it met the scenario's
expectation (every seed valid for `expect: valid`; the anomaly found in at least one
seed for `expect: invalid`), 1 otherwise (2 when only unknown verdicts stand in the way),
and writes sweep.json and sweep.html; `harness sweep` runs the same on Dask workers.
The same seed always replays the same run: its history.jsonl is byte-identical.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import add_results_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", type=Path, help="scenario YAML file (scenarios/ or scenarios/sim/)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--seed", type=int, metavar="N", help="simulate this seed (default: the scenario's)")
    which.add_argument("--seeds", metavar="A..B", help="sweep the seeds A to B (both included)")
    add_results_option(parser)
    parser.add_argument("--duration", type=float, metavar="S", help="override the scenario's duration (s)")
    parser.add_argument("--keep-all", action="store_true",
                        help="sweep: keep every seed's run folder, not only the failing ones")
    parser.add_argument("--shrink", action="store_true",
                        help="shrink each run that found an anomaly to a minimal reproducer (harness shrink)")


def execute(args: argparse.Namespace) -> int:
    from harness.scenario.loader import load_scenario

    if args.seeds is not None:
        from harness.sweeps import parse_seeds
        from harness.sweeps.sweep import run_sweep

        outcome = run_sweep([args.scenario], parse_seeds(args.seeds), simulate=True, duration=args.duration,
                            results_dir=args.results, keep_all=args.keep_all)
        if args.shrink:
            from harness.sweeps.shrink import shrink_failures

            shrink_failures(outcome, results_dir=args.results)
        return outcome.exit_code
    loaded = load_scenario(args.scenario, overrides={"duration": args.duration}, simulated=True)
    import sys

    from harness.sim.run import simulate_run

    run, _stats = simulate_run(loaded, seed=args.seed, results_dir=args.results, out=sys.stdout)
    if args.shrink and run.results["valid"] is False:
        from harness.sweeps.shrink import shrink_run

        shrink_run(run.run_dir, results_dir=args.results)
    return run.exit_code
