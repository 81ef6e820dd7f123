"""The fault schedule (pure, seeded) and the Nemesis thread that plays it against a cluster.

Determinism: `build_schedule(config, duration, seed)` draws the random mix
from a Random seeded by `seed`, and gives every window a `seed` of its own
derived from (seed, fault_id); the Nemesis seeds the rng of the window's
`start` with it, so the same scenario seed gives the same faults, at the same
times, on the same targets (the targets depend only on that rng and the
cluster's node names and client count).

Guarantees of a schedule: fault_ids are 0.. in start order; each window has one
start and one stop action; windows of one entry (and of the random mix) never
overlap each other; every stop is at or before `duration`; at equal times stops
come before starts.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

from harness.cluster.base import Cluster
from harness.faults.base import Fault
from harness.faults.config import NemesisConfig, ScheduledFault, _WithParams
from harness.faults.node_holds import holds_for

log = logging.getLogger("harness.nemesis")

Phase = Literal["start", "stop"]
Record = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class FaultAction:
    """At `at` seconds after the run starts, `phase` the fault window `fault_id`."""

    at: float
    phase: Phase
    fault_id: int
    fault: Fault
    seed: int = 0  # seeds the rng handed to fault.start
    entry: str = ""  # which part of the config made it: "schedule.<i>" or "random"

    def __repr__(self) -> str:
        return f"FaultAction({self.at:.3f}s {self.phase} #{self.fault_id} {self.fault.kind})"


def window_seed(seed: int, fault_id: int) -> int:
    """A 64-bit seed for one fault window, stable across Python versions and processes."""
    digest = hashlib.sha256(f"majorityredis-nemesis:{seed}:{fault_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _entry_windows(entry: ScheduledFault, duration: float) -> list[tuple[float, float]]:
    window = entry.duration + entry.extra_window()
    out: list[tuple[float, float]] = []
    start, last_stop = entry.start, 0.0
    while start < duration:
        if start >= last_stop:  # the validator forbids overlap already; keep the promise anyway
            stop = min(start + window, duration)
            out.append((start, stop))
            last_stop = stop
        if entry.every is None:
            break
        start += entry.every
    return out


def build_schedule(config: NemesisConfig | Sequence[ScheduledFault] | Mapping[str, Any] | None,
                   duration: float, seed: int) -> list[FaultAction]:
    """All fault actions of a run of `duration` seconds, sorted by time (see module docstring)."""
    if config is None:
        return []
    if isinstance(config, Mapping):
        config = NemesisConfig.model_validate(config)
    if not isinstance(config, NemesisConfig):
        config = NemesisConfig(schedule=list(config))
    windows: list[tuple[float, int, float, _WithParams, str]] = []  # (start, order, stop, entry, name)
    for index, scheduled in enumerate(config.schedule):
        for start, stop in _entry_windows(scheduled, duration):
            windows.append((start, index, stop, scheduled, f"schedule.{index}"))
    mixes = [(config.random, random.Random(window_seed(seed, -1)), "random")] if config.random is not None else []
    if config.swarm is not None:  # this seed's own subset of kinds and intensity (swarm testing)
        swarm_rng = random.Random(window_seed(seed, -2))
        mixes.append((config.swarm.draw(swarm_rng), swarm_rng, "swarm"))
    for order, (spec, rng, name) in enumerate(mixes, len(config.schedule)):
        start = spec.start
        while start < duration:
            item = spec.mix[rng.randrange(len(spec.mix))]
            stop = min(start + spec.duration + item.extra_window(), duration)
            windows.append((start, order, stop, item, name))
            start = max(start + spec.interval, stop)
    windows.sort(key=lambda w: (w[0], w[1]))
    actions: list[FaultAction] = []
    for fault_id, (start, _, stop, entry, name) in enumerate(windows):
        fault = entry.make(fault_id)
        fixed = getattr(entry, "rng_seed", None)
        wseed = window_seed(seed, fault_id) if fixed is None else fixed
        actions.append(FaultAction(start, "start", fault_id, fault, wseed, name))
        actions.append(FaultAction(stop, "stop", fault_id, fault, wseed, name))
    actions.sort(key=lambda a: (a.at, a.phase == "start", a.fault_id))
    return actions


def describe_schedule(actions: Sequence[FaultAction]) -> list[dict[str, Any]]:
    """The schedule as JSON-able rows (for run.log, dry runs and reports)."""
    return [{"at": round(a.at, 6), "phase": a.phase, "fault_id": a.fault_id, "fault": a.fault.kind,
             "entry": a.entry, "params": a.fault.params.model_dump()} for a in actions]


class Nemesis:
    """Plays a schedule against a cluster on its own thread and records every phase.

    `record(f, value)` is called with f = the fault kind and value = the fault's
    start/stop dict plus {"phase", "fault_id"} (and "error" if the phase raised —
    the run goes on, and the fault's stop is still attempted). `clock()` returns
    seconds (e.g. time.monotonic); action times are relative to `origin`, the
    clock value of run time 0 (default: when `start()` is called).

    Events are recorded once a phase has taken effect (the value names the
    targets, known only then); applying a phase takes milliseconds (Toxiproxy
    calls) up to a second or so (a restart waits for the node to answer).

    `stop_and_heal()` ends the thread (an action in progress finishes first),
    stops every fault still active in fault_id order, recording each stop, then
    calls `cluster.heal()`. Process restarts go through the cluster, which
    spawns servers on its own long-lived thread, so nothing dies with this one.
    """

    def __init__(self, cluster: Cluster, schedule: Sequence[FaultAction], record: Record,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cluster = cluster
        self.schedule = sorted(schedule, key=lambda a: (a.at, a.phase == "start", a.fault_id))
        self.record = record
        self.clock = clock
        self.errors: list[str] = []
        self._active: dict[int, Fault] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._origin = 0.0
        self._finished = False

    @property
    def active(self) -> list[str]:
        """Kinds of the faults in effect now (for progress lines)."""
        with self._lock:
            return [f.kind for _, f in sorted(self._active.items())]

    def start(self, origin: float | None = None) -> None:
        if self._thread is not None:
            raise RuntimeError("the nemesis is already started")
        self._origin = self.clock() if origin is None else origin
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for action in self.schedule:
            delay = self._origin + action.at - self.clock()
            if self._stop.wait(max(0.0, delay)):
                return
            self.perform(action)

    def perform(self, action: FaultAction) -> None:
        """Apply one action now and record it (a simulator calls this at the action's virtual time)."""
        fault = action.fault
        with self._lock:
            if action.phase == "start":
                self._active[action.fault_id] = fault
            elif self._active.pop(action.fault_id, None) is None:
                return  # never started (or already stopped by stop_and_heal)
        try:
            if action.phase == "start":
                value = dict(fault.start(self.cluster, random.Random(action.seed)))
            else:
                value = dict(fault.stop(self.cluster))
        except Exception as exc:  # noqa: BLE001 - a failed fault must not end the run; say what happened
            message = f"{fault.kind} #{action.fault_id} {action.phase} failed: {type(exc).__name__}: {exc}"
            log.warning("%s", message)
            self.errors.append(message)
            value = {"error": f"{type(exc).__name__}: {exc}"}
        value.update(phase=action.phase, fault_id=action.fault_id)
        try:
            self.record(fault.kind, value)
        except Exception:
            log.exception("recording nemesis event %r failed", value)

    def stop_and_heal(self, timeout: float = 120.0) -> None:
        """Stop the thread, stop the active faults in order, heal the cluster (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the nemesis thread did not finish within %.0fs; healing anyway", timeout)
        if self._finished:
            return
        self._finished = True
        with self._lock:
            pending = sorted(self._active.items())
        for fault_id, fault in pending:
            self.perform(FaultAction(self.clock() - self._origin, "stop", fault_id, fault))
        self.cluster.heal()
        holds_for(self.cluster).clear()  # healed: no window holds a node any more
