"""The register under concurrency: linearizable mode keeps real-time order; fast mode loses updates.

The full linearizability checker comes with the checker issue; here the
versions each operation reports are checked against real-time order, per key:
- a read returns only a written value, the one written under that version;
- a read that starts after another read completed never returns a smaller version;
- a read that starts after a write completed returns that write's version or a greater one;
- a write that starts after another write completed gets a greater version.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from majorityredis import MajorityRedis, NoQuorum
from majorityredis.register import Register, Version, encode_value, storage_key
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@dataclass(frozen=True, slots=True)
class Done:
    """One completed operation: what it did, when (monotonic ns), and the version it reports."""

    kind: str  # "read" | "write"
    key: str
    start: int
    end: int
    version: Version | None
    value: bytes | None


def order_violations(ops: list[Done]) -> list[str]:
    """Break-downs of real-time order (see the module docstring); [] when there are none."""
    problems: list[str] = []
    written = {op.version: op.value for op in ops if op.kind == "write"}
    if len(written) != sum(op.kind == "write" for op in ops):
        problems.append("two writes share a version")
    for op in ops:
        if op.kind == "read" and op.version is not None and written.get(op.version, b"?") != op.value:
            problems.append(f"read of {op.key} returned {op.value!r} under {op.version}, never written so")
    for key in sorted({op.key for op in ops}):
        by_end = sorted((op for op in ops if op.key == key), key=lambda op: op.end)
        completed = 0
        newest: Done | None = None  # the op with the greatest version among those completed so far
        for op in sorted(by_end, key=lambda op: op.start):
            while completed < len(by_end) and by_end[completed].end < op.start:
                done = by_end[completed]
                if done.version is not None and (newest is None or done.version > newest.version):
                    newest = done
                completed += 1
            if newest is None:
                continue
            # a read may return the newest version it must see; a write must create a greater one
            if op.version is None or op.version < newest.version or (
                    op.kind == "write" and op.version == newest.version):
                problems.append(f"{key}: {op.kind} {op.value!r} @{op.version} started after "
                                f"{newest.kind} {newest.value!r} @{newest.version} completed")
    return problems


def test_the_order_check_can_fail():
    v1, v2 = Version(1, "a"), Version(2, "a")
    good = [Done("write", "k", 0, 1, v1, b"1"), Done("read", "k", 2, 3, v1, b"1"),
            Done("write", "k", 4, 5, v2, b"2"), Done("read", "k", 6, 7, v2, b"2")]
    assert order_violations(good) == []
    stale_read = good + [Done("read", "k", 8, 9, v1, b"1")]
    assert len(order_violations(stale_read)) == 1  # v1 read after v2 was written and read
    assert order_violations([Done("read", "k", 0, 1, v1, b"never")])  # not written under v1
    backwards_write = [Done("write", "k", 0, 1, v2, b"2"), Done("write", "k", 2, 3, v1, b"1")]
    assert order_violations(backwards_write)
    same_version_write = [Done("read", "k", 0, 1, v2, b"2"), Done("write", "k", 2, 3, v2, b"2")]
    assert order_violations(same_version_write)
    concurrent = [Done("write", "k", 0, 10, v2, b"2"), Done("read", "k", 1, 2, v2, b"2"),
                  Done("read", "k", 3, 4, None, None)]  # overlaps the write, but after a read of v2
    assert order_violations(concurrent)
    assert order_violations(concurrent[:2] + [Done("read", "k", 1, 4, None, None)]) == []  # overlapping reads


def test_linearizable_register_under_eight_concurrent_threads(redis5, toxiproxy):
    """8 threads on 4 MajorityRedis instances whose links have uneven latency (own proxies each).

    Writers on instance W reach node 0 at once and the others 20 ms later, so
    for a while a write is on a minority only. Readers on R1 (near nodes 0-2)
    then see it; readers on R2 (near nodes 2-4) would miss it after R1 had
    returned it — unless R1 wrote it back first. That is the write-back under
    test; "mixed" threads on an even instance read and write too.
    """
    slow = {"W": {1, 2, 3, 4}, "even": set(), "R1": {3, 4}, "R2": {0, 1}}
    instances: dict[str, MajorityRedis] = {}
    for name, slow_nodes in slow.items():
        clients = []
        for node, server in enumerate(redis5.servers):
            proxy = toxiproxy.create_proxy(f"{name}-n{node}", f"{server.host}:{server.port}")
            if node in slow_nodes:
                toxiproxy.add_toxic(proxy.name, "latency", stream="upstream", attributes={"latency": 20})
            clients.append(redis.Redis(host=proxy.listen_host, port=proxy.listen_port, socket_timeout=2.0,
                                       socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 0)))
        instances[name] = MajorityRedis(clients, timeout=10.0)
    repairs = [0]
    count_lock = threading.Lock()
    for mr in instances.values():
        original = mr.register.store

        def counting_store(*args, _original=original, **kwargs):
            if kwargs.get("operation", "").startswith("get"):
                with count_lock:
                    repairs[0] += 1
            return _original(*args, **kwargs)
        mr.register.store = counting_store  # type: ignore[method-assign]

    ops: list[Done] = []
    errors: list[BaseException] = []
    writers_left = [4]
    start = threading.Barrier(8)

    def worker(t: int, instance: str, role: str) -> None:
        register = instances[instance].register  # two threads share each instance (and its writer id)
        rng = random.Random(t)
        start.wait()
        try:
            for i in range(25 if role != "read" else 400):
                if role == "read" and writers_left[0] == 0:
                    break
                key = "k0" if rng.random() < 0.8 else "k1"
                began = time.monotonic_ns()
                if role == "write" or (role == "mixed" and rng.random() < 0.5):
                    value = encode_value(t * 1000 + i)
                    version = register.write(key, value)
                    ops.append(Done("write", key, began, time.monotonic_ns(), version, value))
                else:
                    got = register.read(key)
                    ops.append(Done("read", key, began, time.monotonic_ns(), got.version, got.value))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            if role != "read":
                with count_lock:
                    writers_left[0] -= 1

    roles = [("W", "write"), ("W", "write"), ("even", "mixed"), ("even", "mixed"),
             ("R1", "read"), ("R1", "read"), ("R2", "read"), ("R2", "read")]
    threads = [threading.Thread(target=worker, args=(t, *role)) for t, role in enumerate(roles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for mr in instances.values():
        mr.close()
    assert errors == []
    assert sum(op.kind == "write" for op in ops) >= 50
    assert order_violations(ops) == []
    assert repairs[0] > 0  # reads did meet writes that were on a minority only, and wrote them back
    read_values = {op.value for op in ops if op.kind == "read"} - {None}
    assert read_values <= {op.value for op in ops if op.kind == "write"}  # only written values


def test_fast_mode_loses_the_update_of_a_writer_with_a_slow_clock(redis3):
    """Writer B's clock is 10 s behind A's: B's set, made after A's, succeeds and is invisible."""
    mr = MajorityRedis(redis3.clients(), consistency="fast", timeout=2.0)
    a = Register(mr, "fast")
    b = Register(mr, "fast", wall_clock=lambda: time.time_ns() - 10 * 10 ** 9)
    began = time.monotonic_ns()
    version_a = a.write("k", b"from A")
    after_a = time.monotonic_ns()
    began_b = time.monotonic_ns()
    version_b = b.write("k", b"from B")  # starts after A's write completed, and returns normally
    ops = [Done("write", "k", began, after_a, version_a, b"from A"),
           Done("write", "k", began_b, time.monotonic_ns(), version_b, b"from B")]
    assert mr.get("k") == b"from A"  # the lost update
    assert version_b < version_a
    held = [node.hget(storage_key("k"), "v") for node in redis3.clients()]
    assert held.count(b"from A") >= 2  # a quorum refused B's older version (B was acknowledged anyway)
    assert order_violations(ops)  # real-time order broken: a later write got a smaller version


def test_linearizable_mode_keeps_the_update_whatever_the_clocks(redis3):
    mr = MajorityRedis(redis3.clients(), timeout=2.0)
    a = Register(mr)
    b = Register(mr, wall_clock=lambda: time.time_ns() - 10 * 10 ** 9)  # ignored in this mode
    a.set("k", "from A")
    b.set("k", "from B")
    assert mr.get("k") == b"from B"


def test_concurrent_writers_during_a_minority_kill(redis5):
    """Killing two nodes while 4 threads write and read: no error, and real-time order holds."""
    mr = MajorityRedis(redis5.clients(socket_timeout=1.0), timeout=5.0)
    ops: list[Done] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker(t: int) -> None:
        rng = random.Random(100 + t)
        i = 0
        try:
            while not stop.is_set():
                i += 1
                began = time.monotonic_ns()
                if rng.random() < 0.5:
                    value = encode_value(t * 100000 + i)
                    version = mr.register.write("k", value)
                    ops.append(Done("write", "k", began, time.monotonic_ns(), version, value))
                else:
                    got = mr.register.read("k")
                    ops.append(Done("read", "k", began, time.monotonic_ns(), got.version, got.value))
        except (NoQuorum, Exception) as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(ops) >= 10 or errors, 20.0, lambda: len(ops))   # the workers are under way
        killed_at = time.monotonic_ns()
        redis5.servers[1].kill()
        redis5.servers[4].kill()
        wait_until(lambda: sum(op.start > killed_at for op in list(ops)) >= 20 or errors, 20.0,
                   lambda: len(ops))
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert not redis5.servers[1].is_running() and not redis5.servers[4].is_running()
    assert sum(op.start > killed_at for op in ops) >= 20  # operations did run with two nodes dead
    assert order_violations(ops) == []
