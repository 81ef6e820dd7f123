"""Shrinking: a failing simulated run becomes a minimal reproducer (delta debugging on the scenario).

    result = shrink_run(Path("results/kill-restart-empty-sim-s3-..."))

The run's scenario (as run) and seed are re-simulated after each candidate
change, and a change is kept only when the *same checker* still finds an
anomaly (the run's first failing checker, or `checker`). The search:
1. the fault schedule is made explicit — one schedule entry per window that
   really ran, each with its own `rng_seed`, so a window keeps its targets and
   partition pattern whichever others are dropped (streams per client, link
   and fault window keep the rest of the run as it was);
2. ddmin over the windows (drop halves, quarters, ... then single windows);
3. fewer clients (1, 2, ... fewer than now; entries naming dropped slots fail
   validation and the candidate is skipped);
4. a shorter duration (binary search down to the last window's end or less);
5. shorter windows (halved while the failure stays) and earlier windows
   (moved towards the start), then the duration again;
6. fewer operations: the workload's `rate` halved, `locks`/`keys` down to 1.
Each accepted step makes the scenario smaller; the search stops at a fixed
point or after `max_runs` simulations. The result is checked by re-running
it `confirm` times (it must fail every time), written as `reproducer.yaml`
(explicit schedule, seed) into the final run folder (with report.html), and
summarised as faults, ops and events before -> after.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

import yaml

from harness.errors import BadInput, HarnessError
from harness.faults.config import NemesisConfig
from harness.faults.schedule import build_schedule
from harness.scenario.loader import load_scenario
from harness.sim.run import simulate_run, write_report_logged

ScenarioData = dict[str, Any]


@dataclass
class Trial:
    """One simulation of a candidate: did the target checker fail, and how big was the run."""

    failed: bool
    ops: int
    events: int
    faults: int


@dataclass
class ShrinkResult:
    checker: str
    seed: int
    before: Trial
    after: Trial
    runs: int
    reproducer: Path
    run_dir: Path

    def summary(self) -> str:
        return (f"shrunk {self.checker} failure (seed {self.seed}) in {self.runs} simulations: "
                f"faults {self.before.faults} -> {self.after.faults}, ops {self.before.ops} -> {self.after.ops}, "
                f"events {self.before.events} -> {self.after.events}; reproducer {self.reproducer}")


class Shrinker:
    """The search of the module docstring over one failing run's scenario."""

    def __init__(self, scenario: ScenarioData, seed: int, checker: str, *, max_runs: int = 150,
                 log: Callable[[str], None] = lambda _line: None) -> None:
        self.seed = seed
        self.checker = checker
        self.max_runs = max_runs
        self.runs = 0
        self.log = log
        self._scratch = tempfile.TemporaryDirectory(prefix="majorityredis-shrink-")
        self.best = explicit_schedule(scenario, seed)
        first = self.trial(self.best)
        if first is None or not first.failed:
            raise BadInput(None, f"the run's {checker} failure does not replay with an explicit schedule "
                           f"(seed {seed}); nothing to shrink")
        self.first = self.current = first

    def close(self) -> None:
        self._scratch.cleanup()

    # -- one simulation ------------------------------------------------------------------------
    def trial(self, data: ScenarioData) -> Trial | None:
        """Simulate `data`; None when it is not a valid scenario (the candidate is skipped)."""
        self.runs += 1
        folder = Path(self._scratch.name)
        path = folder / "candidate.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        try:
            loaded = load_scenario(path, simulated=True)
        except HarnessError:
            return None
        outcome, _stats = simulate_run(loaded, seed=self.seed, results_dir=folder / "runs", report=False,
                                       latest=False)
        verdict = outcome.results["checkers"].get(self.checker, {})
        events = sum(1 for _ in open(outcome.run_dir / "history.jsonl", encoding="utf-8"))
        trial = Trial(failed=verdict.get("valid") is False, ops=int(outcome.results["ops_total"]),
                      events=events, faults=len(outcome.results["faults"]))
        import shutil

        shutil.rmtree(outcome.run_dir, ignore_errors=True)
        return trial

    def accept(self, candidate: ScenarioData, what: str) -> bool:
        """Keep `candidate` when the checker still fails on it."""
        if self.runs >= self.max_runs or candidate == self.best:
            return False
        trial = self.trial(candidate)
        if trial is None or not trial.failed:
            return False
        self.best, self.current = candidate, trial
        self.log(f"  {what}: faults {trial.faults}, ops {trial.ops}, events {trial.events}")
        return True

    # -- the search ----------------------------------------------------------------------------
    def run(self) -> ScenarioData:
        while self.runs < self.max_runs:
            before = json.dumps(self.best, sort_keys=True)
            self._drop_windows()
            self._fewer_clients()
            self._shorter_duration()
            self._shorter_windows()
            self._earlier_windows()
            self._shorter_duration()
            self._fewer_operations()
            if json.dumps(self.best, sort_keys=True) == before:
                break
        return self.best

    def _windows(self) -> list[dict[str, Any]]:
        return list(self.best.get("nemesis", {}).get("schedule", []))

    def _with_windows(self, windows: list[dict[str, Any]]) -> ScenarioData:
        data = copy.deepcopy(self.best)
        data["nemesis"] = {"schedule": copy.deepcopy(windows)} if windows else {}
        return data

    def _drop_windows(self) -> None:
        """ddmin: remove chunks of windows, from halves down to single ones."""
        chunks = 2
        while True:
            windows = self._windows()
            if not windows:
                return
            size = max(1, len(windows) // chunks)
            removed = False
            for start in range(0, len(windows), size):
                kept = windows[:start] + windows[start + size:]
                if self.accept(self._with_windows(kept), f"dropped {len(windows) - len(kept)} fault(s)"):
                    removed = True
                    break
            if removed:
                chunks = max(2, chunks - 1)
            elif size == 1:
                return
            else:
                chunks = min(len(windows), chunks * 2)

    def _fewer_clients(self) -> None:
        clients = int(self.best.get("clients", 5))
        for fewer in range(1, clients):
            data = copy.deepcopy(self.best)
            data["clients"] = fewer
            if self.accept(data, f"clients {clients} -> {fewer}"):
                return

    def _shorter_duration(self) -> None:
        low, high = 0.5, float(self.best["duration"])
        while high - low > 0.25 and self.runs < self.max_runs:
            middle = round((low + high) / 2, 2)
            data = copy.deepcopy(self.best)
            data["duration"] = middle
            if self.accept(data, f"duration -> {middle}"):
                high = middle
            else:
                low = middle

    def _shorter_windows(self) -> None:
        for index in range(len(self._windows())):
            while True:
                windows = self._windows()
                if index >= len(windows) or windows[index]["duration"] < 0.1:
                    break
                windows[index]["duration"] = round(windows[index]["duration"] / 2, 3)
                if not self.accept(self._with_windows(windows), f"fault {index} shortened"):
                    break

    def _earlier_windows(self) -> None:
        windows = self._windows()
        if not windows:
            return
        shift = min(w["start"] for w in windows) / 2
        while shift >= 0.05:
            moved = [{**w, "start": round(w["start"] - shift, 3)} for w in self._windows()]
            if not self.accept(self._with_windows(moved), f"faults moved {shift:.2f} s earlier"):
                shift /= 2

    def _fewer_operations(self) -> None:
        workload = self.best.get("workload", {})
        rate = workload.get("rate", 0)
        while isinstance(rate, (int, float)) and rate > 0.5:
            data = copy.deepcopy(self.best)
            data["workload"]["rate"] = rate / 2
            if not self.accept(data, f"rate -> {rate / 2:g}"):
                break
            rate = rate / 2
        for field in ("locks", "keys"):
            if int(workload.get(field, 1) or 1) > 1:
                data = copy.deepcopy(self.best)
                data["workload"][field] = 1
                self.accept(data, f"{field} -> 1")


def explicit_schedule(scenario: ScenarioData, seed: int) -> ScenarioData:
    """The scenario with its nemesis as one schedule entry per window of this seed's run, each with
    the rng_seed it ran with (see the module docstring), and the seed fixed."""
    data = copy.deepcopy(scenario)
    data["seed"] = seed
    config = NemesisConfig.model_validate(data.get("nemesis") or {})
    entries = []
    for action in build_schedule(config, float(data["duration"]), seed):
        if action.phase != "start":
            continue
        params = action.fault.params.model_dump(mode="json")
        length = _window_length(action, config, float(data["duration"]), seed)
        entries.append({"fault": action.fault.kind, "start": round(action.at, 6),
                        "duration": round(max(0.001, length - action.fault.extra_window()), 6),
                        "rng_seed": action.seed, **params})
    data["nemesis"] = {"schedule": entries} if entries else {}
    return data


def _window_length(start: Any, config: NemesisConfig, duration: float, seed: int) -> float:
    for action in build_schedule(config, duration, seed):
        if action.phase == "stop" and action.fault_id == start.fault_id:
            return float(action.at - start.at)
    return 0.0


def first_failing_checker(results: dict[str, Any]) -> str | None:
    for name, verdict in results.get("checkers", {}).items():
        if verdict.get("valid") is False:
            return name
    return None


def shrink_run(run_dir: Path, *, results_dir: Path | None = None, checker: str | None = None,
               max_runs: int = 150, confirm: int = 2, out: TextIO | None = None) -> ShrinkResult:
    """Shrink the failing simulated run in `run_dir` (see the module docstring)."""
    out = out if out is not None else sys.stdout
    results_file = run_dir / "results.json"
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
        scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise BadInput(run_dir, f"not a run folder with results.json and scenario.yaml: {error}") from None
    if results.get("mode") != "simulation":
        raise BadInput(results_file, "only a simulated run can be shrunk (it replays from its seed); "
                       "this one ran in real time", field="mode")
    target = checker or first_failing_checker(results)
    if target is None or results["checkers"].get(target, {}).get("valid") is not False:
        raise BadInput(results_file, f"no failing checker{' ' + repr(checker) if checker else ''} "
                       "in this run: nothing to shrink", field="checkers")
    seed = int(results["seed"])
    print(f"shrinking {results['name']} seed {seed}: checker {target}", file=out)
    shrinker = Shrinker(scenario, seed, target, max_runs=max_runs, log=lambda line: print(line, file=out))
    try:
        smallest = shrinker.run()
        for _ in range(confirm):  # it must fail every time it is re-run
            again = shrinker.trial(smallest)
            if again is None or not again.failed:
                raise HarnessError(f"the shrunk scenario did not fail again (seed {seed}); "
                                   "the simulation is not deterministic: please report it")
        results_dir = results_dir if results_dir is not None else run_dir.parent
        smallest["name"] = f"{results['name']}-shrunk"
        smallest["description"] = (f"minimal reproducer of {results['name']} seed {seed} "
                                   f"({target} fails); from {run_dir.name}")
        text = yaml.safe_dump(smallest, sort_keys=False)
        path = Path(shrinker._scratch.name) / "reproducer.yaml"
        path.write_text(text, encoding="utf-8")
        outcome, _ = simulate_run(load_scenario(path, simulated=True), results_dir=results_dir, report=False)
        reproducer = outcome.run_dir / "reproducer.yaml"
        reproducer.write_text(text, encoding="utf-8")
        write_report_logged(outcome.run_dir)
        final = Trial(failed=True, ops=int(outcome.results["ops_total"]),
                      events=sum(1 for _ in open(outcome.run_dir / "history.jsonl", encoding="utf-8")),
                      faults=len(outcome.results["faults"]))
        result = ShrinkResult(target, seed, shrinker.first, final, shrinker.runs, reproducer, outcome.run_dir)
    finally:
        shrinker.close()
    print(result.summary(), file=out)
    return result


def shrink_failures(outcome: Any, *, results_dir: Path, out: TextIO | None = None) -> list[ShrinkResult]:
    """`--shrink` of a sweep: shrink every kept run folder of a seed that found an anomaly."""
    shrunk = []
    for sweep in outcome.scenarios.values():
        for report in sweep.seeds:
            if report.valid is False and report.run_dir:
                shrunk.append(shrink_run(Path(report.run_dir), results_dir=results_dir, out=out))
    return shrunk
