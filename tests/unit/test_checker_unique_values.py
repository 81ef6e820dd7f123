"""The unique-values register checker: hand-made anomalies of every kind, the fallback to
WGL, and agreement with the WGL search on thousands of random small histories."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.checker import check
from harness.checker.unique_values import KINDS
from harness.checker.verdict import Verdict
from harness.errors import BadInput
from harness.history.events import Event
from tests.unit.test_checker_builder import History


def fast(h: History | list[Event], model: str = "register", **options: Any) -> Verdict:
    events = h.events if isinstance(h, History) else h
    verdict = check(events, model, **options)
    assert verdict.stats["algorithm"] == "unique-values"
    assert verdict.valid is check(events, model, algorithm="wgl", **options).valid, "WGL disagrees"
    return verdict


def only(verdict: Verdict) -> Any:
    assert verdict.valid is False
    [anomaly] = verdict.anomalies
    assert anomaly.kind in KINDS
    return anomaly


# ------------------------------------------------------------------ valid histories

def test_sequential_and_concurrent_histories_are_valid() -> None:
    h = History().op(0, "read", None, None).op(0, "write", 1).op(1, "read", None, 1).op(1, "write", 2) \
        .op(0, "read", None, 2)
    assert fast(h).valid is True
    for seen in (1, 2):  # a read concurrent with a write may see either value
        h = History().op(0, "write", 1).invoke(0, "write", 2).invoke(1, "read").ok(1, "read", seen) \
            .ok(0, "write", 2)
        assert fast(h).valid is True


def test_ops_whose_ends_touch_are_concurrent() -> None:
    # the write ends at t=10 when the read begins: the read may still see the value before it
    h = History().op(0, "write", 1, start=1, end=2).op(0, "write", 2, start=5, end=10) \
        .op(1, "read", None, 1, start=10, end=12)
    assert fast(h).valid is True
    h = History().op(0, "write", 1, start=1, end=2).op(0, "write", 2, start=5, end=10) \
        .op(1, "read", None, 1, start=11, end=12)
    assert fast(h).valid is False


def test_unobserved_info_writes_are_dropped_and_observed_ones_kept() -> None:
    h = (History().op(0, "write", 1).op(0, "write", 2, "timed-out", type="info").invoke(1, "write", 3)
         .op(2, "read", None, 1).op(2, "write", 4, "timed-out", type="info").op(2, "read", None, 4))
    verdict = fast(h)
    assert verdict.valid is True
    assert verdict.stats["unobserved_info_dropped"] == 2       # writes 2 and 3
    assert verdict.stats["dropped_ops"] == 2
    assert verdict.stats["checked_ops"] == 4


def test_an_info_write_takes_effect_at_most_once() -> None:
    h = History().op(0, "write", 1).op(0, "write", 2, type="info").op(1, "read", None, 2) \
        .op(1, "read", None, 1)
    assert only(fast(h)).kind == "non-monotonic-reads"


def test_unknown_and_failed_reads_constrain_nothing() -> None:
    h = History().op(0, "write", 1).op(1, "read", None, 99, type="info").op(1, "read", None, 42, type="fail") \
        .invoke(2, "read")
    verdict = fast(h)
    assert verdict.valid is True and verdict.stats["dropped_ops"] == 3


def test_init_option_is_the_value_before_any_write() -> None:
    assert fast(History().op(0, "read", None, 0).op(0, "write", 1), init=0).valid is True
    assert fast(History().op(0, "read", None, None), init=0).valid is False


# ------------------------------------------------------------------ anomalies, one of each kind

def test_read_of_a_value_never_written() -> None:
    h = History().op(0, "write", 1).op(1, "read", None, 7)
    anomaly = only(fast(h))
    assert anomaly.kind == "read-of-unwritten-value"
    assert anomaly.indices == (2, 3)
    assert anomaly.details["cannot_linearize"] == [2]
    assert "no op wrote it" in anomaly.message
    h = History().op(0, "write", 1).op(0, "write", 7, type="fail").op(1, "read", None, 7)
    assert "only a failed write (index 2)" in only(fast(h)).message


def test_read_from_the_future() -> None:
    h = History().op(1, "read", None, 5).op(0, "write", 5)
    anomaly = only(fast(h))
    assert anomaly.kind == "read-from-future"
    assert anomaly.details["cannot_linearize"] == [0, 2]
    assert anomaly.indices == (0, 1, 2, 3)
    # an info write cannot take effect before its invocation either
    h = History().op(1, "read", None, 2).op(0, "write", 2, "timed-out", type="info")
    assert only(fast(h)).kind == "read-from-future"


def test_stale_read() -> None:
    # write 2 completed (and a concurrent read saw it) before a read began that returned 1
    h = (History().op(0, "write", 1).invoke(1, "read").op(0, "write", 2).op(2, "read", None, 1)
         .ok(1, "read", 2))
    anomaly = only(fast(h))
    assert anomaly.kind == "stale-read"
    assert anomaly.details["cannot_linearize"] == [0, 3, 5]   # write 1, write 2, the stale read
    assert anomaly.indices == (0, 1, 3, 4, 5, 6)
    assert anomaly.message == ("key None: read 1 (index 5, process 2) returned 1 although write 2 (index 3, "
                               "process 0) had replaced it before it began")


def test_stale_read_of_the_initial_value() -> None:
    h = History().invoke(1, "read").op(0, "write", 1).op(2, "read", None, None).ok(1, "read", 1)
    anomaly = only(fast(h))
    assert anomaly.kind == "stale-read"
    assert "the initial value absent (null) held from the start" in anomaly.details["explanation"]
    assert anomaly.details["cannot_linearize"] == [1, 3]


def test_lost_write() -> None:
    h = History().op(0, "write", 1).op(1, "read", None, 1).op(0, "write", 2).op(1, "read", None, 1)
    anomaly = only(fast(h))
    assert anomaly.kind == "lost-write"
    assert "no op ever observed value 2" in anomaly.message
    assert anomaly.details["cannot_linearize"] == [0, 4, 6]    # write 1, write 2, the last read


def test_non_monotonic_reads() -> None:
    h = History().op(0, "write", 1).op(0, "write", 2).op(1, "read", None, 2).op(2, "read", None, 1)
    anomaly = only(fast(h))
    assert anomaly.kind == "non-monotonic-reads"
    assert "read 2 (index 4, process 1) returned 2; then read 1 (index 6" in anomaly.message
    h = (History().invoke(0, "write", 1).invoke(1, "write", 2).op(2, "read", None, 1).op(2, "read", None, 2)
         .op(2, "read", None, 1).ok(0, "write", 1).ok(1, "write", 2))
    anomaly = only(fast(h))
    assert anomaly.kind == "non-monotonic-reads"
    assert {4, 6} <= set(anomaly.details["cannot_linearize"])


def test_cycle_each_value_written_before_the_other() -> None:
    # both writes complete, then two concurrent reads disagree on which came last
    h = (History().invoke(0, "write", 1).invoke(1, "write", 2).ok(0, "write", 1).ok(1, "write", 2)
         .invoke(2, "read").invoke(3, "read").ok(2, "read", 1).ok(3, "read", 2))
    anomaly = only(fast(h))
    assert anomaly.kind == "cycle"
    assert "value 1 and value 2 were each written before the other" in anomaly.message
    assert anomaly.details["cannot_linearize"] == [0, 1, 4, 5]


def test_several_anomalies_are_all_reported_with_their_keys() -> None:
    h = (History().op(0, "write", 1, key="a").op(1, "read", None, 9, key="a").op(0, "write", 1, key="b")
         .op(0, "write", 2, key="b").op(1, "read", None, 1, key="b"))
    verdict = fast(h)
    assert sorted((a.details["key"], a.kind) for a in verdict.anomalies) == [
        ("a", "read-of-unwritten-value"), ("b", "lost-write")]


def test_the_explanation_names_every_op_with_its_times() -> None:
    h = History().op(0, "write", 1).op(0, "write", 2).op(1, "read", None, 1)
    anomaly = only(fast(h))
    explanation = anomaly.details["explanation"]
    lines = explanation.splitlines()
    assert lines[0].startswith("Not linearizable (register, key None): lost-write")
    assert lines[1].strip() == anomaly.message.split(": ", 1)[1] + "."
    for index in anomaly.details["cannot_linearize"]:
        assert f"index {index}," in explanation
    assert "t=3..4" in explanation and anomaly.details["prefix"] == []


def test_anomalies_beyond_the_listing_limit_are_counted() -> None:
    h = History().op(0, "write", 1)
    for n in range(30):
        h.op(1, "read", None, 100 + n)
    verdict = fast(h)
    assert len(verdict.anomalies) == 20
    assert verdict.stats["unlisted_anomalies"] == 10


# ------------------------------------------------------------------ cas-register

def test_cas_chains_are_valid_in_order() -> None:
    h = (History().op(0, "write", 1).op(1, "cas", [1, 2]).op(2, "read", None, 2).op(0, "cas", [2, 3])
         .op(1, "cas", [3, 4], type="fail").op(2, "read", None, 3).op(0, "cas", [None, 9], type="fail"))
    assert fast(h, "cas-register").valid is True


def test_cas_from_the_initial_value() -> None:
    h = History().op(0, "cas", [None, 1]).op(1, "read", None, 1)
    assert fast(h, "cas-register").valid is True
    h = History().op(0, "write", 5).op(0, "cas", [None, 1]).op(1, "read", None, 1)
    assert fast(h, "cas-register").valid is False


def test_cas_of_a_value_never_written() -> None:
    anomaly = only(fast(History().op(0, "write", 1).op(0, "cas", [3, 2]), "cas-register"))
    assert anomaly.kind == "read-of-unwritten-value" and "expected 3" in anomaly.message
    # an info cas whose value was read took effect, so its expected value must have held
    h = History().op(0, "write", 1).op(0, "cas", [5, 6], type="info").op(1, "read", None, 6)
    assert only(fast(h, "cas-register")).kind == "read-of-unwritten-value"


def test_a_value_replaced_by_two_cas() -> None:
    h = History().op(0, "write", 1).op(1, "cas", [1, 2]).op(2, "cas", [1, 3])
    anomaly = only(fast(h, "cas-register"))
    assert anomaly.kind == "duplicate-cas"
    assert set(anomaly.details["cannot_linearize"]) == {0, 2, 4}


def test_cas_ops_replacing_each_other_in_a_ring() -> None:
    h = History().op(0, "cas", [2, 1]).op(1, "cas", [1, 2])
    anomaly = only(fast(h, "cas-register"))
    assert anomaly.kind == "cycle" and "ring" in anomaly.message


def test_info_cas_observed_through_a_chain_of_info_cas() -> None:
    h = (History().op(0, "write", 1).op(1, "cas", [1, 2], type="info").op(2, "cas", [2, 3], type="info")
         .op(3, "read", None, 3).op(4, "cas", [3, 4], type="info"))
    verdict = fast(h, "cas-register")
    assert verdict.valid is True and verdict.stats["unobserved_info_dropped"] == 1
    h.op(3, "read", None, 1)   # 1 was replaced (through 2) before this read began, and 3 was read
    anomaly = only(fast(h, "cas-register"))
    assert anomaly.kind == "non-monotonic-reads"
    assert "read 3 (index 6, process 3) returned 3; then read 1 (index 10" in anomaly.message


def test_a_read_after_the_cas_that_replaced_its_value_is_stale() -> None:
    h = History().op(0, "write", 1).op(1, "cas", [1, 2]).op(2, "read", None, 1)
    anomaly = only(fast(h, "cas-register"))
    assert anomaly.kind == "stale-read"
    assert anomaly.details["cannot_linearize"] == [2, 4]


def test_a_read_through_a_cas_chain_cannot_go_back() -> None:
    h = History().op(0, "write", 1).invoke(1, "cas", [1, 2]).op(2, "read", None, 2).op(2, "read", None, 1) \
        .ok(1, "cas", [1, 2])
    assert only(fast(h, "cas-register")).kind == "non-monotonic-reads"


def test_a_cas_cannot_expect_a_value_written_after_it_completed() -> None:
    h = History().op(1, "cas", [1, 2]).op(0, "write", 1).op(2, "read", None, 2)
    assert only(fast(h, "cas-register")).kind == "read-from-future"


# ------------------------------------------------------------------ fallback and options

def test_repeated_values_fall_back_to_wgl_and_say_why() -> None:
    h = History().op(0, "write", 1).op(0, "write", 1).op(1, "read", None, 1)
    verdict = check(h.events, "register")
    assert verdict.valid is True
    assert verdict.stats["algorithm"] == "wgl"
    assert verdict.stats["wgl_because"] == {"None": "the value 1 is written twice (index 0 and 2)"}
    h = History().op(0, "write", None).op(1, "read", None, None)
    assert "the initial value" in check(h.events, "register").stats["wgl_because"]["None"]


def test_keys_are_decided_each_by_its_own_algorithm() -> None:
    h = (History().op(0, "write", 1, key="a").op(0, "write", 1, key="a").op(0, "write", 1, key="b")
         .op(0, "write", 2, key="b").op(1, "read", None, 1, key="b"))
    verdict = check(h.events, "register")
    assert verdict.stats["algorithm"] == "unique-values+wgl"
    assert [a.details["key"] for a in verdict.anomalies] == ["b"]
    assert verdict.stats["unchecked_keys"] == ["a"]    # the verdict is False already


def test_declared_unique_values_that_repeat_are_bad_input() -> None:
    h = History().op(0, "write", 1, key="k").op(0, "write", 1, key="k")
    with pytest.raises(BadInput, match="key 'k': the value 1 is written twice .* declared unique"):
        check(h.events, "register", algorithm="unique-values")
    assert check(h.events, "register").valid is True   # undeclared: WGL decides


def test_the_algorithm_option_is_checked() -> None:
    h = History().op(0, "write", 1)
    with pytest.raises(BadInput, match="algorithm must be one of auto, unique-values, wgl"):
        check(h.events, "register", algorithm="fast")
    with pytest.raises(BadInput, match="applies to register, cas-register, not 'kv'"):
        check(h.events, "kv", algorithm="auto")
    assert check(h.events, "register", algorithm="wgl").stats["algorithm"] == "wgl"


# ------------------------------------------------------------------ agreement with WGL

@st.composite
def random_histories(draw: st.DrawFn, with_cas: bool) -> list[Event]:
    """Up to 9 ops, one process each, at random small integer times (many ties), with
    every outcome: ok, fail, info, and no completion at all. Written values are 1, 2, ...;
    reads return (and cas expect) mostly one of them or the initial value, so the
    histories are often valid, and invalid in every way."""
    fs = ["read", "write", "cas"] if with_cas else ["read", "write"]
    drawn = []
    for process in range(draw(st.integers(1, 9))):
        f = draw(st.sampled_from(fs))
        begin = draw(st.integers(0, 12))
        finish = begin + draw(st.integers(0, 6))
        outcome = draw(st.sampled_from(["ok", "ok", "ok", "ok", "info", "crash", "fail"]))
        drawn.append((process, f, begin, finish, outcome))
    written = sum(f != "read" for _, f, _, _, _ in drawn)
    seen = st.one_of(st.sampled_from([None, 0, *range(1, written + 1)]), st.just(99))
    timeline: list[tuple[int, int, int, str, str, Any]] = []
    value = 0
    for process, f, begin, finish, outcome in drawn:
        arg: Any = None
        if f != "read":
            value += 1
            arg = value if f == "write" else [draw(seen), value]
        timeline.append((begin, 0, process, "invoke", f, arg))
        if outcome != "crash":
            timeline.append((finish, 1, process, outcome, f, draw(seen) if f == "read" else arg))
    timeline.sort()
    return [Event(index=i, time=t, process=p, type=kind, f=f, value=v)
            for i, (t, _, p, kind, f, v) in enumerate(timeline)]


def simulated(rng: random.Random, with_cas: bool, operations: int) -> list[Event]:
    """A linearizable execution with unique written values (each op takes effect at a random
    moment of its interval, or, crashed, maybe never), then maybe one read corrupted."""
    state: Any = None
    timeline: list[tuple[int, int, int, str, str, Any]] = []
    written = 0
    moments = sorted(rng.sample(range(4 * operations + 4), 3 * operations))
    points = []
    for process in range(operations):
        begin, effect, finish = sorted(rng.sample(moments, 3))
        f = rng.choice(["read", "write", "cas"] if with_cas else ["read", "write"])
        written += f != "read"
        points.append((effect, process, f, written, begin, finish))
    for _effect, process, f, value, begin, finish in sorted(points):
        outcome = rng.choice(["ok"] * 6 + ["info", "crash", "fail"])
        happened = outcome == "ok" or (outcome in ("info", "crash") and rng.random() < 0.5)
        arg: Any = value if f == "write" else None
        result: Any = value
        if f == "read":
            result = state
        elif f == "cas":
            arg = [state if rng.random() < 0.7 else rng.randint(0, value), value]
            result = arg
            if arg[0] != state:
                happened = False
                outcome = "fail" if outcome == "ok" else outcome
        if happened and f != "read":
            state = value
        if outcome == "fail" and f == "write" and happened:
            outcome = "ok"
        timeline.append((begin, 0, process, "invoke", f, arg))
        if outcome != "crash":
            timeline.append((finish, 1, process, outcome, f, result))
    reads = [n for n, entry in enumerate(timeline) if entry[4] == "read" and entry[3] == "ok"]
    if reads and rng.random() < 0.7:
        n = rng.choice(reads)
        begin, order, process, kind, f, _ = timeline[n]
        wrong = rng.choice([None, *range(1, written + 1)]) if rng.random() < 0.9 else written + 1
        timeline[n] = (begin, order, process, kind, f, wrong)
    timeline.sort()
    return [Event(index=i, time=t, process=p, type=kind, f=f, value=v)
            for i, (t, _, p, kind, f, v) in enumerate(timeline)]


def agree(events: list[Event], model: str, **options: Any) -> Verdict:
    verdict = check(events, model, **options)
    assert verdict.stats["algorithm"] == "unique-values"
    wgl = check(events, model, algorithm="wgl", **options)
    assert verdict.valid is wgl.valid, (verdict.anomalies, wgl.anomalies)
    for anomaly in verdict.anomalies:
        assert anomaly.kind in KINDS and anomaly.details["cannot_linearize"]
    return verdict


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_histories(with_cas=False), st.sampled_from([None, 0]))
def test_register_agrees_with_wgl_on_random_histories(events: list[Event], init: Any) -> None:
    agree(events, "register", init=init)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_histories(with_cas=True))
def test_cas_register_agrees_with_wgl_on_random_histories(events: list[Event]) -> None:
    agree(events, "cas-register")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.booleans(), st.integers(1, 14))
def test_agrees_with_wgl_on_simulated_histories(rng: random.Random, with_cas: bool, operations: int) -> None:
    agree(simulated(rng, with_cas, operations), "cas-register" if with_cas else "register")


def test_the_random_histories_cover_both_verdicts_and_every_outcome() -> None:
    rng = random.Random(5)
    verdicts = [check(simulated(rng, with_cas, 8), "cas-register").valid
                for with_cas in (False, True) for _ in range(200)]
    assert 0.2 < verdicts.count(True) / len(verdicts) < 0.9   # both verdicts come up often
    events = [e for _ in range(50) for e in simulated(rng, True, 8)]
    assert {e.type for e in events} == {"invoke", "ok", "fail", "info"}
    assert sum(e.type == "invoke" for e in events) > sum(e.type != "invoke" for e in events)


def test_an_op_that_went_back_is_reported_once_beside_the_latest_value() -> None:
    h = History().op(0, "write", 1).op(0, "write", 2).op(0, "write", 3).op(0, "write", 4).op(1, "read", None, 1)
    verdict = fast(h)
    [anomaly] = verdict.anomalies
    assert anomaly.kind == "lost-write"
    assert "write 4 (index 6, process 0) had replaced it" in anomaly.message
    assert "conflicts with 2 other values" in anomaly.details["explanation"]
    assert verdict.stats["unlisted_anomalies"] == 2
