"""Run one scenario end to end: cluster, nemesis, client workers, final phase, checkers, results.

    outcome = run_scenario("scenarios/partition.yaml")   # what `python -m harness run` calls

Order (each step logged to the run folder's run.log):
1. validate the scenario (BadInput, exit 3, before anything starts);
2. create results/<name>-<UTC timestamp>/ with scenario.yaml as run and history.jsonl;
3. start the cluster (EnvironmentFailure -> exit 4) and the nemesis on its seeded schedule;
4. run `clients` workers for `duration` seconds, a progress line on stderr at most once a second;
5. stop the workers, stop the nemesis and heal, wait `settle`, run the final quiescent
   phase (final reads / queue drain) through the nodes' direct URLs;
6. stop every process (in `finally`, whatever happened);
7. run the scenario's checkers on the recorded history, write results.json atomically,
   point results/latest at the run, write the report, print a summary, return the exit code.
Ctrl-C or SIGTERM: the workers stop, the processes are killed, the history is kept,
results.json and the report are written with status "incomplete" (no checkers) and the exit
code is 130 (SIGINT) or 143 (SIGTERM).

Before the cluster starts, the soft RLIMIT_NOFILE is raised to what clients x nodes proxies
need (harness.cluster.fdlimit; exit 4 naming the numbers if the hard limit is too low).
After the run, harness.run_health decides whether it exercised the system at all: a worker
that died, no completed client op, or a server log reporting a resource failure is an
environment failure (status "environment-failure", exit 4, never valid); more unknown
outcomes outside fault windows than `max_info_share` turn a valid verdict into "unknown".

Why client workers are threads, not processes: an op is I/O-bound — a few round trips
on sockets to the proxies — and redis-py releases the GIL while it waits on a socket,
so threads overlap their waits as processes would; threads share one monotonic clock
and one Recorder (one lock, one file, index order = time order) with no IPC; and the
lock workload's SIGSTOP-like client pause (a GC pause) is modelled in-process by the
worker sleeping between acquire and use. Node pauses are real SIGSTOPs of redis-server.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TextIO

import yaml

from harness.errors import BadInput, HarnessError, Terminated
from harness.history.events import pair_operations
from harness.history.recorder import Recorder
from harness.results import (
    INTERRUPTED,
    TERMINATED,
    build_results,
    checker_expectations,
    point_latest,
    summarize,
    write_json_atomic,
)
from harness.run_health import environment_problem, info_outside_faults, info_share_problem, scan_logs
from harness.scenario.loader import LoadedScenario, load_scenario
from harness.scenario.schema import LocalClusterConfig, Scenario
from harness.workload import WORKLOADS
from harness.workload.base import FINAL_PROCESS_BASE, ClientContext, ProcessHistory, Workload, client_rng

log = logging.getLogger("harness.runner")

WORKER_JOIN_TIMEOUT = 30.0  # an op in flight is bounded by the socket timeouts of its calls


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a run produced: its folder, results.json as written, and the exit code."""

    run_dir: Path
    results: dict[str, Any]
    exit_code: int


ClusterFactory = Callable[[Scenario, Path], Any]


def make_cluster(scenario: Scenario, run_dir: Path) -> Any:
    """The scenario's cluster (not started): local processes or an external cluster."""
    config = scenario.cluster
    if isinstance(config, LocalClusterConfig):
        from harness.cluster.local import LocalCluster

        return LocalCluster(config.nodes, scenario.clients, run_dir, config.persistence,
                            password=config.password, clock_control=scenario.nemesis.needs_clock_control())
    from harness.cluster.external import ExternalCluster

    return ExternalCluster(config, scenario.clients)


def new_run_dir(results_dir: Path, name: str, now: datetime | None = None) -> Path:
    """results/<name>-<UTC YYYYmmddTHHMMSSZ>/ (a suffix -2, -3... if it exists already)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    results_dir.mkdir(parents=True, exist_ok=True)
    candidate = results_dir / f"{name}-{stamp}"
    n = 2
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            candidate = results_dir / f"{name}-{stamp}-{n}"
            n += 1


def scenario_as_run(loaded: LoadedScenario, overrides: dict[str, Any]) -> str:
    """The scenario text as run: the file verbatim, or with command-line overrides applied."""
    applied = {k: v for k, v in overrides.items() if v is not None}
    if not applied:
        return loaded.text
    data = yaml.safe_load(loaded.text)
    data.update(applied)
    header = f"# {loaded.path} as run, with command-line overrides: {applied}\n"
    return header + yaml.safe_dump(data, sort_keys=False)


class FaultTracker:
    """Records nemesis events and keeps which faults are active (for the progress line)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._lock = threading.Lock()
        self.active: dict[Any, str] = {}
        self.injected = 0

    def record(self, f: str, value: Any) -> None:
        self.recorder.record("nemesis", "info", f, value)
        phase = value.get("phase") if isinstance(value, dict) else None
        fault_id = value.get("fault_id") if isinstance(value, dict) else None
        with self._lock:
            if phase == "start":
                self.active[fault_id] = f
                self.injected += 1
            elif phase == "stop":
                self.active.pop(fault_id, None)

    def describe(self) -> str:
        with self._lock:
            names = sorted(self.active.values())
        return f"{len(names)}" + (f" ({', '.join(names)})" if names else "")


class ClientWorkers:
    """The client worker threads of a run (see the module docstring for why threads)."""

    def __init__(self, workload: Workload, cluster: Any, recorder: Recorder, *, seed: int,
                 clients: int) -> None:
        self.stop = threading.Event()
        self.errors: list[str] = []
        self._threads: list[threading.Thread] = []
        self._workload = workload
        self._contexts = [
            ClientContext(slot=slot, clients=clients, urls=cluster.client_urls(slot),
                          history=ProcessHistory(recorder, slot, clients), stop=self.stop,
                          rng=client_rng(seed, slot))
            for slot in range(clients)]

    def start(self) -> None:
        for ctx in self._contexts:
            thread = threading.Thread(target=self._run, args=(ctx,), name=f"client-{ctx.slot}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, ctx: ClientContext) -> None:
        try:
            self._workload.run_client(ctx)
        except Exception as error:  # noqa: BLE001 - one broken worker must not stop the run
            log.exception("client %d stopped with an error", ctx.slot)
            self.errors.append(f"client {ctx.slot}: {type(error).__name__}: {error}")

    def stop_and_join(self, timeout: float = WORKER_JOIN_TIMEOUT) -> list[str]:
        """Stop the workers; returns the names of threads still blocked after `timeout`."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self._threads if t.is_alive()]


def run_scenario(scenario_path: str | Path, *, results_dir: str | Path = "results",
                 duration: float | None = None, seed: int | None = None, expect: str | None = None,
                 cluster_factory: ClusterFactory = make_cluster, progress: TextIO | None = None,
                 out: TextIO | None = None, client: str | None = None) -> RunOutcome:
    """Run a scenario (see the module docstring); returns the outcome with its exit code.

    Raises BadInput (invalid scenario, exit 3) before anything starts and
    EnvironmentFailure (exit 4) when the cluster cannot start (after stopping it).
    `client` overrides the lock workload's `client:` (harness/clients); the run folder is
    then named <scenario>-<client>-<timestamp>.
    """
    from harness.cluster.fdlimit import ensure_descriptors

    progress = progress if progress is not None else sys.stderr
    out = out if out is not None else sys.stdout
    overrides: dict[str, Any] = {"duration": duration, "seed": seed, "expect": expect}
    workload_overrides = {"client": client} if client is not None else {}
    if client is not None:
        kind = load_scenario(scenario_path, overrides=overrides).scenario.workload.type
        if kind != "lock":
            raise BadInput(scenario_path, f"--client picks the library of a lock workload; this one is {kind!r}",
                           field="workload.type")
    loaded = load_scenario(scenario_path, overrides=overrides, workload_overrides=workload_overrides)
    scenario = loaded.scenario
    needed, limit = ensure_descriptors(scenario.clients, scenario.node_count,
                                       proxied=isinstance(scenario.cluster, LocalClusterConfig))
    results_dir = Path(results_dir)
    run_dir = new_run_dir(results_dir, scenario.name if client is None else f"{scenario.name}-{client}")
    if workload_overrides:
        overrides = {**overrides, "workload": {**yaml.safe_load(loaded.text)["workload"], **workload_overrides}}
    handler = attach_run_log(run_dir / "run.log")
    log.info("open files: about %d needed per process, soft RLIMIT_NOFILE %s", needed, limit)
    try:
        with _sigterm_as_interrupt():
            return _Run(loaded, run_dir, results_dir, overrides, cluster_factory, progress, out).execute()
    finally:
        detach_run_log(handler)


class _Run:
    """The state of one run (the steps of the module docstring)."""

    def __init__(self, loaded: LoadedScenario, run_dir: Path, results_dir: Path, overrides: dict[str, Any],
                 cluster_factory: ClusterFactory, progress: TextIO, out: TextIO) -> None:
        self.loaded = loaded
        self.scenario = loaded.scenario
        self.run_dir = run_dir
        self.results_dir = results_dir
        self.progress = progress
        self.out = out
        (run_dir / "scenario.yaml").write_text(scenario_as_run(loaded, overrides), encoding="utf-8")
        self.started_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.recorder = Recorder(run_dir / "history.jsonl")
        self.faults = FaultTracker(self.recorder)
        self.cluster = cluster_factory(self.scenario, run_dir)
        self.workload: Workload = WORKLOADS[self.scenario.workload.type](
            self.scenario.workload, seed=self.scenario.seed, clients=self.scenario.clients)
        self.workers: ClientWorkers | None = None
        self.nemesis: Any = None
        self.workload_seconds = 0.0
        self.workload_end_ns: int | None = None
        self.notes: list[str] = []
        self.interrupt_code = INTERRUPTED

    # -- the run ---------------------------------------------------------------
    def execute(self) -> RunOutcome:
        s = self.scenario
        log.info("run %s: scenario %s, seed %d, duration %gs, %d clients, %d nodes, workload %s",
                 self.run_dir.name, self.loaded.path, s.seed, s.duration, s.clients, s.node_count,
                 s.workload.type)
        status = "complete"
        try:
            try:
                self._start()
                self._drive()
                self._finish_faults_and_settle()
                self._final_phase()
            except KeyboardInterrupt as interrupt:
                status = "incomplete"
                self._interrupted(interrupt)
                log.warning("interrupted (%s): stopping workers and processes, keeping the history",
                            self.interrupted_by)
                print(f"\ninterrupted ({self.interrupted_by}): stopping workers and processes; results "
                      "will be 'incomplete'", file=self.progress)
            finally:
                with _sigint_ignored():
                    self._stop_everything()
        except HarnessError:
            log.exception("run failed")
            raise
        return self._conclude(status)

    def _interrupted(self, interrupt: KeyboardInterrupt) -> None:
        self.interrupt_code = TERMINATED if isinstance(interrupt, Terminated) else INTERRUPTED
        self.interrupted_by = "SIGTERM" if isinstance(interrupt, Terminated) else "SIGINT (Ctrl-C)"

    interrupted_by = ""

    def _start(self) -> None:
        from harness.faults.schedule import Nemesis, build_schedule

        s = self.scenario
        # Import the library here, once, so a broken install fails the run before anything starts
        # (not in five worker threads at once).
        from majorityredis import MajorityRedis  # noqa: F401
        prepare = getattr(self.workload, "prepare", None)
        if prepare is not None:  # e.g. the lock workload builds its client's venv (exit 4 if it cannot)
            log.info("preparing the workload's client")
            prepare()

        schedule = build_schedule(s.nemesis, s.duration, s.seed)
        log.info("fault schedule: %d action(s)", len(schedule))
        for action in schedule:
            log.info("  %s", action)
        log.info("starting the cluster")
        self.cluster.start()
        log.info("admitting the new cluster's nodes (bootstrap_new_cluster)")
        self.workload.bootstrap(self.cluster.direct_urls())
        pids = getattr(self.cluster, "pids", None)
        if callable(pids):
            log.info("cluster processes: %s", pids())
        open_clients = getattr(self.workload, "open_clients", None)
        if open_clients is not None:  # client processes start before the workload clock
            log.info("starting the clients")
            open_clients([self.cluster.client_urls(slot) for slot in range(s.clients)])
        self.nemesis = Nemesis(self.cluster, schedule, record=self.faults.record)
        self.workers = ClientWorkers(self.workload, self.cluster, self.recorder, seed=s.seed, clients=s.clients)

    def _drive(self) -> None:
        assert self.workers is not None
        duration = self.scenario.duration
        t0 = time.monotonic()
        self.nemesis.start()
        self.workers.start()
        log.info("workload running for %gs", duration)
        try:
            while True:
                elapsed = time.monotonic() - t0
                if elapsed >= duration:
                    break
                self._progress(elapsed, duration)
                time.sleep(min(1.0, duration - elapsed))
        finally:
            self.workload_seconds = time.monotonic() - t0
            self.workload_end_ns = self.recorder.now()
            stuck = self.workers.stop_and_join()
            if stuck:
                self.notes.append(f"workers still blocked at the end: {stuck}")
                log.warning("workers still blocked after %ss: %s", WORKER_JOIN_TIMEOUT, stuck)
        self._progress(self.workload_seconds, duration, final=True)

    def _progress(self, elapsed: float, duration: float, *, final: bool = False) -> None:
        line = (f"[{elapsed:6.1f}/{duration:g} s] ops {self.recorder.invocations}  "
                f"faults active: {self.faults.describe()}")
        tty = getattr(self.progress, "isatty", lambda: False)()
        end = "\n" if final or not tty else ""
        print(("\r" if tty else "") + line, end=end, file=self.progress, flush=True)

    def _finish_faults_and_settle(self) -> None:
        log.info("stopping the nemesis and healing the cluster")
        nemesis, self.nemesis = self.nemesis, None
        nemesis.stop_and_heal()
        if self.scenario.settle:
            log.info("settling for %gs", self.scenario.settle)
            time.sleep(self.scenario.settle)

    def _final_phase(self) -> None:
        log.info("final quiescent phase through the direct URLs")
        ctx = ClientContext(slot=self.scenario.clients, clients=self.scenario.clients,
                            urls=self.cluster.direct_urls(),
                            history=ProcessHistory(self.recorder, FINAL_PROCESS_BASE, 1),
                            stop=threading.Event(), rng=client_rng(self.scenario.seed, -1))
        self.workload.final_phase(ctx)

    def _stop_everything(self) -> None:
        if self.workers is not None:
            self.workers.stop_and_join(timeout=5.0)
        close_clients = getattr(self.workload, "close_clients", None)
        if close_clients is not None:
            close_clients()
        if self.nemesis is not None:
            try:
                self.nemesis.stop_and_heal()
            except Exception:  # noqa: BLE001 - the processes are killed next anyway
                log.exception("stopping the nemesis failed")
        try:
            self.cluster.stop()
            log.info("cluster stopped")
        except Exception:  # noqa: BLE001
            log.exception("stopping the cluster failed")
        self.recorder.close()

    # -- after the processes are gone ------------------------------------------------
    def _conclude(self, status: str) -> RunOutcome:
        from harness.history.readers import read_history

        events = read_history(self.run_dir / "history.jsonl")
        verdicts: dict[str, dict[str, Any]] = {}
        if status == "complete":
            try:
                verdicts = self._check(events)
            except KeyboardInterrupt as interrupt:
                status = "incomplete"
                self._interrupted(interrupt)
                log.warning("interrupted (%s) while checking: results will be 'incomplete'", self.interrupted_by)
        with _sigint_ignored():
            return self._write_results(status, events, verdicts)

    def _write_results(self, status: str, events: list[Any], verdicts: dict[str, dict[str, Any]]) -> RunOutcome:
        s = self.scenario
        summary = summarize(events, workload_seconds=self.workload_seconds, workload_end_ns=self.workload_end_ns)
        extra: dict[str, Any] = {}
        worker_errors = self.workers.errors if self.workers is not None else []
        if worker_errors:
            extra["worker_errors"] = worker_errors
        if self.notes:
            extra["notes"] = self.notes
        extra.update(getattr(self.workload, "results_extra", dict)())
        skipped: dict[str, str] = getattr(self.workload, "inapplicable_checkers", dict)()
        if skipped:
            extra["checkers_skipped"] = {name: why for name, why in skipped.items()
                                         if name in self.scenario.checker_list}
        problem = unknown = None
        if status == "complete":
            problem, unknown = judge_health(s, events, summary, extra, worker_errors=worker_errors,
                                            log_problems=scan_logs(self.run_dir))
        else:
            extra["info_outside_faults"] = info_outside_faults(
                pair_operations(events), summary["faults"]).to_json(s.max_info_share)
        results = build_results(
            name=s.name, scenario_file=str(self.loaded.path), seed=s.seed, started_at=self.started_at,
            duration_s=self.workload_seconds, status=status, expect=s.expect, verdicts=verdicts,
            summary=summary, workload=s.workload.type, clients=s.clients, nodes=s.node_count, extra=extra,
            environment_problem=problem, unknown_reason=unknown, interrupt_code=self.interrupt_code,
            reason=f"interrupted by {self.interrupted_by}" if status == "incomplete" else None)
        write_json_atomic(self.run_dir / "results.json", results)
        point_latest(self.results_dir, self.run_dir)
        self._report()
        print_summary(results, self.run_dir, self.out)
        log.info("done: valid=%s expect=%s passed=%s exit=%s", results["valid"], results["expect"],
                 results["passed"], results["exit_code"])
        return RunOutcome(self.run_dir, results, int(results["exit_code"]))

    def _check(self, events: list[Any]) -> dict[str, dict[str, Any]]:
        return run_checkers(self.scenario, events, skip=getattr(self.workload, "inapplicable_checkers", dict)())

    def _report(self) -> None:
        try:
            from harness.report import write_report
        except ImportError:
            log.info("no report module: report skipped")
            return
        try:
            written = write_report(self.run_dir)
            log.info("report: %s", ", ".join(str(p) for p in written or []))
        except Exception:  # noqa: BLE001 - a report failure is logged, not fatal
            log.exception("writing the report failed")


def judge_health(scenario: Scenario, events: list[Any], summary: dict[str, Any], extra: dict[str, Any], *,
                 worker_errors: list[str], log_problems: list[str]) -> tuple[str | None, str | None]:
    """Did a complete run really exercise the system (harness.run_health)? Adds
    `info_outside_faults` to `extra`; returns (environment problem, reason a valid verdict is
    unknown), each None when there is none. Real and simulated runs alike."""
    ops = pair_operations(events)
    share = info_outside_faults(ops, summary["faults"])
    extra["info_outside_faults"] = share.to_json(scenario.max_info_share)
    workload_ops = [op for op in ops if isinstance(op.process, int) and op.process < FINAL_PROCESS_BASE]
    problem = environment_problem(worker_errors=worker_errors, workload_ops=workload_ops,
                                  log_problems=log_problems)
    unknown = info_share_problem(share, scenario.max_info_share)
    for reason in (problem, unknown):
        if reason:
            log.warning("%s", reason)
    return problem, unknown


def run_checkers(scenario: Scenario, events: list[Any],
                 skip: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The scenario's checkers on a history: {checker name: Verdict.to_json()}; a checker that
    raises gives an "unknown" verdict with the error as a warning (real and simulated runs alike).
    `skip`: checkers that do not apply (name -> why; e.g. fencing for a client without tokens)."""
    from harness.checker import check

    verdicts: dict[str, dict[str, Any]] = {}
    for name in scenario.checker_list:
        if skip and name in skip:
            log.info("checker %s skipped: %s", name, skip[name])
            continue
        options = scenario.checker_options.get(name, {})
        started = time.monotonic()
        try:
            verdict = check(events, name, time_limit=scenario.check_time_limit, **options)
            verdicts[name] = verdict.to_json()
        except Exception as error:  # noqa: BLE001 - a checker bug is an unknown verdict, not a crash
            log.exception("checker %s failed", name)
            verdicts[name] = {"checker": name, "valid": "unknown", "anomalies": [],
                              "warnings": [{"kind": "checker-error", "message": f"{type(error).__name__}: "
                                            f"{error}", "indices": [], "details": {}}],
                              "stats": {}, "elapsed_s": round(time.monotonic() - started, 3)}
        log.info("checker %s: valid=%s (%d anomalies, %.2fs)", name, verdicts[name]["valid"],
                 len(verdicts[name].get("anomalies", [])), time.monotonic() - started)
    return verdicts


def print_summary(results: dict[str, Any], run_dir: Path, out: TextIO) -> None:
    """Verdict per checker, ops ok/fail/info per f, throughput, faults injected."""
    verdict = {True: "VALID", False: "INVALID"}.get(results["valid"], "UNKNOWN")  # type: ignore[call-overload]
    per_checker = checker_expectations(results["expect"], results["checkers"])
    expected = "per checker" if per_checker else results["expect"]
    print(f"{results['name']}: {verdict} (expected {expected}) -> "
          f"{'passed' if results['passed'] else 'FAILED'}, exit {results['exit_code']}"
          f"{'' if results['status'] == 'complete' else ' [' + results['status'] + ']'}", file=out)
    if results.get("reason"):
        print(f"  reason: {results['reason']}", file=out)
    for name, v in results["checkers"].items():
        anomalies = v.get("anomalies", [])
        kinds = sorted({a.get("kind", "?") for a in anomalies})
        print(f"  {name:<12} valid={v.get('valid')!s:<7} anomalies={len(anomalies)}"
              f"{' (' + ', '.join(kinds) + ')' if kinds else ''}"
              f"{'  expected ' + per_checker[name] if name in per_checker else ''}", file=out)
    for f, c in results["counts"].items():
        print(f"  {f:<8} ok {c['ok']:>6}  fail {c['fail']:>6}  info {c['info']:>6}", file=out)
    fault_kinds: dict[str, int] = {}
    for window in results["faults"]:
        fault_kinds[window["fault"]] = fault_kinds.get(window["fault"], 0) + 1
    faults = ", ".join(f"{k} x{n}" for k, n in sorted(fault_kinds.items())) or "none"
    print(f"  {results['ops_total']} ops, {results['throughput_ops_s']} ops/s over "
          f"{results['duration_s']} s; faults injected: {faults}", file=out)
    print(f"  results: {run_dir / 'results.json'}", file=out)


class _sigterm_as_interrupt:
    """While running (main thread only), SIGTERM raises Terminated instead of killing the process."""

    def __enter__(self) -> None:
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, _raise_terminated)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


class _sigint_ignored:
    """Ignore a second Ctrl-C or SIGTERM while cleaning up and writing results (main thread only)."""

    def __enter__(self) -> None:
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, signal.SIG_IGN)

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def attach_run_log(path: Path, *, timestamps: bool = True) -> logging.Handler:
    """run.log of a run: what the harness (INFO) and the library (WARNING) log. A simulated run
    writes no host timestamps (`timestamps=False`): they are not part of its replay."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(("%(asctime)s " if timestamps else "")
                                           + "%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    for name in ("harness", "majorityredis"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO if name == "harness" else logging.WARNING)
    return handler


def detach_run_log(handler: logging.Handler) -> None:
    for name in ("harness", "majorityredis"):
        logging.getLogger(name).removeHandler(handler)
    handler.close()
