"""queue: double hold, double consume, lost, phantom; ordering inversions as warnings."""

from __future__ import annotations

from typing import Any

from harness.checker import check
from tests.unit.test_checker_builder import MS, History

Q = "q"


class QueueHistory(History):
    """Queue ops with times in ms."""

    def put(self, process: int, item: str, *, at: int, done: int, priority: int = 0,
            kind: str = "ok") -> "QueueHistory":
        self.invoke(process, "put", {"item": item, "priority": priority}, key=Q, at=at * MS)
        result: Any = {"item": item, "id": f"id-{item}"} if kind == "ok" else None
        self._add(process, kind, "put", result, Q, done * MS)
        return self

    def get(self, process: int, item: str | None, *, at: int, done: int, token: int = 1,
            validity_ms: int = 1000) -> "QueueHistory":
        self.invoke(process, "get", {"ttl_ms": validity_ms}, key=Q, at=at * MS)
        result = None if item is None else {"item": item, "id": f"id-{item}", "token": token,
                                            "validity_ms": validity_ms}
        self.ok(process, "get", result, key=Q, at=done * MS)
        return self

    def finish(self, process: int, f: str, item: str, *, at: int, done: int, token: int = 1,
               kind: str = "ok") -> "QueueHistory":
        self.invoke(process, f, {"item": item, "id": f"id-{item}", "token": token}, key=Q, at=at * MS)
        self._add(process, kind, f, {"item": item} if kind == "ok" else None, Q, done * MS)
        return self

    def extend(self, process: int, item: str, *, at: int, done: int, token: int, validity_ms: int) -> "QueueHistory":
        self.invoke(process, "extend", {"item": item, "id": f"id-{item}", "token": token}, key=Q, at=at * MS)
        self.ok(process, "extend", {"item": item, "token": token, "validity_ms": validity_ms}, key=Q, at=done * MS)
        return self

    def drain(self, process: int, *, at: int, size: int = 0) -> "QueueHistory":
        self.invoke(process, "drain", None, key=Q, at=at * MS)
        self.ok(process, "drain", {"size": size}, key=Q, at=at * MS + 1)
        return self


def kinds(h: History) -> tuple[list[str], list[str]]:
    verdict = check(h.events, "queue")
    return [a.kind for a in verdict.anomalies], [w.kind for w in verdict.warnings]


def test_a_clean_run_with_drain_is_valid() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2).put(0, "b", at=3, done=4)
         .get(1, "a", at=5, done=6).finish(1, "consume", "a", at=7, done=8)
         .get(1, "b", at=9, done=10).finish(1, "consume", "b", at=11, done=12)
         .get(9, None, at=13, done=14).drain(9, at=15))
    verdict = check(h.events, "queue")
    assert verdict.valid is True and verdict.warnings == ()
    assert verdict.stats["delivered_items"] == 2 and verdict.stats["drained"] is True


def test_an_item_held_by_two_consumers_at_once_is_a_double_hold() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2)
         .get(1, "a", at=3, done=4, token=1, validity_ms=100)
         .get(2, "a", at=50, done=51, token=2, validity_ms=100))
    verdict = check(h.events, "queue")
    assert [a.kind for a in verdict.anomalies] == ["double-hold"]
    assert verdict.anomalies[0].details["item"] == "a"
    assert sorted(hold["token"] for hold in verdict.anomalies[0].details["holds"]) == [1, 2]


def test_redelivery_after_the_hold_expired_or_was_released_is_fine() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2)
         .get(1, "a", at=3, done=4, token=1, validity_ms=10)         # expires at 14 ms
         .get(2, "a", at=20, done=21, token=2, validity_ms=100)
         .finish(2, "release", "a", at=30, done=31, token=2)
         .get(3, "a", at=40, done=41, token=3))
    assert kinds(h) == ([], [])


def test_an_extend_prolongs_the_hold_of_an_item() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2)
         .get(1, "a", at=3, done=4, token=1, validity_ms=10)
         .extend(1, "a", at=8, done=9, token=1, validity_ms=100)      # now held until 109 ms
         .get(2, "a", at=50, done=51, token=2))
    assert kinds(h)[0] == ["double-hold"]


def test_an_extend_that_completed_after_the_hold_lapsed_does_not_prolong_it() -> None:
    """Break tried: in holds.certain_end, `if ok_time <= end:` -> `if True:`."""
    h = (QueueHistory().put(0, "a", at=1, done=2)
         .get(1, "a", at=3, done=4, token=1, validity_ms=10)         # certain until 14 ms
         .extend(1, "a", at=12, done=20, token=1, validity_ms=100)   # ok 6 ms after the lapse: no proof
         .get(2, "a", at=50, done=51, token=2))
    assert kinds(h)[0] == []


def test_an_item_consumed_twice_is_a_double_consume() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2)
         .get(1, "a", at=3, done=4, token=1, validity_ms=10).finish(1, "consume", "a", at=20, done=21, token=1)
         .get(2, "a", at=15, done=16, token=2, validity_ms=100).finish(2, "consume", "a", at=30, done=31, token=2))
    assert kinds(h)[0] == ["double-consume"]


def test_an_acknowledged_put_never_delivered_is_lost_after_a_drain() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2).put(0, "b", at=3, done=4)
         .get(1, "a", at=5, done=6).finish(1, "consume", "a", at=7, done=8).drain(9, at=20))
    verdict = check(h.events, "queue")
    assert [a.kind for a in verdict.anomalies] == ["lost"]
    assert verdict.anomalies[0].details["item"] == "b"


def test_without_a_drain_an_undelivered_put_is_only_a_warning() -> None:
    h = QueueHistory().put(0, "a", at=1, done=2)
    assert kinds(h) == ([], ["lost-unjudged"])


def test_an_unacknowledged_put_may_be_missing() -> None:
    h = QueueHistory().put(0, "a", at=1, done=2, kind="info").put(1, "b", at=3, done=4, kind="fail").drain(9, at=9)
    assert kinds(h) == ([], [])


def test_an_item_never_put_is_a_phantom() -> None:
    h = QueueHistory().put(0, "a", at=1, done=2).get(1, "zzz", at=3, done=4)
    verdict = check(h.events, "queue")
    assert [a.kind for a in verdict.anomalies] == ["phantom"]
    assert verdict.anomalies[0].details["reason"] == "never put"


def test_an_item_of_a_failed_put_or_delivered_before_its_put_is_a_phantom() -> None:
    h = QueueHistory().put(0, "a", at=1, done=2, kind="fail").get(1, "a", at=3, done=4)
    assert kinds(h)[0] == ["phantom"]
    h = QueueHistory().get(1, "a", at=1, done=2).put(0, "a", at=3, done=4)
    verdict = check(h.events, "queue")
    assert verdict.anomalies[0].details["reason"] == "delivered before its put was invoked"


def test_an_unknown_put_may_be_delivered() -> None:
    h = QueueHistory().put(0, "a", at=1, done=2, kind="info").get(1, "a", at=3, done=4)
    assert kinds(h)[0] == []


def test_an_ordering_inversion_is_a_warning_not_a_violation() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2).put(0, "b", at=3, done=4)
         .get(1, "b", at=5, done=6).get(2, "a", at=7, done=8))
    verdict = check(h.events, "queue")
    assert verdict.valid is True
    assert [w.kind for w in verdict.warnings] == ["ordering-inversion"]
    assert verdict.warnings[0].details["earlier_item"] == "a"


def test_no_inversion_across_priorities_or_for_concurrent_puts() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2, priority=0).put(0, "b", at=3, done=4, priority=5)
         .get(1, "b", at=5, done=6).get(2, "a", at=7, done=8))
    assert kinds(h) == ([], [])
    h = (QueueHistory().invoke(0, "put", {"item": "a", "priority": 0}, key=Q, at=1)
         .invoke(1, "put", {"item": "b", "priority": 0}, key=Q, at=2)
         .ok(0, "put", {"item": "a", "id": "1"}, key=Q, at=3).ok(1, "put", {"item": "b", "id": "2"}, key=Q, at=4)
         .get(2, "b", at=5, done=6).get(3, "a", at=7, done=8))
    assert kinds(h) == ([], [])


def test_delivered_but_never_consumed_after_a_drain_is_a_warning() -> None:
    h = (QueueHistory().put(0, "a", at=1, done=2).get(1, "a", at=3, done=4)
         .invoke(1, "crash", {"item": "a"}, key=Q, at=5 * MS).info(1, "crash", None, key=Q, at=5 * MS + 1)
         .drain(9, at=20))
    assert kinds(h) == ([], ["never-consumed"])


def test_a_queue_not_empty_after_the_drain_is_a_warning() -> None:
    h = QueueHistory().put(0, "a", at=1, done=2).get(1, "a", at=3, done=4).finish(1, "consume", "a", at=5, done=6) \
        .drain(9, at=20, size=2)
    assert kinds(h) == ([], ["drain-not-empty"])
