"""resource: accepted uses of the fenced resource are exclusive and never go back to older tokens."""

from __future__ import annotations

from harness.checker import check
from tests.unit.test_checker_builder import History


def use(h: History, process: int, token: int, *, start: int, end: int, kind: str = "ok",
        resource: str = "r") -> History:
    h.invoke(process, "use", {"token": token, "resource": resource}, key="L", at=start)
    if kind == "ok":
        return h.ok(process, "use", {"token": token}, key="L", at=end)
    return h.fail(process, "use", {"token": token, "rejected": "stale token", "highest": 99}, key="L", at=end)


def test_sequential_uses_with_growing_tokens_are_valid() -> None:
    h = History()
    use(h, 0, 1, start=1, end=2)
    use(h, 0, 1, start=3, end=4)
    use(h, 1, 2, start=5, end=6)
    verdict = check(h.events, "resource")
    assert verdict.valid is True and verdict.stats["accepted_uses"] == 3


def test_overlapping_uses_by_different_holds_are_concurrent_use() -> None:
    h = History()
    use(h, 0, 1, start=1, end=10)
    use(h, 1, 2, start=5, end=12)
    verdict = check(h.events, "resource")
    assert verdict.valid is False
    [anomaly] = verdict.anomalies
    assert anomaly.kind == "concurrent-use"
    assert anomaly.indices == (0, 1, 2, 3)
    assert [u["token"] for u in anomaly.details["uses"]] == [1, 2]


def test_a_stale_token_accepted_after_a_newer_one_is_an_anomaly() -> None:
    h = History()
    use(h, 1, 5, start=1, end=2)
    use(h, 0, 3, start=3, end=4)
    verdict = check(h.events, "resource")
    assert [a.kind for a in verdict.anomalies] == ["stale-token-accepted"]
    assert "accepted token 3" in verdict.anomalies[0].message


def test_a_rejected_stale_use_is_the_fence_working() -> None:
    h = History()
    use(h, 1, 5, start=1, end=2)
    use(h, 0, 3, start=3, end=4, kind="fail")
    use(h, 0, 3, start=5, end=14, kind="fail", resource="other")
    verdict = check(h.events, "resource")
    assert verdict.valid is True and verdict.stats["rejected_uses"] == 2


def test_different_resources_do_not_conflict() -> None:
    h = History()
    use(h, 0, 1, start=1, end=10, resource="a")
    use(h, 1, 2, start=5, end=12, resource="b")
    assert check(h.events, "resource").valid is True
