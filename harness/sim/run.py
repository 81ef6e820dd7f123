"""One simulated run: a scenario and a seed in, a normal run folder out.

    outcome = simulate_run(load_scenario(path, simulated=True), seed=7, results_dir=Path("results"))

The same steps as a real run (harness.runner), on a `SimWorld` in virtual
time: the scenario's workload runs one task per client slot in its own
simulated client process (the real majorityredis objects, through a
`SimRuntime`); the nemesis plays the same seeded schedule, with the same
fault classes, against a `SimCluster`; after `duration` the workers stop,
the faults are stopped and healed, `settle` passes, and the final quiescent
phase runs over the direct links. The history's times are virtual
nanoseconds; nothing reads the wall clock or an OS random source, so the
same scenario and seed give a byte-identical history.jsonl.

The run folder is the real runner's (scenario.yaml, history.jsonl,
results.json with "mode": "simulation" and the seed, run.log, report.html
and plots), so `harness report`, `harness runs` and the notebooks work on it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import yaml

from harness.errors import BadInput
from harness.faults.schedule import Nemesis, build_schedule
from harness.history.recorder import Recorder
from harness.results import build_results, point_latest, summarize, write_json_atomic
from harness.runner import (
    FaultTracker,
    RunOutcome,
    attach_run_log,
    detach_run_log,
    judge_health,
    new_run_dir,
    print_summary,
    run_checkers,
    scenario_as_run,
)
from harness.scenario.loader import LoadedScenario
from harness.scenario.schema import LocalClusterConfig, Scenario
from harness.sim.cluster import ClientCrash, SimCluster, sim_cluster_for
from harness.sim.kernel import SimEvent, Task
from harness.sim.world import DIRECT
from harness.workload import WORKLOADS
from harness.workload.base import FINAL_PROCESS_BASE, ClientContext, ProcessHistory, client_rng

log = logging.getLogger("harness.sim")

STOP_GRACE_S = 30.0   # virtual seconds the workers get to finish their op after the stop
FINAL_PHASE_LIMIT_S = 600.0  # virtual seconds the final phase may take at most
STEP_S = 0.05         # how far the kernel runs between checks for finished tasks


@dataclass(frozen=True, slots=True)
class SimStats:
    """How much a simulated run did (for the sweep's table and the benchmark)."""

    virtual_s: float
    wall_s: float
    events: int        # kernel callbacks run
    commands: int      # commands the nodes executed


def simulated_scenario(loaded: LoadedScenario, seed: int | None) -> Scenario:
    """The scenario with `seed` applied; BadInput when it cannot be simulated."""
    scenario = loaded.scenario
    if not isinstance(scenario.cluster, LocalClusterConfig):
        raise BadInput(loaded.path, "a simulation needs a local cluster (cluster.mode: local); "
                       "an external cluster's nodes cannot be simulated", field="cluster.mode")
    client = getattr(scenario.workload, "client", None)
    if client is not None:
        from harness.clients import get_client

        if not get_client(client).in_process:
            raise BadInput(loaded.path, f"client {client!r} runs in a worker process against real servers; "
                           "only majorityredis (in-process) can be simulated", field="workload.client")
    if seed is not None and seed != scenario.seed:
        scenario = scenario.model_copy(update={"seed": seed})
    return scenario


class SimulatedRun:
    """The state of one simulated run (see the module docstring)."""

    def __init__(self, loaded: LoadedScenario, scenario: Scenario, run_dir: Path) -> None:
        self.loaded = loaded
        self.scenario = s = scenario
        self.run_dir = run_dir
        assert isinstance(s.cluster, LocalClusterConfig)
        self.cluster: SimCluster = sim_cluster_for(s.seed, s.cluster.nodes, s.clients, s.cluster.persistence)
        self.kernel = self.cluster.world.kernel
        kernel = self.kernel
        self.recorder = Recorder(run_dir / "history.jsonl", clock=lambda: int(round(kernel.now * 1e9)))
        self.faults = FaultTracker(self.recorder)
        self.workload = WORKLOADS[s.workload.type](s.workload, seed=s.seed, clients=s.clients)
        self.stop = SimEvent(kernel)
        self.histories = [ProcessHistory(self.recorder, slot, s.clients) for slot in range(s.clients)]
        self.workers: dict[int, Task] = {}
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.cluster.client_starter = self._start_worker

    # -- the run ----------------------------------------------------------------------------
    def execute(self) -> SimStats:
        s, kernel = self.scenario, self.kernel
        started = time.perf_counter()
        schedule = build_schedule(s.nemesis, s.duration, s.seed)
        nemesis = Nemesis(self.cluster, schedule, record=self.faults.record, clock=lambda: kernel.now)
        for action in schedule:
            kernel.call_at(action.at, partial(nemesis.perform, action))
        self._bootstrap()
        for slot in range(s.clients):
            self._start_worker(slot)
        kernel.run(until=s.duration)
        workload_end_ns = self.recorder.now()
        self.stop.set()
        stuck = self._run_until_done(list(self.workers.values()), kernel.now + STOP_GRACE_S)
        if stuck:
            self.notes.append(f"workers still blocked {STOP_GRACE_S:g} virtual s after the stop: {stuck}")
        nemesis.stop_and_heal()
        kernel.run(until=kernel.now + s.settle)
        final = self._final_phase()
        if self._run_until_done([final], kernel.now + FINAL_PHASE_LIMIT_S):
            self.notes.append("the final phase did not finish")
        self.recorder.close()
        self.workload_end_ns = workload_end_ns
        self.workload_seconds = workload_end_ns / 1e9
        commands = sum(node.commands_run for node in self.cluster.world.nodes.values())
        return SimStats(virtual_s=kernel.now, wall_s=time.perf_counter() - started,
                        events=kernel.events_run, commands=commands)

    def _run_until_done(self, tasks: list[Task], limit: float) -> list[str]:
        """Run the kernel until `tasks` ended or virtual time `limit`; the names of those still alive."""
        kernel = self.kernel
        while any(t.is_alive() for t in tasks) and kernel.now < limit:
            kernel.run(until=min(limit, kernel.now + STEP_S))
            if not kernel.pending():
                break  # nothing left that could wake them
        return [t.name for t in tasks if t.is_alive()]

    def _start_worker(self, slot: int) -> None:
        """Start client `slot`'s worker in its process (again after a crash: as a new history process)."""
        history = self.histories[slot]
        if slot in self.workers:
            history.process += history.stride  # the crashed process's op never completes
        process = self.cluster.process(slot)
        ctx = ClientContext(slot=slot, clients=self.scenario.clients, urls=self.cluster.client_urls(slot),
                            history=history, stop=self.stop, rng=client_rng(self.scenario.seed, slot),
                            runtime=process.runtime())
        if slot in self.workers:
            ctx.rng = client_rng(self.scenario.seed, f"{slot}/{history.process}")
        self.workers[slot] = process.spawn(lambda: self._worker(ctx), f"client-{slot}")

    def _worker(self, ctx: ClientContext) -> None:
        try:
            self.workload.run_client(ctx)
        except ClientCrash:
            pass  # the client-crash fault recorded it; the op in flight stays incomplete
        except Exception as error:  # noqa: BLE001 - reported like the real runner's worker errors
            log.exception("client %d stopped with an error", ctx.slot)
            self.errors.append(f"client {ctx.slot}: {type(error).__name__}: {error}")

    def _bootstrap(self) -> None:
        """Admit the new cluster's nodes before any client runs (the harness is the operator who
        knows the cluster is new), as the real runner does; at virtual time ~0."""
        process = self.cluster.process(DIRECT)
        runtime = process.runtime()

        def bootstrap() -> None:
            try:
                self.workload.bootstrap(self.cluster.direct_urls(), runtime)
            except Exception as error:  # noqa: BLE001 - reported like the workers' errors
                log.exception("bootstrapping the cluster failed")
                self.errors.append(f"bootstrap: {type(error).__name__}: {error}")

        if self._run_until_done([process.spawn(bootstrap, "bootstrap")], self.kernel.now + STEP_S * 10):
            self.errors.append("bootstrap: did not finish")

    def _final_phase(self) -> Task:
        s = self.scenario
        process = self.cluster.process(DIRECT)
        ctx = ClientContext(slot=s.clients, clients=s.clients, urls=self.cluster.direct_urls(),
                            history=ProcessHistory(self.recorder, FINAL_PROCESS_BASE, 1),
                            stop=SimEvent(self.kernel), rng=client_rng(s.seed, -1), runtime=process.runtime())

        def final() -> None:
            try:
                self.workload.final_phase(ctx)
            except Exception as error:  # noqa: BLE001
                log.exception("the final phase stopped with an error")
                self.errors.append(f"final phase: {type(error).__name__}: {error}")

        return process.spawn(final, "final-phase")


def simulate_run(loaded: LoadedScenario, *, seed: int | None = None, results_dir: Path = Path("results"),
                 out: TextIO | None = None, report: bool = True,
                 latest: bool = True) -> tuple[RunOutcome, SimStats]:
    """Simulate `loaded` with `seed` (default the scenario's) into a new run folder under `results_dir`
    (see the module docstring); `report` writes report.html and plots, `latest` points
    results_dir/latest at the run, `out` gets the printed summary."""
    scenario = simulated_scenario(loaded, seed)
    results_dir.mkdir(parents=True, exist_ok=True)
    run_dir = new_run_dir(results_dir, f"{scenario.name}-sim-s{scenario.seed}")
    (run_dir / "scenario.yaml").write_text(scenario_as_run(loaded, _overrides(loaded, scenario)), encoding="utf-8")
    handler = attach_run_log(run_dir / "run.log", timestamps=False)
    try:
        started_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        run = SimulatedRun(loaded, scenario, run_dir)
        stats = run.execute()
        from harness.history.readers import read_history

        events = read_history(run_dir / "history.jsonl")
        verdicts = run_checkers(scenario, events)
        summary = summarize(events, workload_seconds=run.workload_seconds, workload_end_ns=run.workload_end_ns)
        extra: dict[str, Any] = {"mode": "simulation",
                                 "simulation": {"virtual_s": round(stats.virtual_s, 3),
                                                "wall_s": round(stats.wall_s, 3), "events": stats.events,
                                                "node_commands": stats.commands}}
        if run.errors:
            extra["worker_errors"] = run.errors
        if run.notes:
            extra["notes"] = run.notes
        problem, unknown = judge_health(scenario, events, summary, extra, worker_errors=run.errors,
                                        log_problems=[])
        results = build_results(
            name=scenario.name, scenario_file=str(loaded.path), seed=scenario.seed, started_at=started_at,
            duration_s=run.workload_seconds, status="complete", expect=scenario.expect, verdicts=verdicts,
            summary=summary, workload=scenario.workload.type, clients=scenario.clients,
            nodes=scenario.node_count, extra=extra, environment_problem=problem, unknown_reason=unknown)
        write_json_atomic(run_dir / "results.json", results)
        if latest:
            point_latest(results_dir, run_dir)
        if report:
            write_report_logged(run_dir)
        if out is not None:
            print_summary(results, run_dir, out)
        return RunOutcome(run_dir, results, int(results["exit_code"])), stats
    finally:
        detach_run_log(handler)


def _overrides(loaded: LoadedScenario, scenario: Scenario) -> dict[str, Any]:
    """The top-level fields the run changed from the file (seed, duration), for scenario.yaml."""
    written = yaml.safe_load(loaded.text) or {}
    return {key: getattr(scenario, key) for key in ("seed", "duration")
            if written.get(key) != getattr(scenario, key)}


def write_report_logged(run_dir: Path) -> None:
    """report.html and plots of a run folder; a failure is logged, never raised."""
    try:
        from harness.report import write_report

        write_report(run_dir)
    except Exception:  # noqa: BLE001 - a report failure is logged, not fatal
        log.exception("writing the report failed")
