"""The pure models: prepare (what is dropped), step, partition, describe."""

from __future__ import annotations

from harness.checker.models import CasRegisterModel, KVModel, MutexModel, RegisterModel, freeze
from harness.history.events import pair_operations
from tests.unit.test_checker_builder import History


def ops_of(h: History):  # type: ignore[no-untyped-def]
    return pair_operations(h.events)


def test_register_drops_fail_ops_and_unknown_reads_but_keeps_unknown_writes() -> None:
    model = RegisterModel()
    h = (History().op(0, "read", None, 1).op(0, "read", None, 1, type="info").op(0, "read", None, 1, type="fail")
         .op(0, "write", 2).op(0, "write", 3, type="info").op(0, "write", 4, type="fail"))
    prepared = [model.prepare(op) for op in ops_of(h)]
    assert [p is None for p in prepared] == [False, True, True, False, False, True]


def test_register_steps() -> None:
    model = CasRegisterModel()
    read1, write2, cas23, maybe_cas23 = (model.prepare(op) for op in ops_of(
        History().op(0, "read", None, 1).op(0, "write", 2).op(0, "cas", [2, 3]).op(0, "cas", [2, 3], type="info")))
    assert model.init() is None
    assert model.step(1, read1) == (True, 1) and model.step(None, read1)[0] is False
    assert model.step(None, write2) == (True, 2)
    assert model.step(2, cas23) == (True, 3) and model.step(1, cas23)[0] is False
    assert model.step(2, maybe_cas23) == (True, 3)
    assert model.step(1, maybe_cas23) == (True, 1)   # did not match: changed nothing
    assert model.describe_op(cas23) == "cas 2->3" and model.describe_state(None) == "absent (null)"


def test_values_are_frozen_to_hashable_states() -> None:
    model = RegisterModel()
    [write] = [model.prepare(op) for op in ops_of(History().op(0, "write", [1, {"a": [2]}]))]
    ok, state = model.step(None, write)
    assert ok and hash(state) is not None and state == freeze([1, {"a": [2]}])


def test_kv_partitions_by_key_and_appends() -> None:
    model = KVModel()
    ops = ops_of(History().op(0, "append", "x", key="a").op(0, "put", "y", key="b").op(0, "get", None, None, key="c"))
    parts = model.partition(ops)
    assert sorted(parts) == ["a", "b", "c"]
    append = model.prepare(parts["a"][0])
    assert model.step("p", append) == (True, "px")
    assert model.prepare(parts["c"][0]) == (0, "")   # a null get reads the initial value


def test_mutex_steps_by_holder() -> None:
    model = MutexModel()
    acquire0, release0, release1 = (model.prepare(op) for op in ops_of(
        History().op(0, "acquire").op(0, "release").op(1, "release")))
    assert model.step(None, acquire0) == (True, 0)
    assert model.step(1, acquire0)[0] is False
    assert model.step(0, release0) == (True, None)
    assert model.step(0, release1)[0] is False
    assert model.describe_state(0) == "held by process 0"
