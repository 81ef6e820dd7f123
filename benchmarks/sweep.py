"""Sweep scaling and shrink time, in one run: `python -m benchmarks.sweep`.

1. Seeds per minute of a simulated sweep of scenarios/partition.yaml with 1 worker (in this
   process), 2 and all local Dask workers (`harness sweep --jobs N`), and the scaling
   efficiency (seeds/min with N workers ÷ (N × seeds/min with 1)). Dask start-up is counted:
   it is what a user waits for.
2. How long `harness shrink` takes on the two failures the tests shrink (the simulated
   kill-restart-empty and register-fast, seed 3), with the size before -> after.
`--seeds N` (default 24) per worker count. The machine is shared: compare within one run.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep_rate(jobs: int, seeds: int, results: Path) -> float:
    from harness.sweeps.sweep import run_sweep

    started = time.perf_counter()
    run_sweep([ROOT / "scenarios/partition.yaml"], range(seeds), simulate=True, jobs=jobs, results_dir=results,
              out=io.StringIO(), progress=io.StringIO())
    return 60.0 * seeds / (time.perf_counter() - started)


def shrink_time(scenario: str, results: Path) -> tuple[float, str]:
    from harness.scenario.loader import load_scenario
    from harness.sim.run import simulate_run
    from harness.sweeps.shrink import shrink_run

    failing, _ = simulate_run(load_scenario(ROOT / scenario, simulated=True), seed=3, results_dir=results,
                              report=False)
    started = time.perf_counter()
    result = shrink_run(failing.run_dir, results_dir=results, out=io.StringIO())
    return time.perf_counter() - started, (f"faults {result.before.faults}->{result.after.faults}, "
                                           f"ops {result.before.ops}->{result.after.ops}, {result.runs} runs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=24)
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    counts = sorted({1, 2, cores})
    with tempfile.TemporaryDirectory() as tmp:
        rates = {n: sweep_rate(n, args.seeds, Path(tmp) / f"jobs{n}") for n in counts}
        shrinks = {s: shrink_time(s, Path(tmp) / "shrink") for s in
                   ("scenarios/kill-restart-empty-unprotected.yaml" if (ROOT / "scenarios/kill-restart-empty-"
                    "unprotected.yaml").exists() else "scenarios/kill-restart-empty.yaml",
                    "scenarios/register-fast.yaml")}
    print(f"{'workers':>8} {'seeds/min':>10} {'efficiency':>11}   (partition.yaml, simulated, {args.seeds} seeds)")
    for n, rate in rates.items():
        print(f"{n:>8} {rate:>10.1f} {rate / (n * rates[1]):>10.0%}")
    print()
    print(f"{'shrink':<48} {'seconds':>8}  result")
    for scenario, (seconds, what) in shrinks.items():
        print(f"{scenario:<48} {seconds:>8.1f}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
