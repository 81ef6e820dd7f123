"""mutex-graph: overlapping certain holds of a lock by different processes."""

from __future__ import annotations

import pytest

from harness.checker import check
from harness.errors import BadInput
from tests.unit.test_checker_builder import MS, History


def acquire(h: History, process: int, *, at_ms: int, token: int, validity_ms: int, lock: str = "L") -> History:
    h.invoke(process, "acquire", None, key=lock, at=at_ms * MS - MS // 2)
    return h.ok(process, "acquire", {"token": token, "validity_ms": validity_ms}, key=lock, at=at_ms * MS)


def release(h: History, process: int, *, at_ms: int, token: int, lock: str = "L") -> History:
    h.invoke(process, "release", {"token": token}, key=lock, at=at_ms * MS)
    return h.ok(process, "release", None, key=lock, at=at_ms * MS + 1)


def test_holds_one_after_another_are_exclusive() -> None:
    h = History()
    acquire(h, 0, at_ms=10, token=1, validity_ms=1000)
    release(h, 0, at_ms=20, token=1)
    acquire(h, 1, at_ms=30, token=2, validity_ms=1000)
    release(h, 1, at_ms=40, token=2)
    verdict = check(h.events, "mutex-graph")
    assert verdict.valid is True
    assert verdict.stats["holds"] == 2 and verdict.stats["max_simultaneous_holders"] == 1


def test_a_hold_ends_when_its_validity_runs_out() -> None:
    h = History()
    acquire(h, 0, at_ms=10, token=1, validity_ms=50)        # certain until 60 ms, never released
    acquire(h, 1, at_ms=70, token=2, validity_ms=1000)
    assert check(h.events, "mutex-graph").valid is True


def test_overlapping_holds_are_a_violation_naming_both() -> None:
    h = History()
    acquire(h, 0, at_ms=10, token=1, validity_ms=100)
    acquire(h, 1, at_ms=50, token=2, validity_ms=100)
    release(h, 0, at_ms=80, token=1)
    verdict = check(h.events, "mutex-graph")
    assert verdict.valid is False
    [anomaly] = verdict.anomalies
    assert anomaly.kind == "overlapping-holds"
    assert anomaly.indices == (1, 3)   # both acquire ok events
    assert [hold["process"] for hold in anomaly.details["holds"]] == [0, 1]
    assert anomaly.details["overlap"] == [50 * MS, 80 * MS]   # until process 0 invoked its release
    assert anomaly.details["holds"][0]["ended_by"] == "release"


def test_an_extend_prolongs_the_hold() -> None:
    h = History()
    acquire(h, 0, at_ms=10, token=1, validity_ms=50)
    h.invoke(0, "extend", {"token": 1}, key="L", at=40 * MS)
    h.ok(0, "extend", {"token": 1, "validity_ms": 100}, key="L", at=45 * MS)   # certain until 145 ms
    acquire(h, 1, at_ms=100, token=2, validity_ms=100)
    verdict = check(h.events, "mutex-graph")
    assert verdict.valid is False
    assert verdict.anomalies[0].details["overlap"] == [100 * MS, 145 * MS]


def test_an_extend_that_completed_after_the_hold_lapsed_does_not_prolong_it() -> None:
    """The hold was certain until 60 ms; an extend ok at 70 ms may have been granted after another
    client's acquire, so it is no proof of a continuous hold: process 1's hold from 100 ms is fine.
    (Break tried: in holds.certain_end, `if ok_time <= end:` -> `if True:`.)"""
    h = History()
    acquire(h, 0, at_ms=10, token=1, validity_ms=50)
    h.invoke(0, "extend", {"token": 1}, key="L", at=55 * MS)
    h.ok(0, "extend", {"token": 1, "validity_ms": 100}, key="L", at=70 * MS)   # 10 ms after the lapse
    acquire(h, 1, at_ms=100, token=2, validity_ms=100)
    verdict = check(h.events, "mutex-graph")
    assert verdict.valid is True and verdict.stats["holds"] == 2


def test_an_extend_completing_exactly_at_the_end_of_the_hold_still_prolongs_it() -> None:
    h = History()
    acquire(h, 0, at_ms=10, token=1, validity_ms=50)
    h.invoke(0, "extend", {"token": 1}, key="L", at=55 * MS)
    h.ok(0, "extend", {"token": 1, "validity_ms": 100}, key="L", at=60 * MS)   # certain until 160 ms
    acquire(h, 1, at_ms=100, token=2, validity_ms=100)
    verdict = check(h.events, "mutex-graph")
    assert verdict.valid is False
    assert verdict.anomalies[0].details["overlap"] == [100 * MS, 160 * MS]


def test_a_failed_or_unknown_acquire_is_no_hold() -> None:
    h = History()
    acquire(h, 0, at_ms=10, token=1, validity_ms=1000)
    h.invoke(1, "acquire", None, key="L", at=20 * MS).fail(1, "acquire", None, key="L", at=21 * MS)
    h.invoke(2, "acquire", None, key="L", at=22 * MS).info(2, "acquire", None, key="L", at=23 * MS)
    assert check(h.events, "mutex-graph").valid is True


def test_different_locks_do_not_conflict() -> None:
    h = History()
    acquire(h, 0, at_ms=10, token=1, validity_ms=1000, lock="A")
    acquire(h, 1, at_ms=20, token=1, validity_ms=1000, lock="B")
    assert check(h.events, "mutex-graph").valid is True


def test_the_largest_clique_is_the_most_simultaneous_holders() -> None:
    h = History()
    for process in range(3):
        acquire(h, process, at_ms=10 + process, token=process + 1, validity_ms=1000)
    acquire(h, 3, at_ms=2000, token=9, validity_ms=10)
    verdict = check(h.events, "mutex-graph")
    assert len(verdict.anomalies) == 3          # every pair of the three
    clique = verdict.stats["largest_clique"]
    assert clique["size"] == 3 and verdict.stats["max_simultaneous_holders"] == 3
    assert sorted(hold["process"] for hold in clique["holds"]) == [0, 1, 2]


def test_an_acquire_without_validity_is_bad_input() -> None:
    h = History().op(0, "acquire", None, {"token": 1}, key="L")
    with pytest.raises(BadInput, match="validity_ms") as raised:
        check(h.events, "mutex-graph")
    assert raised.value.field == "value.validity_ms"
