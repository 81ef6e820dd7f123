"""Events of a history and the operations they form.

An `Event` is one line of a history (see docs/design.md, "The history format"): an
`invoke`, or its completion `ok` / `fail` / `info` by the same process. An `Op`
pairs an invocation with its completion; checkers work on ops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from harness.errors import BadInput

EVENT_TYPES = ("invoke", "ok", "fail", "info")
COMPLETION_TYPES = ("ok", "fail", "info")
NEMESIS = "nemesis"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Event:
    """One history event.

    `time` is integer nanoseconds on a monotonic clock (for formats without
    times, the event's position: only the order matters to the checkers).
    `value` is the argument on `invoke` and the result on `ok`. `extra` holds the
    fields this schema does not know; checkers that do not know them ignore them.
    """

    index: int
    time: int
    process: int | str
    type: str
    f: str
    value: Any = None
    key: Any = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)

    @property
    def is_client(self) -> bool:
        return self.process != NEMESIS


@dataclass(frozen=True, slots=True)
class Op:
    """An invocation paired with its completion (if any).

    `type` is the completion's type; an invocation with no completion is
    `info`: it may have taken effect at any time after `start`, or never.
    `value` is the invocation's argument, `result` the completion's value.
    """

    process: int | str
    f: str
    key: Any
    value: Any
    result: Any
    type: str
    invoke: Event
    complete: Event | None

    @property
    def start(self) -> int:
        """When the operation was invoked (ns)."""
        return self.invoke.time

    @property
    def end(self) -> int | None:
        """When it certainly completed (ns); None for `info`: it may take effect any time later."""
        if self.type == "info" or self.complete is None:
            return None
        return self.complete.time

    @property
    def index(self) -> int:
        """The invocation's index: how anomalies name this op."""
        return self.invoke.index

    @property
    def indices(self) -> tuple[int, ...]:
        """The indices of the invocation and, if any, the completion."""
        if self.complete is None:
            return (self.invoke.index,)
        return (self.invoke.index, self.complete.index)


def pair_operations(events: Iterable[Event], *, source: str | None = None) -> list[Op]:
    """Pair each client invocation with the next completion of the same process.

    Returns the client ops (nemesis events excluded) in invocation order; an
    invocation never completed becomes an `info` op. Raises `BadInput` (naming
    `source` and the event's index) when a process invokes while its previous
    operation is still in flight, completes an operation it never invoked, or
    completes it at a time before its invocation.
    """
    ops: list[Op | None] = []
    in_flight: dict[int | str, tuple[int, Event]] = {}
    for event in events:
        if event.process == NEMESIS:
            continue
        if event.type == "invoke":
            pending = in_flight.get(event.process)
            if pending is not None:
                raise BadInput(source, (
                    f"process {event.process!r} invokes {event.f!r} (index {event.index}) while its "
                    f"{pending[1].f!r} invoked at index {pending[1].index} has not completed; "
                    "a process has at most one operation in flight"), field="process")
            in_flight[event.process] = (len(ops), event)
            ops.append(None)
            continue
        pending = in_flight.pop(event.process, None)
        if pending is None:
            raise BadInput(source, (
                f"process {event.process!r} completes {event.f!r} ({event.type}, index {event.index}) "
                "without a pending invocation"), field="process")
        slot, invoke = pending
        if event.time < invoke.time:
            raise BadInput(source, (
                f"completion at index {event.index} (time {event.time}) is earlier than its invocation "
                f"at index {invoke.index} (time {invoke.time})"), field="time")
        ops[slot] = Op(process=invoke.process, f=invoke.f, key=invoke.key, value=invoke.value,
                       result=event.value,
                       type=event.type, invoke=invoke, complete=event)
    for slot, invoke in in_flight.values():
        ops[slot] = Op(process=invoke.process, f=invoke.f, key=invoke.key, value=invoke.value,
                       result=None, type="info", invoke=invoke, complete=None)
    return [op for op in ops if op is not None]


def nemesis_events(events: Iterable[Event]) -> list[Event]:
    """The fault events (process "nemesis"), in history order."""
    return [event for event in events if event.process == NEMESIS]
