"""fencing: acquisitions ordered in real time must get increasing tokens."""

from __future__ import annotations

from harness.checker import check
from tests.unit.test_checker_builder import History


def acquisition(h: History, process: int, token: int, *, start: int, end: int, lock: str = "L") -> History:
    h.invoke(process, "acquire", None, key=lock, at=start)
    return h.ok(process, "acquire", {"token": token, "validity_ms": 1000}, key=lock, at=end)


def test_increasing_tokens_are_valid() -> None:
    h = History()
    acquisition(h, 0, 1, start=1, end=2)
    acquisition(h, 1, 2, start=3, end=4)
    acquisition(h, 2, 3, start=5, end=6)
    verdict = check(h.events, "fencing")
    assert verdict.valid is True and verdict.stats["acquisitions"] == 3


def test_concurrent_acquisitions_may_get_tokens_in_either_order() -> None:
    h = History()
    h.invoke(0, "acquire", None, key="L", at=1).invoke(1, "acquire", None, key="L", at=2)
    h.ok(1, "acquire", {"token": 5, "validity_ms": 10}, key="L", at=3)
    h.ok(0, "acquire", {"token": 4, "validity_ms": 10}, key="L", at=4)
    assert check(h.events, "fencing").valid is True


def test_touching_acquisitions_count_as_concurrent() -> None:
    h = History()
    acquisition(h, 0, 2, start=1, end=5)
    acquisition(h, 1, 1, start=5, end=6)   # invoked at the very instant the other completed
    assert check(h.events, "fencing").valid is True


def test_a_later_acquisition_with_a_lower_token_is_a_cycle() -> None:
    h = History()
    acquisition(h, 0, 1, start=1, end=2)
    acquisition(h, 1, 7, start=3, end=4)
    acquisition(h, 2, 5, start=10, end=11)   # after token 7 was granted, got 5
    verdict = check(h.events, "fencing")
    assert verdict.valid is False
    [anomaly] = verdict.anomalies
    assert anomaly.kind == "token-order"
    assert sorted(step["token"] for step in anomaly.details["cycle"]) == [5, 7]
    assert anomaly.details["pairs"] == [{"earlier": 2, "earlier_token": 7, "later": 4, "later_token": 5}]
    assert anomaly.indices == (2, 3, 4, 5)
    assert "got token 5, not greater than token 7" in anomaly.message


def test_a_cycle_through_several_acquisitions_is_reported_once_per_component() -> None:
    h = History()
    acquisition(h, 0, 10, start=1, end=2)
    acquisition(h, 1, 3, start=3, end=4)
    acquisition(h, 2, 4, start=5, end=6)
    verdict = check(h.events, "fencing")
    assert verdict.valid is False
    [anomaly] = verdict.anomalies
    assert anomaly.details["pair_count"] == 2   # 10 before 3, and 10 before 4
    assert verdict.stats["cycles"] == 1


def test_the_same_token_twice_is_a_duplicate() -> None:
    h = History()
    acquisition(h, 0, 4, start=1, end=2)
    acquisition(h, 1, 4, start=3, end=4)
    verdict = check(h.events, "fencing")
    assert [a.kind for a in verdict.anomalies] == ["duplicate-token"]
    assert verdict.anomalies[0].details["token"] == 4


def test_locks_are_independent_and_failed_acquires_ignored() -> None:
    h = History()
    acquisition(h, 0, 9, start=1, end=2, lock="A")
    acquisition(h, 1, 1, start=3, end=4, lock="B")
    h.invoke(2, "acquire", None, key="A", at=5).fail(2, "acquire", None, key="A", at=6)
    assert check(h.events, "fencing").valid is True
