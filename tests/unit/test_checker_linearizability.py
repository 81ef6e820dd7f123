"""Linearizability on hand-made histories: every model, valid and invalid, info and fail ops."""

from __future__ import annotations

import pytest

from harness.checker import check
from harness.checker.linearizability import check_linearizable
from harness.checker.models import CasRegisterModel
from harness.errors import BadInput
from tests.unit.test_checker_builder import History


def valid(h: History, model: str, **options: object) -> object:
    return check(h.events, model, **options).valid


# ------------------------------------------------------------------ register

def test_sequential_writes_and_reads_are_linearizable() -> None:
    h = History().op(0, "read", None, None).op(0, "write", 1).op(1, "read", None, 1).op(1, "write", 2) \
        .op(0, "read", None, 2)
    assert valid(h, "register") is True


def test_register_starts_absent_unless_init_is_given() -> None:
    h = History().op(0, "read", None, 0)
    assert valid(h, "register") is False
    assert valid(h, "register", init=0) is True
    assert valid(History().op(0, "read", None, None), "register", init=0) is False


def test_a_stale_read_after_a_completed_write_is_not_linearizable() -> None:
    h = History().op(0, "write", 1).op(0, "write", 2).op(1, "read", None, 1)
    verdict = check(h.events, "register", algorithm="wgl")
    assert verdict.valid is False
    assert verdict.stats["algorithm"] == "wgl"
    [anomaly] = verdict.anomalies
    assert anomaly.kind == "nonlinearizable"
    assert anomaly.details["key"] is None
    assert anomaly.details["prefix"] == [0, 2]            # write 1, write 2 (invocation indices)
    assert anomaly.details["cannot_linearize"] == [4]     # the read
    assert anomaly.indices == (4, 5)
    explanation = anomaly.details["explanation"]
    assert "read 1 by process 1 (index 4" in explanation
    assert "the only possible states were 2" in explanation
    assert len(explanation.splitlines()) < 25


def test_a_read_concurrent_with_a_write_may_see_either_value() -> None:
    for seen in (1, 2):
        h = History().op(0, "write", 1).invoke(0, "write", 2).invoke(1, "read").ok(1, "read", seen) \
            .ok(0, "write", 2)
        assert valid(h, "register") is True
    h = History().op(0, "write", 1).invoke(0, "write", 2).invoke(1, "read").ok(1, "read", 3).ok(0, "write", 2)
    assert valid(h, "register") is False


def test_an_info_write_may_have_taken_effect() -> None:
    # write 2 timed out; a later read sees 2: it must be linearized (it took effect).
    h = History().op(0, "write", 1).op(0, "write", 2, "timed-out", type="info").op(1, "read", None, 2)
    assert valid(h, "register") is True


def test_an_info_write_may_never_take_effect() -> None:
    h = History().op(0, "write", 1).op(0, "write", 2, "timed-out", type="info").op(1, "read", None, 1) \
        .op(1, "read", None, 1)
    assert valid(h, "register") is True


def test_an_info_write_without_completion_counts_as_info() -> None:
    h = History().op(0, "write", 1).invoke(0, "write", 2).op(1, "read", None, 2).op(1, "read", None, 1)
    # took effect before the first read, so the second read cannot see 1 again
    assert valid(h, "register") is False
    h = History().op(0, "write", 1).invoke(0, "write", 2).op(1, "read", None, 1).op(1, "read", None, 2)
    assert valid(h, "register") is True


def test_an_info_write_cannot_take_effect_before_its_invocation() -> None:
    h = History().op(1, "read", None, 2).op(0, "write", 2, "timed-out", type="info")
    assert valid(h, "register") is False


def test_an_info_write_takes_effect_at_most_once() -> None:
    h = History().op(0, "write", 1).op(0, "write", 2, type="info").op(1, "read", None, 2) \
        .op(1, "read", None, 1)
    assert valid(h, "register") is False


def test_alike_info_writes_can_each_take_effect_at_its_own_time() -> None:
    # Two timed-out "write 2": one lands before the first read, the other after write 3.
    h = (History().invoke(0, "write", 2).invoke(1, "write", 2).op(2, "read", None, 2).op(2, "write", 3)
         .op(2, "read", None, 3).op(2, "read", None, 2))
    assert valid(h, "register") is True
    h.op(2, "read", None, 3)  # ...but neither can land twice
    assert valid(h, "register") is False


def test_a_failed_write_never_took_effect() -> None:
    h = History().op(0, "write", 1).op(0, "write", 2, type="fail").op(1, "read", None, 2)
    assert valid(h, "register") is False


def test_unknown_and_failed_reads_constrain_nothing() -> None:
    h = History().op(0, "write", 1).op(1, "read", None, 99, type="info").op(1, "read", None, 42, type="fail") \
        .invoke(2, "read")
    verdict = check(h.events, "register")
    assert verdict.valid is True
    assert verdict.stats["dropped_ops"] == 3


def test_keys_are_checked_independently_and_the_failing_key_is_named() -> None:
    h = (History().op(0, "write", 1, key="a").op(1, "write", 5, key="b").op(0, "read", None, 1, key="a")
         .op(1, "read", None, 6, key="b"))
    verdict = check(h.events, "register")
    assert verdict.valid is False
    assert [a.details["key"] for a in verdict.anomalies] == ["b"]
    assert verdict.stats["partitions"] == 2


def test_an_unknown_f_for_the_model_is_bad_input() -> None:
    with pytest.raises(BadInput, match="does not know f 'cas'"):
        check(History().op(0, "cas", [1, 2]).events, "register")


# ------------------------------------------------------------------ cas-register

def test_cas_succeeds_only_from_the_expected_value() -> None:
    assert valid(History().op(0, "write", 1).op(0, "cas", [1, 2]).op(1, "read", None, 2), "cas-register") is True
    assert valid(History().op(0, "write", 1).op(0, "cas", [3, 2]), "cas-register") is False


def test_a_failed_cas_did_not_take_effect() -> None:
    h = History().op(0, "write", 1).op(0, "cas", [1, 2], type="fail").op(1, "read", None, 1)
    assert valid(h, "cas-register") is True
    h = History().op(0, "write", 1).op(0, "cas", [1, 2], type="fail").op(1, "read", None, 2)
    assert valid(h, "cas-register") is False


def test_an_info_cas_may_or_may_not_have_taken_effect() -> None:
    for seen in (1, 2):
        h = History().op(0, "write", 1).op(0, "cas", [1, 2], "timed-out", type="info").op(1, "read", None, seen)
        assert valid(h, "cas-register") is True
    h = History().op(0, "write", 1).op(0, "cas", [1, 2], type="info").op(1, "read", None, 2) \
        .op(1, "read", None, 1)
    assert valid(h, "cas-register") is False


def test_an_info_cas_whose_expected_value_never_held_cannot_write() -> None:
    h = History().op(0, "write", 1).op(0, "cas", [5, 6], type="info").op(1, "read", None, 6)
    assert valid(h, "cas-register") is False


def test_a_malformed_cas_value_is_bad_input() -> None:
    with pytest.raises(BadInput, match="cas value must be"):
        check(History().op(0, "cas", 3).events, "cas-register")


def test_the_time_limit_gives_unknown_never_a_guess() -> None:
    # 14 concurrent writes, then a read of a value never written: refuting it visits
    # every subset of the writes, far more than one slice of the search.
    h = History()
    for p in range(14):
        h.invoke(p, "write", p)
    h.invoke(99, "read")
    for p in range(14):
        h.ok(p, "write", p)
    h.ok(99, "read", 1000)
    verdict = check(h.events, "cas-register", time_limit=1e-6, algorithm="wgl")
    assert verdict.valid == "unknown"
    assert verdict.anomalies == ()
    assert verdict.stats["unknown_keys"] == [None]
    assert check(h.events, "cas-register", algorithm="wgl").valid is False
    # the values are unique: the unique-values check needs no search and no time limit
    verdict = check(h.events, "cas-register", time_limit=1e-6)
    assert verdict.valid is False and verdict.stats["algorithm"] == "unique-values"


def test_the_time_limit_uses_the_injected_clock() -> None:
    h = History()
    for p in range(14):
        h.invoke(p, "write", p)
    h.invoke(99, "read")
    for p in range(14):
        h.ok(p, "write", p)
    h.ok(99, "read", 1000)
    ticks = iter(range(0, 10**9, 10))  # every look at the clock is 10 s later
    verdict = check_linearizable(h.events, CasRegisterModel(), time_limit=5, clock=lambda: next(ticks))
    assert verdict.valid == "unknown"


def test_empty_history_is_linearizable() -> None:
    assert valid(History(), "cas-register") is True


# ------------------------------------------------------------------ kv

def test_kv_appends_concatenate_per_key() -> None:
    h = (History().op(0, "append", "x", key="k").op(1, "append", "y", key="k").op(0, "get", None, "xy", key="k")
         .op(0, "put", "z", key="j").op(1, "append", "w", key="j").op(1, "get", None, "zw", key="j")
         .op(2, "get", None, "", key="fresh"))
    assert valid(h, "kv") is True


def test_kv_get_with_a_lost_append_is_not_linearizable() -> None:
    h = History().op(0, "append", "x", key="k").op(1, "append", "y", key="k").op(0, "get", None, "y", key="k")
    verdict = check(h.events, "kv")
    assert verdict.valid is False
    assert verdict.anomalies[0].details["key"] == "k"
    assert "get 'y'" in verdict.anomalies[0].details["explanation"]


def test_kv_concurrent_appends_may_land_in_either_order() -> None:
    h = (History().invoke(0, "append", "x", key="k").invoke(1, "append", "y", key="k")
         .ok(1, "append", "y", key="k").ok(0, "append", "x", key="k").op(0, "get", None, "yx", key="k"))
    assert valid(h, "kv") is True


def test_kv_init_option() -> None:
    assert valid(History().op(0, "get", None, "seed", key="k"), "kv", init="seed") is True


# ------------------------------------------------------------------ mutex

def test_mutex_acquire_release_acquire_is_linearizable() -> None:
    h = History().op(0, "acquire").op(0, "release").op(1, "acquire").op(1, "release")
    assert valid(h, "mutex") is True


def test_mutex_two_holders_is_not_linearizable() -> None:
    h = History().op(0, "acquire").op(1, "acquire")
    verdict = check(h.events, "mutex")
    assert verdict.valid is False
    assert "held by process 0" in verdict.anomalies[0].details["explanation"]


def test_mutex_info_acquire_may_never_have_happened() -> None:
    h = History().op(0, "acquire", type="info").op(1, "acquire").op(1, "release")
    assert valid(h, "mutex") is True


def test_mutex_info_release_may_have_happened_but_failed_release_did_not() -> None:
    assert valid(History().op(0, "acquire").op(0, "release", type="info").op(1, "acquire"), "mutex") is True
    assert valid(History().op(0, "acquire").op(0, "release", type="fail").op(1, "acquire"), "mutex") is False


def test_mutex_ignores_use_and_extend_and_splits_by_lock() -> None:
    h = (History().op(0, "acquire", key="A").op(1, "acquire", key="B").op(0, "use", {"token": 1}, key="A")
         .op(0, "extend", {"token": 1}, key="A"))
    assert valid(h, "mutex") is True


def test_unknown_checker_name_lists_the_known_ones() -> None:
    with pytest.raises(BadInput, match="known: register, cas-register, kv, mutex, mutex-graph"):
        check([], "linearizable-ish")


def test_init_is_refused_by_models_without_a_value() -> None:
    with pytest.raises(BadInput, match="--init applies to"):
        check([], "mutex", init=1)
