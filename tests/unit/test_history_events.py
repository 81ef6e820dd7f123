"""Pairing invocations with completions, and the nemesis events."""

from __future__ import annotations

import pytest

from harness.errors import BadInput
from harness.history.events import Event, nemesis_events, pair_operations
from tests.unit.test_checker_builder import History


def test_pairs_each_invocation_with_the_next_completion_of_its_process() -> None:
    h = (History().invoke(0, "write", 1).invoke(1, "read").ok(1, "read", None)
         .fail(0, "write", 1).invoke(1, "cas", [1, 2]).info(1, "cas", "timed-out"))
    ops = pair_operations(h.events)
    assert [(op.process, op.f, op.type) for op in ops] == [(0, "write", "fail"), (1, "read", "ok"),
                                                           (1, "cas", "info")]
    write, read, cas = ops
    assert (write.value, write.result, write.start, write.end) == (1, 1, 1, 4)
    assert read.indices == (1, 2)
    assert cas.end is None and cas.result == "timed-out"  # info: may take effect any time later


def test_an_invocation_without_completion_is_info_with_no_end() -> None:
    h = History().invoke(0, "write", 1).op(1, "read", None, 1).invoke(2, "read")
    ops = pair_operations(h.events)
    assert [op.type for op in ops] == ["info", "ok", "info"]
    assert ops[0].complete is None and ops[0].end is None and ops[0].start == 1
    assert ops[2].indices == (3,)


def test_ops_come_in_invocation_order_and_keep_their_key() -> None:
    h = History().invoke(0, "get", key="a").invoke(1, "put", "x", key="b").ok(1, "put", "x", key="b") \
        .ok(0, "get", "", key="a")
    assert [(op.process, op.key) for op in pair_operations(h.events)] == [(0, "a"), (1, "b")]


def test_nemesis_events_are_not_ops() -> None:
    h = (History().nemesis("partition-halves", {"phase": "start", "fault_id": 0})
         .op(0, "write", 1).nemesis("partition-halves", {"phase": "stop", "fault_id": 0}))
    assert len(pair_operations(h.events)) == 1
    assert [e.value["phase"] for e in nemesis_events(h.events)] == ["start", "stop"]


def test_a_process_invoking_twice_concurrently_is_bad_input() -> None:
    h = History().invoke(0, "write", 1).invoke(0, "read")
    with pytest.raises(BadInput) as raised:
        pair_operations(h.events, source="h.jsonl")
    assert raised.value.path == "h.jsonl" and raised.value.field == "process"
    assert "in flight" in raised.value.reason


def test_a_completion_without_invocation_is_bad_input() -> None:
    with pytest.raises(BadInput, match="without a pending invocation"):
        pair_operations([Event(index=0, time=0, process=3, type="ok", f="read", value=1)])


def test_a_completion_before_its_invocation_is_bad_input() -> None:
    events = [Event(index=0, time=9, process=0, type="invoke", f="read"),
              Event(index=1, time=3, process=0, type="ok", f="read", value=1)]
    with pytest.raises(BadInput, match="earlier than its invocation"):
        pair_operations(events)
