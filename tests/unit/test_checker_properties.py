"""Property tests: simulated linearizable executions are valid; a corrupted sequential read is not."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.checker import check
from harness.history.events import Event


def simulate(rng: random.Random, processes: int, operations: int) -> list[Event]:
    """Run a sequential cas-register with random concurrency.

    Each op is invoked, takes effect atomically at some later moment (or, if it
    is to fail or time out, maybe never), and completes later: `ok` with the
    result it computed, `fail` (a cas whose expected value did not match, or an
    op that did not take effect), or `info` / no completion (timed out, with or
    without effect). By construction the history is linearizable.
    """
    events: list[Event] = []
    state: Any = None
    pending: dict[int, dict[str, Any]] = {}   # process -> op in flight
    next_process = processes
    idle = list(range(processes))
    invoked = 0
    zombies: list[dict[str, Any]] = []        # timed out before taking effect: may still do so later

    def emit(process: int, kind: str, f: str, value: Any) -> None:
        events.append(Event(index=len(events), time=len(events), process=process, type=kind, f=f, value=value))

    def apply(op: dict[str, Any]) -> None:
        nonlocal state
        op["applied"] = True       # the linearization point
        if op["f"] == "read":
            op["result"] = state
        elif op["f"] == "write":
            state = op["value"]
        elif state == op["value"][0]:
            state = op["value"][1]
        else:
            op["cas_failed"] = True

    while invoked < operations or pending:
        if zombies and rng.random() < 0.1:
            apply(zombies.pop(rng.randrange(len(zombies))))
            continue
        choice = rng.random()
        if idle and invoked < operations and (choice < 0.4 or not pending):
            process = idle.pop(rng.randrange(len(idle)))
            f = rng.choice(["read", "write", "cas"])
            # values repeat on purpose: alike unknown ops exercise the search's symmetry rule
            if f == "write":
                value: Any = rng.randint(1, 4)
            elif f == "cas":
                value = [rng.choice([None, 1, 2, 3, 4]), rng.randint(1, 4)]
            else:
                value = None
            emit(process, "invoke", f, value)
            pending[process] = {"f": f, "value": value, "applied": False, "result": None}
            invoked += 1
            continue
        process = rng.choice(sorted(pending))
        op = pending[process]
        if not op["applied"] and rng.random() < 0.6:
            apply(op)
            continue
        outcome = rng.random()
        del pending[process]
        if outcome < 0.1:
            # timed out: maybe applied, maybe not; the worker continues as a new process
            if rng.random() < 0.5:
                emit(process, "info", op["f"], "timed-out")
            if not op["applied"] and op["f"] != "read" and rng.random() < 0.5:
                zombies.append(op)  # takes effect later, or never
            idle.append(next_process)
            next_process += 1
            continue
        if not op["applied"] or op.get("cas_failed"):
            emit(process, "fail", op["f"], op["value"])  # certainly did not take effect
        else:
            emit(process, "ok", op["f"], op["result"] if op["f"] == "read" else op["value"])
        idle.append(process)
    return events


def sequential(rng: random.Random, operations: int) -> list[Event]:
    """The same register with no concurrency: each op completes before the next starts."""
    events: list[Event] = []
    state: Any = None

    def emit(kind: str, f: str, value: Any) -> None:
        events.append(Event(index=len(events), time=len(events), process=0, type=kind, f=f, value=value))

    for n in range(operations):
        f = rng.choice(["read", "write", "cas"])
        if f == "read":
            emit("invoke", "read", None)
            emit("ok", "read", state)
        elif f == "write":
            emit("invoke", "write", n)
            emit("ok", "write", n)
            state = n
        else:
            cas = [rng.choice([state, n - 1, None]), n]
            emit("invoke", "cas", cas)
            if state == cas[0]:
                state = n
                emit("ok", "cas", cas)
            else:
                emit("fail", "cas", cas)
    emit("invoke", "read", None)
    emit("ok", "read", state)
    return events


def test_the_simulation_makes_concurrent_histories_with_fail_and_info_ops() -> None:
    events = [e for seed in range(20) for e in simulate(random.Random(seed), 4, 30)]
    kinds = {e.type for e in events}
    assert kinds == {"invoke", "ok", "fail", "info"}
    # some op is invoked while another is in flight
    assert any(a.type == "invoke" and b.type == "invoke" for a, b in zip(events, events[1:]))
    invoked = sum(e.type == "invoke" for e in events)
    completed = sum(e.type != "invoke" for e in events)
    assert completed < invoked  # some timed-out ops have no completion at all


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 5), st.integers(1, 30))
def test_simulated_linearizable_histories_are_valid(rng: random.Random, processes: int, operations: int) -> None:
    events = simulate(rng, processes, operations)
    verdict = check(events, "cas-register")
    assert verdict.valid is True, verdict.anomalies


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 30), st.data())
def test_a_corrupted_read_without_concurrency_is_invalid(rng: random.Random, operations: int,
                                                         data: st.DataObject) -> None:
    events = sequential(rng, operations)
    reads = [e for e in events if e.type == "ok" and e.f == "read"]
    victim = data.draw(st.sampled_from(reads))
    wrong = data.draw(st.one_of(st.none(), st.integers(-5, operations + 5)).filter(lambda v: v != victim.value))
    corrupted = [Event(index=e.index, time=e.time, process=e.process, type=e.type, f=e.f,
                       value=wrong if e is victim else e.value) for e in events]
    assert check(events, "cas-register").valid is True
    verdict = check(corrupted, "cas-register")
    assert verdict.valid is False
    assert victim.index - 1 in verdict.anomalies[0].details["cannot_linearize"]


def simulate_kv(rng: random.Random, processes: int, operations: int) -> list[Event]:
    """A per-key string store (get/put/append on 3 keys) with random concurrency; ok ops only."""
    events: list[Event] = []
    store = {key: "" for key in "abc"}
    pending: dict[int, dict[str, Any]] = {}
    idle = list(range(processes))
    invoked = 0

    def emit(process: int, kind: str, op: dict[str, Any], value: Any) -> None:
        events.append(Event(index=len(events), time=len(events), process=process, type=kind, f=op["f"],
                            value=value, key=op["key"]))

    while invoked < operations or pending:
        if idle and invoked < operations and (rng.random() < 0.4 or not pending):
            process = idle.pop(rng.randrange(len(idle)))
            f = rng.choice(["get", "put", "append"])
            op = {"f": f, "key": rng.choice("abc"), "value": None if f == "get" else f"<{invoked}>",
                  "applied": False}
            emit(process, "invoke", op, op["value"])
            pending[process] = op
            invoked += 1
            continue
        process = rng.choice(sorted(pending))
        op = pending[process]
        if not op["applied"]:
            op["applied"] = True
            if op["f"] == "get":
                op["result"] = store[op["key"]]
            elif op["f"] == "put":
                store[op["key"]] = op["value"]
            else:
                store[op["key"]] += op["value"]
            continue
        del pending[process]
        emit(process, "ok", op, op["result"] if op["f"] == "get" else op["value"])
        idle.append(process)
    return events


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 5), st.integers(1, 40))
def test_simulated_kv_histories_are_valid_key_by_key(rng: random.Random, processes: int, operations: int) -> None:
    assert check(simulate_kv(rng, processes, operations), "kv").valid is True
