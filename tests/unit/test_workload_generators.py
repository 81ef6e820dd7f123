"""Workload generators are pure and seeded: same seed, same op mix; the scenario's knobs hold."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from harness.workload import WORKLOADS
from harness.workload.base import Pacer, ProcessHistory, client_rng
from harness.workload.lock import LockGenerator, LockParams
from harness.workload.queue import QueueGenerator, QueueParams, QueueWorkload
from harness.workload.register import RegisterGenerator, RegisterParams, clock_skew_ns
from harness.workload.resource import ProtectedResource, StaleToken


def test_registry_maps_types_to_workloads() -> None:
    assert set(WORKLOADS) == {"lock", "queue", "register"}
    for name, cls in WORKLOADS.items():
        assert cls.name == name and cls.default_checkers
        assert cls.Params.model_fields["type"].annotation.__args__ == (name,)


def register_ops(seed: int, slot: int, n: int = 300, **params: object) -> list:
    gen = RegisterGenerator(RegisterParams(type="register", **params), client_rng(seed, slot), slot=slot,
                            clients=4)
    return [gen.next_op() for _ in range(n)]


def test_register_same_seed_same_ops_other_seed_other_ops() -> None:
    assert register_ops(1, 0) == register_ops(1, 0)
    assert register_ops(1, 0) != register_ops(2, 0)
    assert register_ops(1, 0) != register_ops(1, 1)


def test_register_mix_and_keys() -> None:
    ops = register_ops(5, 2, n=4000, keys=4, read_fraction=0.25)
    share = sum(op.f == "read" for op in ops) / len(ops)
    assert 0.22 < share < 0.28
    assert {op.key for op in ops} == {"k0", "k1", "k2", "k3"}
    assert all(op.value is None for op in ops if op.f == "read")


def test_register_write_values_unique_per_key_across_clients() -> None:
    seen: dict[str, set[int]] = {}
    for slot in range(4):
        for op in register_ops(9, slot, n=500, keys=2):
            if op.f == "write":
                assert op.value not in seen.setdefault(op.key, set())
                seen[op.key].add(op.value)
    assert all(len(values) > 100 for values in seen.values())


def test_clock_skew_spread() -> None:
    params = RegisterParams(type="register", clock_skew_ms=500)
    assert [clock_skew_ns(params, slot, 3) for slot in range(3)] == [-500_000_000, 0, 500_000_000]
    assert clock_skew_ns(params, 0, 1) == 0
    assert clock_skew_ns(RegisterParams(type="register"), 0, 3) == 0


def lock_cycles(seed: int, n: int = 2000, **params: object) -> list:
    gen = LockGenerator(LockParams(type="lock", **params), client_rng(seed, 0))
    return [gen.next_cycle() for _ in range(n)]


def test_lock_cycles_seeded_and_knobs_respected() -> None:
    kwargs = {"locks": 3, "pause": 1.5, "pause_probability": 0.3, "extend_probability": 0.2}
    cycles = lock_cycles(4, **kwargs)
    assert cycles == lock_cycles(4, **kwargs) and cycles != lock_cycles(5, **kwargs)
    assert {c.key for c in cycles} == {"lock0", "lock1", "lock2"}
    assert {c.pause for c in cycles} == {0.0, 1.5}
    assert 0.25 < sum(c.pause > 0 for c in cycles) / len(cycles) < 0.35
    assert 0.15 < sum(c.extend for c in cycles) / len(cycles) < 0.25


def test_lock_without_pause_or_extend() -> None:
    cycles = lock_cycles(1, n=200)
    assert all(c.pause == 0 and not c.extend and c.key == "lock0" for c in cycles)


def test_queue_payloads_unique_and_plans_follow_probabilities() -> None:
    params = QueueParams(type="queue", priorities=3, crash_probability=0.1, release_probability=0.2,
                         extend_probability=0.5)
    producers = [QueueGenerator(params, client_rng(1, slot), slot=slot) for slot in range(2)]
    items = [p.next_put() for _ in range(200) for p in producers]
    assert len({item for item, _ in items}) == 400
    assert {priority for _, priority in items} == {0, 1, 2}
    plans = [QueueGenerator(params, client_rng(1, 3), slot=3).next_plan() for _ in range(1)]
    consumer = QueueGenerator(params, client_rng(1, 3), slot=3)
    plans = [consumer.next_plan() for _ in range(5000)]
    outcomes = Counter(p.outcome for p in plans)
    assert 0.08 < outcomes["crash"] / 5000 < 0.12
    assert 0.17 < outcomes["release"] / 5000 < 0.23
    assert 0.45 < sum(p.extend for p in plans) / 5000 < 0.55
    again = QueueGenerator(params, client_rng(1, 3), slot=3)
    assert [again.next_plan() for _ in range(5000)] == plans


def test_queue_needs_a_consumer() -> None:
    workload = QueueWorkload(QueueParams(type="queue", producers=2), seed=0, clients=2)
    assert "at least one client must consume" in workload.validate_for(2)
    assert workload.validate_for(3) is None


def test_pacer_spaces_ops_and_never_bursts() -> None:
    now = [100.0]
    pacer = Pacer(4.0, clock=lambda: now[0], phase=0.5)
    assert pacer.delay() == pytest.approx(0.125)
    now[0] = 100.125
    assert pacer.delay() == pytest.approx(0.25)
    now[0] = 110.0  # far behind: due now, then one interval later, no catch-up burst
    assert pacer.delay() == 0.0
    assert pacer.delay() == pytest.approx(0.25)
    assert Pacer(None, clock=lambda: 0.0).delay() == 0.0


class ListRecorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def record(self, process, type, f, value=None, *, key=None, **extra):  # type: ignore[no-untyped-def]
        self.events.append((process, type, f, value, key))


def test_process_id_changes_after_info_only() -> None:
    recorder = ListRecorder()
    h = ProcessHistory(recorder, first_id=2, stride=5)  # type: ignore[arg-type]
    h.invoke("read", "k0")
    h.ok("read", "k0", 1)
    h.invoke("write", "k0", 3)
    h.fail("write", "k0", 3)
    assert h.process == 2
    h.invoke("write", "k0", 4)
    h.info("write", "k0", 4, error="NoQuorum")
    assert h.process == 7 and h.crashes == 1
    h.invoke("read", "k0")
    assert [e[0] for e in recorder.events] == [2, 2, 2, 2, 2, 2, 7]


def test_unfenced_resource_accepts_overlap_fenced_rejects_stale() -> None:
    loose = ProtectedResource(fenced=False)
    loose.begin(5)
    loose.begin(4)
    loose.commit(5)
    loose.commit(4)
    assert loose.max_concurrent == 2 and loose.accepted == 2

    fenced = ProtectedResource(fenced=True)
    fenced.begin(5)
    fenced.begin(6)                 # a newer holder begins while 5 works
    with pytest.raises(StaleToken) as stale:
        fenced.commit(5)            # ... so 5's work is refused at commit
    assert stale.value.highest == 6
    fenced.commit(6)
    with pytest.raises(StaleToken):
        fenced.begin(4)
    assert fenced.accepted == 1 and fenced.rejected == 2


def test_resource_use_records_under_its_lock() -> None:
    events: list[str] = []
    gate = threading.Event()
    resource = ProtectedResource(fenced=True, sleep=lambda s: gate.wait(1))
    gate.set()
    assert resource.use(3, 0.0, on_invoke=lambda: events.append("invoke 3"), on_ok=lambda: events.append("ok 3"),
                        on_reject=lambda h: events.append(f"fail 3 {h}"))
    assert not resource.use(2, 0.0, on_invoke=lambda: events.append("invoke 2"),
                            on_ok=lambda: events.append("ok 2"), on_reject=lambda h: events.append(f"fail 2 {h}"))
    assert events == ["invoke 3", "ok 3", "invoke 2", "fail 2 3"]
