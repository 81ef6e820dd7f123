"""A small builder of hand-made histories for the checker tests (and its own tests).

`History().invoke(0, "write", 1).ok(0, "write", 1)` appends events with
increasing indices; times advance by 1 per event unless given (`at=`, ns).
"""

from __future__ import annotations

from typing import Any

from harness.history.events import Event, pair_operations

MS = 1_000_000  # ns


class History:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._time = 0

    def _add(self, process: int | str, kind: str, f: str, value: Any, key: Any, at: int | None) -> "History":
        self._time = self._time + 1 if at is None else at
        self.events.append(Event(index=len(self.events), time=self._time, process=process, type=kind,
                                 f=f, value=value, key=key))
        return self

    def invoke(self, process: int | str, f: str, value: Any = None, *, key: Any = None,
               at: int | None = None) -> "History":
        return self._add(process, "invoke", f, value, key, at)

    def ok(self, process: int | str, f: str, value: Any = None, *, key: Any = None,
           at: int | None = None) -> "History":
        return self._add(process, "ok", f, value, key, at)

    def fail(self, process: int | str, f: str, value: Any = None, *, key: Any = None,
             at: int | None = None) -> "History":
        return self._add(process, "fail", f, value, key, at)

    def info(self, process: int | str, f: str, value: Any = None, *, key: Any = None,
             at: int | None = None) -> "History":
        return self._add(process, "info", f, value, key, at)

    def op(self, process: int | str, f: str, value: Any = None, result: Any = "same", *,
           type: str = "ok", key: Any = None, start: int | None = None, end: int | None = None) -> "History":
        """An invocation immediately followed by its completion (no concurrency)."""
        self.invoke(process, f, value, key=key, at=start)
        return self._add(process, type, f, value if result == "same" else result, key, end)

    def nemesis(self, f: str, value: Any, *, at: int | None = None) -> "History":
        return self._add("nemesis", "info", f, value, None, at)


def test_builder_pairs_what_it_builds() -> None:
    h = History().invoke(0, "write", 1).invoke(1, "read").ok(0, "write", 1).ok(1, "read", 1)
    ops = pair_operations(h.events)
    assert [(op.process, op.f, op.start, op.end) for op in ops] == [(0, "write", 1, 3), (1, "read", 2, 4)]


def test_builder_op_uses_the_value_as_result_unless_given() -> None:
    h = History().op(0, "write", 5).op(0, "read", None, 5)
    ops = pair_operations(h.events)
    assert [op.result for op in ops] == [5, 5]
