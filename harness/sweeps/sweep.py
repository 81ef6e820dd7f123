"""Sweeps: every (scenario, seed) as a task, run in this process or on Dask distributed.

    outcome = run_sweep([Path("scenarios/partition.yaml")], range(0, 1000), simulate=True, jobs=2)

Where the tasks run:
- `jobs=1` (and no scheduler): one after another in this process (what
  `harness simulate --seeds` uses);
- `jobs=N`: an embedded Dask `LocalCluster` of N worker processes, one thread
  each (`in_process=True`: one in-process worker, for tests);
- `scheduler="tcp://HOST:8786"`: an existing Dask cluster (`dask scheduler`,
  `dask worker` on other machines, each with the project installed).
No home-made pool or scheduler: Dask places the tasks; each is a self-contained
`SeedTask` (harness.sweeps.tasks) that returns its verdicts and, for the runs
kept (not valid, or all with keep_all), the run folder, unpacked here into
`results_dir` — so failing runs come back even from another machine.

A progress line shows seeds done, failures, seeds/min and the ETA; Ctrl-C (or
SIGTERM) cancels what is left and writes the summary of what finished
(status "incomplete", exit 130). The summary — `<name>-sweep-<stamp>/sweep.json`
and `sweep.html`, and the printed table — is harness.sweeps.summary's.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, TextIO

from harness.errors import BadInput
from harness.runner import new_run_dir
from harness.scenario.loader import load_scenario
from harness.sweeps.summary import ScenarioSweep, SweepOutcome, print_table, write_summary
from harness.sweeps.tasks import SeedReport, SeedTask, environment_failure, run_seed, unpack


def plan_tasks(scenarios: Sequence[Path], seeds: Iterable[int], *, simulate: bool, keep_all: bool = False,
               duration: float | None = None) -> tuple[list[SeedTask], dict[str, ScenarioSweep]]:
    """Validate every scenario here (exit 3 before anything runs) and make its tasks."""
    tasks: list[SeedTask] = []
    sweeps: dict[str, ScenarioSweep] = {}
    seeds = list(seeds)
    for path in scenarios:
        loaded = load_scenario(path, overrides={"duration": duration}, simulated=simulate)
        if str(path) in sweeps:
            raise BadInput(path, "the scenario is named twice in this sweep")
        sweeps[str(path)] = ScenarioSweep(loaded.scenario.name, str(path), loaded.scenario.expect)
        tasks += [SeedTask(str(path), loaded.text, seed, simulate, keep_all, duration) for seed in seeds]
    return tasks, sweeps


def run_sweep(scenarios: Sequence[Path], seeds: Iterable[int], *, simulate: bool = True, jobs: int = 1,
              scheduler: str | None = None, in_process: bool = False, keep_all: bool = False,
              duration: float | None = None, results_dir: Path = Path("results"),
              out: TextIO | None = None, progress: TextIO | None = None,
              on_report: Callable[[SeedReport], None] | None = None) -> SweepOutcome:
    """Run the sweep (see the module docstring); returns its outcome, summary written."""
    out = out if out is not None else sys.stdout
    progress = progress if progress is not None else sys.stderr
    tasks, sweeps = plan_tasks(scenarios, seeds, simulate=simulate, keep_all=keep_all, duration=duration)
    outcome = SweepOutcome("simulation" if simulate else "real", sweeps, planned=len(tasks))
    results_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def receive(report: SeedReport) -> None:
        if report.archive is not None:
            report.run_dir = str(unpack(report.archive, results_dir))
            report.archive = None
        outcome.add(report)
        outcome.wall_s = time.perf_counter() - started
        _progress(progress, outcome)
        if on_report is not None:
            on_report(report)

    try:
        with _sigterm_as_interrupt():
            if scheduler is None and jobs <= 1 and not in_process:
                for task in tasks:
                    receive(run_seed(task))
            else:
                _on_dask(tasks, receive, jobs=jobs, scheduler=scheduler, in_process=in_process)
    except KeyboardInterrupt:
        outcome.status = "incomplete"
        print("\ninterrupted: the summary covers the seeds that finished", file=progress)
    outcome.wall_s = time.perf_counter() - started
    names = sorted({s.name for s in sweeps.values()})
    outcome.sweep_dir = new_run_dir(results_dir, f"{names[0] if len(names) == 1 else 'multi'}-sweep")
    write_summary(outcome)
    print_table(outcome, out)
    return outcome


def _on_dask(tasks: list[SeedTask], receive: Callable[[SeedReport], None], *, jobs: int,
             scheduler: str | None, in_process: bool) -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is not None:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(n_workers=1 if in_process else max(1, jobs), threads_per_worker=1,
                               processes=not in_process, dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    futures = []
    try:
        futures = client.map(run_seed, tasks, pure=False)
        by_key = {future.key: task for future, task in zip(futures, tasks)}
        for future in as_completed(futures):
            task = by_key[future.key]
            try:
                report = future.result()
            except Exception as error:  # noqa: BLE001 - a worker that died or could not run the task
                report = environment_failure(task, f"the task failed on its worker: {type(error).__name__}: "
                                                   f"{error}")
            receive(report)
    finally:
        for future in futures:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


def _progress(stream: TextIO, outcome: SweepOutcome) -> None:
    done, total = outcome.done, outcome.planned
    rate = outcome.seeds_per_minute
    eta = (total - done) / rate * 60.0 if rate > 0 else 0.0
    width = 24
    bar = "#" * int(width * done / total) if total else ""
    line = (f"[{bar:<{width}}] {done}/{total} seeds, {outcome.failures} not valid, "
            f"{rate:.0f} seeds/min, ETA {eta:.0f} s")
    tty = getattr(stream, "isatty", lambda: False)()
    if tty:
        print("\r" + line, end="\n" if done == total else "", file=stream, flush=True)
    elif done == total or done % max(1, total // 10) == 0:
        print(line, file=stream, flush=True)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (what CI systems and `timeout` send) stops the sweep like Ctrl-C (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
