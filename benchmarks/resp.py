"""RESP parsing of the fan-out's replies: hiredis.Reader against the pure-Python reader.

    python -m benchmarks.resp [--iterations 20000] [--rounds 7] [--live [--ops 2000]]

Both readers are driven the way `majorityredis.resp.read_reply` drives them:
bytes from one socket read are fed, then the next reply is taken
(`next_reply`). The replies are the ones the library's scripts and commands
send back (byte for byte what Redis writes): the lock's ACQUIRE / RELEASE /
EXTEND / WRITE_BACK, the queue's GRANT, SCAN_AVAILABLE with 8 candidates
and SIZE with 100 ids, the register's version read, a NOSCRIPT error — each
arriving whole, arriving in two reads, and three pipelined in one read —
and the cost of a fresh reader (`reset`, once per connection checkout).

Rounds alternate the two readers so background load hits both alike; the
table shows the median over rounds of the per-reply time, and the ratio
python / hiredis (> 1: hiredis is faster).

`--live` also starts 5 real redis-server processes and measures a lock
acquire+release through the library with each reader in turn (same
process, same connections' servers, alternating rounds): wall-clock p50 and
the client's own CPU time per operation (`time.thread_time`), which a
loaded machine disturbs far less than wall-clock latency. Not a test: it
prints tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from majorityredis import resp


def bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(*items: bytes) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


def integer(value: int) -> bytes:
    return b":%d\r\n" % value


_ID = b"0001733115200123456-a1b2c3d4e5f6"
REPLIES: dict[str, bytes] = {
    "lock ACQUIRE {1, token, 1}": array(integer(1), integer(4711), integer(1)),
    "lock RELEASE / EXTEND 1": integer(1),
    "lock WRITE_BACK {1, token}": array(integer(1), integer(4711)),
    "queue GRANT {1, fence, payload}": array(integer(1), integer(52), bulk(b"p3-1742")),
    "queue SCAN 8 candidates": array(*[part for i in range(8) for part in
                                       (bulk(_ID[:-2] + b"%02d" % i), bulk(b"1733115200.123456"), integer(1))]),
    "queue SIZE 100 ids": array(integer(100), *[bulk(_ID[:-3] + b"%03d" % i) for i in range(100)]),
    "register read {c, w, v}": array(bulk(b"1733115200123456789"), bulk(b"1" * 40), bulk(b"12345")),
    "NOSCRIPT error": b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
}

Factory = Callable[[], resp.Reader]


def per_reply_ns(factory: Factory, chunks: Sequence[bytes], replies: int, iterations: int) -> float:
    """Nanoseconds per reply: feed `chunks` one by one (taking replies after each), `iterations` times."""
    reader = factory()
    next_reply, incomplete = resp.next_reply, resp.INCOMPLETE
    started = time.perf_counter_ns()
    for _ in range(iterations):
        got = 0
        for chunk in chunks:
            reader.feed(chunk)
            value = next_reply(reader)
            while value is not incomplete:
                got += 1
                value = next_reply(reader)
        if got != replies:
            raise AssertionError(f"expected {replies} replies, got {got}")
    return (time.perf_counter_ns() - started) / (iterations * replies)


def creation_ns(factory: Factory, iterations: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(iterations):
        factory()
    return (time.perf_counter_ns() - started) / iterations


def check_same_values(python: Factory, hiredis_: Factory) -> None:
    """Both readers give the same value for every reply (so the race is between equals)."""
    for name, wire in REPLIES.items():
        values = []
        for factory in (python, hiredis_):
            reader = factory()
            reader.feed(wire)
            values.append(resp.next_reply(reader))
        a, b = values
        same = (type(a) is type(b) and str(a) == str(b)) if isinstance(a, Exception) else a == b
        if not same:
            raise AssertionError(f"{name}: python reader {a!r} != hiredis {b!r}")


def cases() -> list[tuple[str, list[bytes], int]]:
    out: list[tuple[str, list[bytes], int]] = []
    for name, wire in REPLIES.items():
        out.append((name, [wire], 1))
    for name in ("lock ACQUIRE {1, token, 1}", "queue SCAN 8 candidates"):
        wire = REPLIES[name]
        out.append((f"{name}, in 2 reads", [wire[:len(wire) // 2], wire[len(wire) // 2:]], 1))
    three = REPLIES["lock RELEASE / EXTEND 1"] + REPLIES["lock ACQUIRE {1, token, 1}"] + REPLIES["NOSCRIPT error"]
    out.append(("3 pipelined in 1 read", [three], 3))
    return out


def run(iterations: int, rounds: int) -> list[tuple[str, int, float, float]]:
    python: Factory = resp.PythonReader
    hiredis_: Factory = resp.hiredis_reader
    check_same_values(python, hiredis_)
    rows = []
    for name, chunks, replies in cases():
        timings: dict[str, list[float]] = {"python": [], "hiredis": []}
        for _ in range(rounds):
            for label, factory in (("python", python), ("hiredis", hiredis_)):
                timings[label].append(per_reply_ns(factory, chunks, replies, iterations))
        rows.append((name, sum(map(len, chunks)) // replies, statistics.median(timings["python"]),
                     statistics.median(timings["hiredis"])))
    create = {"python": [], "hiredis": []}  # type: dict[str, list[float]]
    for _ in range(rounds):
        create["python"].append(creation_ns(python, iterations))
        create["hiredis"].append(creation_ns(hiredis_, iterations))
    rows.append(("new reader (reset)", 0, statistics.median(create["python"]), statistics.median(create["hiredis"])))
    return rows


def table(rows: Sequence[tuple[str, int, float, float]]) -> str:
    lines = [f"{'reply':<40} {'bytes':>6} {'python ns':>10} {'hiredis ns':>11} {'python/hiredis':>15}"]
    for name, size, py, hi in rows:
        lines.append(f"{name:<40} {size or '':>6} {py:>10.0f} {hi:>11.0f} {py / hi:>14.2f}x")
    return "\n".join(lines)


def live(ops: int, rounds: int, nodes: int = 5) -> str:
    """Lock acquire+release on `nodes` real servers with each reader: wall p50 and client CPU per op."""
    from harness.cluster.processes import RedisServer
    from majorityredis import MajorityRedis

    readers: dict[str, Factory] = {"python": resp.PythonReader, "hiredis": resp.hiredis_reader}
    wall: dict[str, list[float]] = {name: [] for name in readers}
    cpu: dict[str, list[float]] = {name: [] for name in readers}
    servers: list[RedisServer] = []
    default = resp.new_reader
    with tempfile.TemporaryDirectory(prefix="bench-resp-") as tmp:
        try:
            for i in range(nodes):
                server = RedisServer(f"n{i + 1}", Path(tmp) / f"n{i + 1}")
                servers.append(server)
                server.start()
            urls = [f"redis://{s.host}:{s.port}" for s in servers]
            for _ in range(rounds):
                for name, factory in readers.items():
                    resp.new_reader = factory  # every connection of this client gets this reader
                    with MajorityRedis.from_urls(urls, socket_timeout=2.0) as mr:
                        lock = mr.lock("bench:resp", ttl=10.0)
                        for _ in range(50):  # connect, cache the scripts
                            lock.acquire(blocking=False)
                            lock.release()
                        samples = []
                        cpu_started = time.thread_time()
                        for _ in range(ops):
                            started = time.perf_counter()
                            if not lock.acquire(blocking=False):
                                raise RuntimeError("an uncontended acquire failed")
                            lock.release()
                            samples.append(time.perf_counter() - started)
                        cpu[name].append((time.thread_time() - cpu_started) / ops * 1e6)
                        wall[name].append(statistics.median(samples) * 1e3)
        finally:
            resp.new_reader = default
            for server in servers:
                server.stop()
    lines = [f"lock acquire+release on {nodes} local nodes, {rounds} alternating rounds of {ops} ops "
             "(median over rounds)",
             f"{'reader':<10} {'wall p50 ms':>12} {'client CPU us/op':>17}"]
    for name in readers:
        lines.append(f"{name:<10} {statistics.median(wall[name]):>12.3f} {statistics.median(cpu[name]):>17.1f}")
    ratio_cpu = statistics.median(cpu["python"]) / statistics.median(cpu["hiredis"])
    ratio_wall = statistics.median(wall["python"]) / statistics.median(wall["hiredis"])
    lines.append(f"python / hiredis: wall p50 {ratio_wall:.2f}x, client CPU {ratio_cpu:.2f}x")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.resp", description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000, help="replies per measurement")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (median reported)")
    parser.add_argument("--live", action="store_true", help="also time lock ops on 5 real redis-servers")
    parser.add_argument("--ops", type=int, default=2000, help="acquire+release pairs per live round")
    args = parser.parse_args(argv)
    try:
        import hiredis
    except ImportError:
        print("hiredis is not installed: nothing to compare (pip install hiredis)", file=sys.stderr)
        return 4
    print(f"hiredis {hiredis.__version__}; the library parses with: {resp.PARSER}")
    print(table(run(args.iterations, args.rounds)))
    if args.live:
        print()
        print(live(args.ops, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
