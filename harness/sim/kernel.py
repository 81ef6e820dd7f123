"""The simulation kernel: virtual time, one event queue, and cooperative tasks on greenlets.

Everything simulated happens in one OS thread. The kernel owns the virtual
clock `now` (seconds since the start of the simulation) and a heap of timed
callbacks ordered by (time, sequence number), so two events at the same
instant run in the order they were scheduled: a run is a pure function of
what was scheduled, i.e. of the seed.

Client code (the workloads and the real majorityredis library, which are
written as blocking code) runs in *tasks*: greenlets that the kernel's hub
switches into. A task blocks by `park()`ing — to sleep, or to wait for a
reply — which switches back to the hub; the hub resumes it from a callback
(`wake`). Only one task runs at a time and it runs until it parks, so no
interleaving depends on the OS scheduler (tokio turmoil's "hosts in one
thread on simulated time"; FoundationDB's single-threaded simulation).

Rules:
- `now` only moves forward, and only in `run()` between callbacks;
- a task's wake-ups carry the ticket of the park they answer: a stale
  wake-up (the task was woken by something else first) is ignored, so a
  timeout and a reply racing for one park never resume it twice;
- a task killed by `kill(task, exc)` gets `exc` raised where it is parked.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

import greenlet


class SimulationError(RuntimeError):
    """The simulation itself is broken (a task blocked outside a task, a deadlock of tasks)."""


class Task:
    """A cooperative task: a greenlet plus the ticket of its current park."""

    __slots__ = ("name", "glet", "ticket", "done", "error", "_joiners", "kernel", "gate")

    def __init__(self, kernel: Kernel, name: str, target: Callable[[], None], gate: Gate | None = None) -> None:
        self.kernel = kernel
        self.gate = gate  # a paused gate holds the task's wake-ups back (a client process pause)
        self.name = name
        self.ticket = 0
        self.done = False
        self.error: BaseException | None = None
        self._joiners: list[tuple[Task, int]] = []
        self.glet = greenlet.greenlet(self._main(target), parent=kernel.hub)

    def _main(self, target: Callable[[], None]) -> Callable[[], None]:
        def body(*_start: Any) -> None:  # the first switch passes the wake-up value
            try:
                target()
            except BaseException as error:  # noqa: BLE001 - kept on the task, reported by the runner
                self.error = error
            finally:
                self.done = True
                for joiner, ticket in self._joiners:
                    self.kernel.wake(joiner, ticket)
                self._joiners.clear()
        return body

    def is_alive(self) -> bool:
        return not self.done

    def join(self, timeout: float | None = None) -> None:
        """Park the calling task until this one ends (or `timeout` virtual seconds pass)."""
        if self.done:
            return
        me = self.kernel.current()
        ticket = self.kernel.next_ticket(me)
        self._joiners.append((me, ticket))
        if timeout is not None:
            self.kernel.call_later(max(0.0, timeout), lambda: self.kernel.wake(me, ticket))
        self.kernel.park(me, ticket)

    def __repr__(self) -> str:
        return f"Task({self.name!r}{', done' if self.done else ''})"


class Kernel:
    """Virtual time and the event loop (see the module docstring)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.hub = greenlet.getcurrent()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._tasks: dict[greenlet.greenlet, Task] = {}
        self.events_run = 0

    # -- timed callbacks ----------------------------------------------------------------
    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        """Run `callback` in the hub at virtual time `when` (never earlier than now)."""
        heapq.heappush(self._heap, (max(when, self.now), next(self._seq), callback))

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.call_at(self.now + max(0.0, delay), callback)

    def run(self, until: float | None = None) -> None:
        """Run callbacks in time order until the queue is empty or the next one is after `until`."""
        if greenlet.getcurrent() is not self.hub:
            raise SimulationError("Kernel.run must be called from the hub, not from a task")
        heap = self._heap
        while heap:
            when = heap[0][0]
            if until is not None and when > until:
                self.now = max(self.now, until)
                return
            _when, _seq, callback = heapq.heappop(heap)
            self.now = when
            self.events_run += 1
            callback()
        if until is not None:
            self.now = max(self.now, until)

    def pending(self) -> int:
        return len(self._heap)

    # -- tasks --------------------------------------------------------------------------
    def spawn(self, target: Callable[[], None], name: str, *, delay: float = 0.0,
              gate: Gate | None = None) -> Task:
        """A new task that starts `delay` virtual seconds from now (held back while `gate` is paused)."""
        task = Task(self, name, target, gate)
        self._tasks[task.glet] = task
        ticket = self.next_ticket(task)
        self.call_later(delay, lambda: self.wake(task, ticket))
        return task

    def current(self) -> Task:
        """The running task (SimulationError from the hub: only tasks can block)."""
        task = self._tasks.get(greenlet.getcurrent())
        if task is None:
            raise SimulationError("a blocking call was made outside a simulated task")
        return task

    def current_or_none(self) -> Task | None:
        return self._tasks.get(greenlet.getcurrent())

    @staticmethod
    def next_ticket(task: Task) -> int:
        """A new ticket for the task's next park; wake-ups for older tickets are ignored."""
        task.ticket += 1
        return task.ticket

    def park(self, task: Task, ticket: int) -> Any:
        """Block the running task (which must be `task`) until `wake(task, ticket, value)`; returns value."""
        if task.ticket != ticket:
            raise SimulationError(f"{task.name} parked with a stale ticket")
        value = self.hub.switch()
        if isinstance(value, _Raise):
            raise value.error
        return value

    def wake(self, task: Task, ticket: int, value: Any = None) -> None:
        """Resume `task` with `value` if it is still parked on `ticket` (called from the hub)."""
        if task.done or task.ticket != ticket:
            return
        gate = task.gate
        if gate is not None and gate.paused:
            gate.held.append(lambda: self.wake(task, ticket, value))
            return
        task.ticket += 1  # this park is answered: later wake-ups for it are stale
        self._switch_into(task, value)

    def kill(self, task: Task, error: BaseException) -> None:
        """Raise `error` in `task` where it is parked (a crash); from the hub."""
        if task.done:
            return
        task.ticket += 1
        self._switch_into(task, _Raise(error))

    def _switch_into(self, task: Task, value: Any) -> None:
        if greenlet.getcurrent() is not self.hub:
            # a task woke another: let the hub do it, at this same instant
            self.call_at(self.now, lambda: self._switch_into(task, value))
            return
        task.glet.switch(value)
        if task.done:
            self._tasks.pop(task.glet, None)

    # -- blocking helpers for tasks -----------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Park the running task for `seconds` of virtual time."""
        task = self.current()
        ticket = self.next_ticket(task)
        self.call_later(max(0.0, seconds), lambda: self.wake(task, ticket))
        self.park(task, ticket)


class Gate:
    """Pauses a group of tasks (one simulated process): while paused, their wake-ups wait.

    A paused process runs no code: its timers fire and its replies arrive, but
    it resumes only at `resume()` (SIGSTOP and a GC pause look alike from outside).
    """

    __slots__ = ("paused", "held")

    def __init__(self) -> None:
        self.paused = False
        self.held: list[Callable[[], None]] = []

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        """From the hub: let the held wake-ups through, in the order they came."""
        self.paused = False
        held, self.held = self.held, []
        for wake in held:
            wake()


class _Raise:
    """A wake-up value that makes the parked task raise (see Kernel.kill)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class SimEvent:
    """threading.Event on virtual time: `wait` parks the task until set or timed out."""

    def __init__(self, kernel: Kernel, time_scale: Callable[[float], float] = lambda s: s) -> None:
        self._kernel = kernel
        self._flag = False
        self._waiters: list[tuple[Task, int]] = []
        self._time_scale = time_scale  # client-clock seconds -> virtual seconds

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        waiters, self._waiters = self._waiters, []
        for task, ticket in waiters:
            self._kernel.wake(task, ticket)

    def clear(self) -> None:
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        kernel = self._kernel
        task = kernel.current()
        ticket = kernel.next_ticket(task)
        self._waiters.append((task, ticket))
        if timeout is not None:
            kernel.call_later(self._time_scale(max(0.0, timeout)), lambda: kernel.wake(task, ticket))
        kernel.park(task, ticket)
        self._waiters = [(t, k) for t, k in self._waiters if not (t is task and k == ticket)]
        return self._flag


class SimLock:
    """A mutex between tasks (re-entrant for its owner when `reentrant`)."""

    def __init__(self, kernel: Kernel, *, reentrant: bool = False) -> None:
        self._kernel = kernel
        self._reentrant = reentrant
        self._owner: Task | str | None = None  # "hub": taken by a kernel callback, not a task
        self._depth = 0
        self._waiters: list[tuple[Task, int]] = []

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        kernel = self._kernel
        me = kernel.current_or_none()
        owner: Task | str = me if me is not None else "hub"
        while True:
            if self._owner is None:
                self._owner, self._depth = owner, 1
                return True
            if self._reentrant and self._owner is owner:
                self._depth += 1
                return True
            if me is None:
                raise SimulationError("a simulated lock is contended outside a task")
            if not blocking:
                return False
            ticket = kernel.next_ticket(me)
            self._waiters.append((me, ticket))
            kernel.park(me, ticket)

    def release(self) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        self._owner = None
        if self._waiters:
            task, ticket = self._waiters.pop(0)
            self._kernel.wake(task, ticket)

    def locked(self) -> bool:
        return self._owner is not None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
