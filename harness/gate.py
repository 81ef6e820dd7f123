"""A CI gate: cases run one after another, one outcome each, the worst exit code for the whole.

A *case* is a name and a *case runner*: a callable that runs one check to its
end and returns a `CaseOutcome` (name, exit code, verdicts, run folder,
report). A scenario run in real time is one case (`scenario_case`); a
simulated seed sweep plugs in as one case per (scenario, seed) with its own
runner, and nothing else here changes.

`run_gate(cases)` runs the cases in order. Ctrl-C (or SIGTERM, turned into
the same interruption) stops the gate: the case in flight ends as its runner
ends it (a scenario run stops its processes and keeps an "incomplete" run
folder), the cases not started are reported as not run, and the outcomes of
what finished are returned for the summary and the JUnit XML.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from harness import exitcodes
from harness.errors import HarnessError

INTERRUPTED = 130   # Ctrl-C
TERMINATED = 143    # SIGTERM


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """How one case ended.

    `verdicts` maps checker name -> verdict as in results.json ("valid",
    "anomalies", ...); `expect` is the scenario's expectation; `status` is
    "complete", "incomplete" (interrupted: no verdicts) or "error" (bad input
    or environment: `error` says why, and there may be no run folder).
    """

    name: str
    exit_code: int
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_dir: Path | None = None
    report: Path | None = None
    expect: str | Mapping[str, str] | None = None  # the scenario's: "valid", "invalid" or per checker
    status: str = "complete"
    error: str | None = None
    time_s: float = 0.0
    summary: str | None = None  # the verdict column of a case without verdicts of its own (a sweep's)

    @property
    def interrupted(self) -> bool:
        return self.exit_code in (INTERRUPTED, TERMINATED) or self.status == "incomplete"


CaseRunner = Callable[[], CaseOutcome]


@dataclass(frozen=True, slots=True)
class Case:
    """A named case runner (the name is known before it runs, for cases that never do).

    `validate`, when given, checks the case's input without running anything
    and raises HarnessError (BadInput) for a mistake: the gate validates every
    case before it runs the first, so a typo in the last file costs no run.
    """

    name: str
    run: CaseRunner
    validate: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class GateResult:
    """The outcomes of the cases that ran, the names of those that did not, the exit code."""

    outcomes: list[CaseOutcome]
    not_run: list[str]
    exit_code: int
    time_s: float
    not_run_reason: str = "the gate was interrupted before this case"

    @property
    def interrupted(self) -> bool:
        return self.exit_code in (INTERRUPTED, TERMINATED)


# -- a scenario in real time -------------------------------------------------------------
def outcome_of_run(name: str, run_dir: Path, results: dict[str, Any], exit_code: int,
                   time_s: float) -> CaseOutcome:
    """The CaseOutcome of a finished `run_scenario` (its results.json as written)."""
    report = run_dir / "report.html"
    return CaseOutcome(name=name, exit_code=exit_code, verdicts=dict(results.get("checkers", {})),
                       run_dir=run_dir, report=report if report.is_file() else None,
                       expect=results.get("expect"), status=results.get("status", "complete"), time_s=time_s)


def outcome_of_error(name: str, error: HarnessError, time_s: float = 0.0) -> CaseOutcome:
    """A case that could not run: bad input (exit 3) or environment (exit 4)."""
    return CaseOutcome(name=name, exit_code=error.exit_code, status="error", error=str(error), time_s=time_s)


def scenario_case(path: str | Path, *, results_dir: str | Path = "results", out: TextIO | None = None,
                  progress: TextIO | None = None) -> Case:
    """A case that runs the scenario file in real time with harness.runner.run_scenario."""
    name = str(path)

    def validate() -> None:
        from harness.scenario.loader import load_scenario

        load_scenario(path)

    def run() -> CaseOutcome:
        from harness.runner import run_scenario

        started = time.monotonic()
        try:
            outcome = run_scenario(path, results_dir=results_dir, out=out, progress=progress)
        except HarnessError as error:
            return outcome_of_error(name, error, time.monotonic() - started)
        return outcome_of_run(name, outcome.run_dir, outcome.results, outcome.exit_code,
                              time.monotonic() - started)

    return Case(name, run, validate)


def simulated_cases(path: str | Path, seeds: Sequence[int], *, results_dir: str | Path = "results") -> list[Case]:
    """A simulated seed sweep of one scenario as cases: one per seed, then one for the sweep.

    A seed's case is judged per seed where that makes sense: with `expect: valid` (or a
    per-checker expectation) each seed must meet it; with `expect: invalid` a seed that did
    not find the anomaly is not a failure by itself. The last case, "<file> [seeds A..B]",
    carries the sweep's verdict over every seed (harness.sweeps.summary: e.g. the anomaly
    found in at least one seed). Run folders of seeds that were not valid are kept in
    `results_dir` with their report; the others are deleted.
    """
    from harness.sweeps.summary import ScenarioSweep
    from harness.sweeps.tasks import SeedReport

    results_dir = Path(results_dir)
    name = str(path)
    seeds = list(seeds)
    sweep: list[ScenarioSweep] = []

    def validate() -> None:
        from harness.scenario.loader import load_scenario
        from harness.sim.run import simulated_scenario

        loaded = load_scenario(path, simulated=True)
        simulated_scenario(loaded, None)
        sweep[:] = [ScenarioSweep(loaded.scenario.name, name, loaded.scenario.expect)]

    def seed_case(seed: int) -> Case:
        def run() -> CaseOutcome:
            import shutil

            from harness.scenario.loader import load_scenario
            from harness.sim.run import simulate_run, write_report_logged

            started = time.monotonic()
            try:
                loaded = load_scenario(path, simulated=True)
                outcome, stats = simulate_run(loaded, seed=seed, results_dir=results_dir / ".simulating",
                                              report=False, latest=False)
            except HarnessError as error:
                return outcome_of_error(f"{name} seed {seed}", error, time.monotonic() - started)
            results = outcome.results
            run_dir: Path | None = outcome.run_dir
            if results["valid"] is not True:
                run_dir = results_dir / outcome.run_dir.name
                shutil.move(str(outcome.run_dir), run_dir)
                write_report_logged(run_dir)
            else:
                shutil.rmtree(outcome.run_dir, ignore_errors=True)
                run_dir = None
            if sweep:
                sweep[0].seeds.append(SeedReport(
                    scenario=results["name"], scenario_file=name, seed=seed, valid=results["valid"],
                    exit_code=outcome.exit_code, virtual_s=stats.virtual_s,
                    checkers={n: {"valid": v.get("valid"), "anomalies": len(v.get("anomalies", []))}
                              for n, v in results["checkers"].items()}))
            code = outcome.exit_code
            if results.get("expect") == "invalid" and code == exitcodes.INVALID:
                code = exitcodes.VALID  # judged by the sweep's case: one seed finding it is enough
            elapsed = time.monotonic() - started
            if run_dir is None:
                return CaseOutcome(name=f"{name} seed {seed}", exit_code=code,
                                   verdicts=dict(results.get("checkers", {})), expect=results.get("expect"),
                                   time_s=elapsed)
            return dataclasses.replace(outcome_of_run(f"{name} seed {seed}", run_dir, results, code, elapsed))

        return Case(f"{name} seed {seed}", run)

    def sweep_case() -> CaseOutcome:
        try:
            (results_dir / ".simulating").rmdir()  # the scratch folder of the seeds, once empty
        except OSError:
            pass
        if not sweep or not sweep[0].seeds:
            return CaseOutcome(name=f"{name} [seeds]", exit_code=exitcodes.UNKNOWN, status="error",
                               error="no seed ran")
        scenario = sweep[0]
        failing = ", ".join(map(str, scenario.failing)) or "none"
        met = scenario.exit_code == exitcodes.VALID
        summary = sweep_summary([report.valid for report in scenario.seeds])
        return CaseOutcome(name=f"{name} [seeds {seeds[0]}..{seeds[-1]}]", exit_code=scenario.exit_code,
                           expect=scenario.expect, summary=summary,
                           error=None if met else (f"over {len(scenario.seeds)} seeds (not valid: {failing}) "
                                                   f"the scenario did not meet its expectation {scenario.expect!r}"))

    return [Case(f"{name} seed {seeds[0]}", seed_case(seeds[0]).run, validate),
            *[seed_case(seed) for seed in seeds[1:]],
            Case(f"{name} [seeds {seeds[0]}..{seeds[-1]}]", sweep_case)]


# -- the gate ------------------------------------------------------------------------------
def run_gate(cases: Sequence[Case], *, on_outcome: Callable[[CaseOutcome], None] | None = None) -> GateResult:
    """Validate every case, then run them in order (see the module docstring).

    A case that fails validation is an error outcome and no case runs (the
    others are reported as not run). Never raises KeyboardInterrupt.
    """
    started = time.monotonic()
    outcomes: list[CaseOutcome] = []
    with _sigterm_as_interrupt() as terminated:
        try:
            invalid = _validate(cases)
        except KeyboardInterrupt:
            return _result([], cases, _interruption(terminated), started)
        if invalid:
            bad = {o.name for o in invalid}
            return _result(invalid, [c for c in cases if c.name not in bad], None, started,
                           reason="another case of the gate has invalid input")
        for index, case in enumerate(cases):
            try:
                outcome = _run_case(case)
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
            except KeyboardInterrupt:  # while a case ran, or just after it ended
                finished = len(outcomes) > index
                return _result(outcomes, cases[index + finished:], _interruption(terminated), started)
            if outcome.interrupted:
                code = TERMINATED if outcome.exit_code == TERMINATED else _interruption(terminated)
                return _result(outcomes, cases[index + 1:], code, started)
    return _result(outcomes, [], None, started)


def _run_case(case: Case) -> CaseOutcome:
    """The case's outcome; a crash of its runner (a harness bug) is an "unknown" error, traceback on stderr."""
    started = time.monotonic()
    try:
        return case.run()
    except Exception as error:  # noqa: BLE001 - the other cases still run, the XML still says what happened
        traceback.print_exc()
        return CaseOutcome(case.name, exitcodes.UNKNOWN, status="error", time_s=time.monotonic() - started,
                           error=f"the case runner crashed: {type(error).__name__}: {error}")


def _interruption(terminated: threading.Event) -> int:
    return TERMINATED if terminated.is_set() else INTERRUPTED


def _validate(cases: Sequence[Case]) -> list[CaseOutcome]:
    """Error outcomes of the cases whose input is invalid (each validated, none run)."""
    invalid = []
    for case in cases:
        if case.validate is None:
            continue
        try:
            case.validate()
        except HarnessError as error:
            invalid.append(outcome_of_error(case.name, error))
    return invalid


def _result(outcomes: list[CaseOutcome], not_run: Sequence[Case], interrupted_by: int | None,
            started: float, reason: str | None = None) -> GateResult:
    code = interrupted_by if interrupted_by is not None else exitcodes.worst([o.exit_code for o in outcomes])
    result = GateResult(outcomes, [c.name for c in not_run], code, time.monotonic() - started)
    return result if reason is None else dataclasses.replace(result, not_run_reason=reason)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[threading.Event]:
    """SIGTERM raises KeyboardInterrupt once (the runner's Ctrl-C path stops the processes).

    Yields an Event set when SIGTERM arrived, so the gate exits 143, not 130.
    A second SIGTERM while the first is being handled is ignored. Main thread only.
    """
    terminated = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield terminated
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if terminated.is_set():
            return
        terminated.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- the summary ---------------------------------------------------------------------------
def verdict_label(outcome: CaseOutcome) -> str:
    """VALID / INVALID / UNKNOWN from the verdicts; ERROR or INCOMPLETE when there are none; a
    sweep's own summary ("INVALID 2/3": seeds not valid of seeds run)."""
    if outcome.status == "error":
        return "ERROR"
    if outcome.interrupted:
        return "INCOMPLETE"
    if outcome.summary is not None:
        return outcome.summary
    valid = exitcodes.combine([v.get("valid", "unknown") for v in outcome.verdicts.values()])
    return "VALID" if valid is True else "INVALID" if valid is False else "UNKNOWN"


def sweep_summary(verdicts: Sequence[bool | str | None]) -> str:
    """A sweep's verdict column from its seeds' verdicts: "INVALID 2/3" (seeds with anomalies of
    seeds run), else "UNKNOWN 1/3" (seeds undecided or without a verdict), else "VALID 3/3"."""
    n = len(verdicts)
    invalid = sum(1 for v in verdicts if v is False)
    if invalid:
        return f"INVALID {invalid}/{n}"
    undecided = sum(1 for v in verdicts if v is not True)
    return f"UNKNOWN {undecided}/{n}" if undecided else f"VALID {n}/{n}"


def anomaly_counts(outcome: CaseOutcome) -> str:
    """'mutex-graph 2, resource 0' (checker and number of anomalies), or '-' without verdicts."""
    return ", ".join(f"{name} {len(v.get('anomalies', []))}" for name, v in outcome.verdicts.items()) or "-"


def expect_label(expect: str | Mapping[str, str] | None) -> str:
    """"valid", "invalid", "mutex-graph=invalid,resource=valid" (per checker) or "-"."""
    if expect is not None and not isinstance(expect, str):
        return ",".join(f"{name}={wanted}" for name, wanted in expect.items())
    return expect or "-"


def summary_table(result: GateResult) -> str:
    """One line per case (verdict, expectation, exit, time, anomalies per checker, run folder) and a total."""
    rows = [("case", "verdict", "expect", "exit", "time", "anomalies", "run folder")]
    for o in result.outcomes:
        rows.append((o.name, verdict_label(o), expect_label(o.expect), str(o.exit_code), f"{o.time_s:.1f}s",
                     anomaly_counts(o), str(o.run_dir) if o.run_dir else (o.error or "-")))
    for name in result.not_run:
        rows.append((name, "NOT RUN", "-", "-", "-", "-", result.not_run_reason))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    passed = sum(1 for o in result.outcomes if o.exit_code == exitcodes.VALID)
    total = len(result.outcomes) + len(result.not_run)
    tail = f"gate: {passed} of {total} passed"
    if result.not_run:
        tail += f", {len(result.not_run)} not run"
    if result.interrupted:
        tail += " (interrupted)"
    lines.append(f"{tail}; exit {result.exit_code} ({result.time_s:.1f}s)")
    return "\n".join(lines)
