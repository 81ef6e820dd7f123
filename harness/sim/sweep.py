"""A sweep: one scenario simulated under many seeds, with one verdict for the whole.

    outcome = run_sweep(loaded, range(0, 1000), results_dir=Path("results"))

Each seed is a complete simulated run (harness.sim.run). Run folders of
seeds whose verdict is not "valid" — the reproducers — are kept in
`results_dir` like any run (with their report); the others are deleted
unless `keep_all`. The sweep writes `<name>-sweep-<stamp>/sweep.json` (every
seed: verdict per checker, anomaly counts, exit code, run folder if kept,
virtual and wall seconds) and prints a table.

The sweep's exit code follows the scenario's expectation over all seeds:
- expect valid: 0 when every seed is valid; 1 when any seed found an
  anomaly; 2 when none did but some verdict is unknown;
- expect invalid: 0 when at least one seed found the anomaly, else 1.
Ctrl-C stops after the current seed: sweep.json is written for the seeds
that finished, with "status": "incomplete", and the exit code is 130.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness import exitcodes
from harness.errors import BadInput
from harness.results import INTERRUPTED, write_json_atomic
from harness.runner import new_run_dir
from harness.scenario.loader import LoadedScenario
from harness.sim.run import simulate_run, simulated_scenario, write_report_logged

SEED_RANGE = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*$")


def parse_seeds(text: str) -> range:
    """"A..B" (both included) -> range(A, B + 1); BadInput for anything else."""
    match = SEED_RANGE.match(text)
    if not match:
        raise BadInput(None, f"--seeds takes a range A..B of whole numbers (e.g. 0..999), not {text!r}",
                       field="--seeds")
    first, last = int(match.group(1)), int(match.group(2))
    if last < first:
        raise BadInput(None, f"--seeds {text}: the range is empty ({last} < {first})", field="--seeds")
    return range(first, last + 1)


@dataclass
class SeedResult:
    """One seed's outcome in a sweep."""

    seed: int
    valid: Any                     # True | False | "unknown"
    exit_code: int
    checkers: dict[str, dict[str, Any]]  # name -> {"valid", "anomalies"}
    ops: int
    virtual_s: float
    wall_s: float
    run_dir: str | None = None


@dataclass
class SweepOutcome:
    name: str
    expect: str
    seeds: list[SeedResult] = field(default_factory=list)
    status: str = "complete"
    wall_s: float = 0.0
    sweep_dir: Path | None = None

    @property
    def failing(self) -> list[int]:
        """Seeds whose verdict is not valid (anomalies or unknown)."""
        return [r.seed for r in self.seeds if r.valid is not True]

    @property
    def exit_code(self) -> int:
        if self.status != "complete":
            return INTERRUPTED
        verdicts = [r.valid for r in self.seeds]
        if self.expect == "invalid":
            return exitcodes.VALID if any(v is False for v in verdicts) else exitcodes.INVALID
        if any(v is False for v in verdicts):
            return exitcodes.INVALID
        if any(v != True for v in verdicts):  # noqa: E712 - "unknown" is truthy
            return exitcodes.UNKNOWN
        return exitcodes.VALID

    @property
    def seeds_per_minute(self) -> float:
        return 60.0 * len(self.seeds) / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "mode": "simulation", "expect": self.expect, "status": self.status,
                "exit_code": self.exit_code, "seeds_run": len(self.seeds), "failing_seeds": self.failing,
                "wall_s": round(self.wall_s, 3), "seeds_per_minute": round(self.seeds_per_minute, 1),
                "seeds": [asdict(r) for r in self.seeds]}


def run_sweep(loaded: LoadedScenario, seeds: range | list[int], *, results_dir: Path = Path("results"),
              keep_all: bool = False, out: TextIO | None = None, progress: TextIO | None = None) -> SweepOutcome:
    """Simulate every seed (see the module docstring)."""
    out = out if out is not None else sys.stdout
    progress = progress if progress is not None else sys.stderr
    scenario = simulated_scenario(loaded, None)
    results_dir.mkdir(parents=True, exist_ok=True)
    scratch = results_dir / ".simulating"
    outcome = SweepOutcome(scenario.name, scenario.expect)
    started = time.perf_counter()
    try:
        for n, seed in enumerate(seeds, 1):
            run, stats = simulate_run(loaded, seed=seed, results_dir=scratch, report=False, latest=False)
            results = run.results
            kept = keep_all or results["valid"] is not True
            run_dir: Path | None = None
            if kept:
                run_dir = results_dir / run.run_dir.name
                shutil.move(str(run.run_dir), run_dir)
                write_report_logged(run_dir)
            else:
                shutil.rmtree(run.run_dir, ignore_errors=True)
            outcome.seeds.append(SeedResult(
                seed=seed, valid=results["valid"], exit_code=run.exit_code,
                checkers={name: {"valid": v.get("valid"), "anomalies": len(v.get("anomalies", []))}
                          for name, v in results["checkers"].items()},
                ops=results["ops_total"], virtual_s=round(stats.virtual_s, 3), wall_s=round(stats.wall_s, 3),
                run_dir=str(run_dir) if run_dir else None))
            outcome.wall_s = time.perf_counter() - started
            _progress(progress, n, len(seeds), outcome)
    except KeyboardInterrupt:
        outcome.status = "incomplete"
        print("\ninterrupted: writing the sweep summary for the seeds that finished", file=progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        outcome.wall_s = time.perf_counter() - started
        outcome.sweep_dir = new_run_dir(results_dir, f"{scenario.name}-sweep")
        write_json_atomic(outcome.sweep_dir / "sweep.json", outcome.to_json())
    print_sweep(outcome, out)
    return outcome


def _progress(stream: TextIO, done: int, total: int, outcome: SweepOutcome) -> None:
    tty = getattr(stream, "isatty", lambda: False)()
    if not tty and done != total and done % 50:
        return
    line = (f"[{done}/{total} seeds] failing {len(outcome.failing)}  "
            f"{outcome.seeds_per_minute:.0f} seeds/min")
    print(("\r" if tty else "") + line, end="" if tty and done != total else "\n", file=stream, flush=True)


def print_sweep(outcome: SweepOutcome, out: TextIO) -> None:
    """The sweep's table: seeds run, failing seeds with their checkers, speed, verdict."""
    verdict = {exitcodes.VALID: "passed", INTERRUPTED: "INTERRUPTED"}.get(outcome.exit_code, "FAILED")
    virtual = sum(r.virtual_s for r in outcome.seeds)
    print(f"{outcome.name}: sweep of {len(outcome.seeds)} seeds (expected {outcome.expect}) -> {verdict}, "
          f"exit {outcome.exit_code}", file=out)
    print(f"  {'seeds run':<18} {len(outcome.seeds)}", file=out)
    print(f"  {'failing seeds':<18} {len(outcome.failing)}", file=out)
    print(f"  {'seeds/minute':<18} {outcome.seeds_per_minute:.1f}", file=out)
    if outcome.wall_s > 0:
        print(f"  {'virtual s / wall s':<18} {virtual / outcome.wall_s:.1f}", file=out)
    for result in outcome.seeds:
        if result.valid is True:
            continue
        bad = ", ".join(f"{name}={v['valid']} ({v['anomalies']} anomalies)" for name, v in result.checkers.items()
                        if v["valid"] is not True)
        print(f"  seed {result.seed:<6} {bad}  {result.run_dir or ''}", file=out)
    if outcome.sweep_dir is not None:
        print(f"  sweep: {outcome.sweep_dir / 'sweep.json'}", file=out)
