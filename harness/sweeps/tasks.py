"""One (scenario, seed) of a sweep as a self-contained task: what a worker runs and what it sends back.

A task carries the scenario's text, not a path, so a worker on another
machine (with the project installed) needs nothing from the caller's disk.
The worker runs the seed — simulated (harness.sim.run) or in real time
(harness.runner, needing redis-server and toxiproxy-server on that worker) —
in a private temporary folder, and returns a `SeedReport`: the verdicts, and
for a run the caller keeps (not valid, or every run with keep_all) the whole
run folder packed as a tar.gz, which the caller unpacks into its own
results/. A worker that lacks redis-server or toxiproxy-server reports exit
4 with the reason for that task; the sweep goes on.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.errors import HarnessError


@dataclass(frozen=True)
class SeedTask:
    """Run `scenario_text` (read from `scenario_file` by the caller) with `seed`."""

    scenario_file: str
    scenario_text: str
    seed: int
    simulate: bool = True
    keep_all: bool = False
    duration: float | None = None


@dataclass
class SeedReport:
    """What a task sends back (small, picklable)."""

    scenario: str
    scenario_file: str
    seed: int
    valid: Any                       # True | False | "unknown" | None (no verdict: the task failed)
    exit_code: int
    checkers: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"valid", "anomalies"}
    ops: int = 0
    wall_s: float = 0.0
    virtual_s: float | None = None
    run_name: str | None = None      # the run folder's name, when it is sent back
    archive: bytes | None = None     # the run folder as tar.gz (unpacked by the caller)
    error: str | None = None         # why there is no verdict (exit 3 or 4)
    run_dir: str | None = None       # where the caller unpacked it (set by the caller)


def run_seed(task: SeedTask) -> SeedReport:
    """Run one seed in a private folder (see the module docstring); never raises for a harness error."""
    from harness.scenario.loader import load_scenario

    started = time.perf_counter()
    name = Path(task.scenario_file).name
    with tempfile.TemporaryDirectory(prefix="majorityredis-seed-") as tmp:
        scenario_path = Path(tmp) / name
        scenario_path.write_text(task.scenario_text, encoding="utf-8")
        results_dir = Path(tmp) / "results"
        try:
            loaded = load_scenario(scenario_path, overrides={"duration": task.duration}, simulated=task.simulate)
            report = _run(task, loaded, results_dir)
        except HarnessError as error:
            return SeedReport(scenario=Path(name).stem, scenario_file=task.scenario_file, seed=task.seed,
                              valid=None, exit_code=error.exit_code,
                              error=str(error).replace(str(scenario_path), task.scenario_file),
                              wall_s=round(time.perf_counter() - started, 3))
        report.wall_s = round(time.perf_counter() - started, 3)
        return report


def _run(task: SeedTask, loaded: Any, results_dir: Path) -> SeedReport:
    if task.simulate:
        from harness.sim.run import simulate_run

        outcome, stats = simulate_run(loaded, seed=task.seed, results_dir=results_dir, report=False, latest=False)
        virtual_s: float | None = round(stats.virtual_s, 3)
    else:
        import io as _io

        from harness.runner import run_scenario

        outcome = run_scenario(loaded.path, results_dir=results_dir, seed=task.seed, duration=task.duration,
                               progress=_io.StringIO(), out=_io.StringIO())
        virtual_s = None
    results = outcome.results
    report = SeedReport(
        scenario=results["name"], scenario_file=task.scenario_file, seed=task.seed, valid=results["valid"],
        exit_code=outcome.exit_code, ops=int(results.get("ops_total", 0)), virtual_s=virtual_s,
        checkers={n: {"valid": v.get("valid"), "anomalies": len(v.get("anomalies", []))}
                  for n, v in results.get("checkers", {}).items()})
    if task.keep_all or results["valid"] is not True:
        if task.simulate:
            from harness.sim.run import write_report_logged

            write_report_logged(outcome.run_dir)
        report.run_name = outcome.run_dir.name
        report.archive = pack(outcome.run_dir)
    return report


def pack(folder: Path) -> bytes:
    """A folder as tar.gz bytes (its name as the archive's top level)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return buffer.getvalue()


def unpack(archive: bytes, into: Path) -> Path:
    """Unpack a `pack`ed folder into `into`; returns the folder (members outside it are refused)."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = {member.name.split("/", 1)[0] for member in tar.getmembers()}
        if len(names) != 1:
            raise ValueError(f"a run archive holds one folder, not {sorted(names)}")
        tar.extractall(into, filter="data")
    return into / names.pop()


def environment_failure(task: SeedTask, reason: str) -> SeedReport:
    """The report of a task that could not run at all on its worker (exit 4)."""
    return SeedReport(scenario=Path(task.scenario_file).stem, scenario_file=task.scenario_file, seed=task.seed,
                      valid=None, exit_code=exitcodes.ENVIRONMENT, error=reason)
