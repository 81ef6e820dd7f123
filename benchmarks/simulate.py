"""Simulation speed beside real time, in one run: `python -m benchmarks.simulate`.

For partition.yaml, queue-partition.yaml and register-linearizable.yaml it runs
- the deterministic simulation of a few seeds on one core (the process pinned to
  one CPU), without reports: virtual seconds per wall second of the simulation
  itself, and seeds per minute of whole simulated runs (world, checkers, run folder);
- the same scenario once in real time (`harness run`: real redis-server and
  Toxiproxy): its duration per wall second, and runs per minute;
and prints one table with the speed-up. Target (issue): partition.yaml at least
20x faster than real time on one core. `--seeds N` (default 5), `--no-real` skips
the real runs (they take the scenario's duration each). Timings are ratios within
one run: the machine is shared.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["scenarios/partition.yaml", "scenarios/queue-partition.yaml", "scenarios/register-linearizable.yaml"]


def simulate(path: Path, seeds: int, results: Path) -> dict[str, float]:
    from harness.scenario.loader import load_scenario
    from harness.sim.run import simulate_run

    loaded = load_scenario(path, simulated=True)
    speeds, per_seed = [], []
    for seed in range(seeds):
        started = time.perf_counter()
        _outcome, stats = simulate_run(loaded, seed=seed, results_dir=results, report=False, latest=False)
        per_seed.append(time.perf_counter() - started)
        speeds.append(stats.virtual_s / stats.wall_s)
    return {"virtual_per_wall": statistics.median(speeds), "seeds_per_min": 60.0 / statistics.median(per_seed)}


def real(path: Path, results: Path) -> dict[str, float]:
    from harness.runner import run_scenario

    started = time.perf_counter()
    outcome = run_scenario(path, results_dir=results, progress=io.StringIO(), out=io.StringIO())
    wall = time.perf_counter() - started
    return {"virtual_per_wall": float(outcome.results["duration_s"]) / wall, "seeds_per_min": 60.0 / wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-real", action="store_true", help="skip the real-time runs")
    args = parser.parse_args(argv)
    cpu = min(os.sched_getaffinity(0))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in SCENARIOS:
            path = ROOT / scenario
            all_cpus = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {cpu})  # the simulation is one thread: measure it on one core
            try:
                sim = simulate(path, args.seeds, Path(tmp) / "sim")
            finally:
                os.sched_setaffinity(0, all_cpus)
            live = None if args.no_real else real(path, Path(tmp) / "real")
            rows.append((scenario, sim, live))
    print(f"{'scenario':<38} {'mode':<11} {'virtual s/wall s':>17} {'seeds/min':>10} {'speed-up':>9}")
    for scenario, sim, live in rows:
        print(f"{scenario:<38} {'simulation':<11} {sim['virtual_per_wall']:>17.1f} {sim['seeds_per_min']:>10.1f}"
              f" {'' if live is None else format(sim['virtual_per_wall'] / live['virtual_per_wall'], '.1f') + 'x':>9}")
        if live is not None:
            print(f"{'':<38} {'real time':<11} {live['virtual_per_wall']:>17.2f} {live['seeds_per_min']:>10.2f}")
    target = rows[0][1]["virtual_per_wall"]
    print(f"\npartition.yaml simulates {target:.1f}x faster than real time on one core (target: >= 20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
