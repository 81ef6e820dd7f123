"""Script calls per second through a simulated Redis node: harness.sim's SimRedis vs fakeredis vs redis-server.

    python -m benchmarks.sim_node [--calls 3000] [--rounds 5]

Each contestant runs the lock's ACQUIRE script (majorityredis.lock.ACQUIRE,
the hot path of every simulated acquire) `--calls` times per round, one
call at a time, each on a fresh lock key with one shared fencing counter
(so every call is granted and INCRs the counter):

  SimRedis EVALSHA   harness.sim.node.SimRedis.execute(("EVALSHA", ...)), as the simulator calls it
  SimRedis EVAL      the same with the source (WRITE_BACK and EXTEND are always sent that way)
  fakeredis EVALSHA  fakeredis.FakeRedis (its redis-py interface, Lua through lupa)
  redis-server       redis-py EVALSHA to a real redis-server on loopback (one round trip a call)

Contestants run in interleaved rounds so that load from other processes hits
all of them alike; the table shows the median round, in wall-clock calls/s
and, for the in-process nodes, CPU microseconds per call (steadier on a busy
machine). fakeredis is optional
(`pip install "fakeredis[lua]"`); without it its row says so. Not a test:
it prints a table; the exit code is 0 unless the run itself failed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from harness.cluster.processes import RedisServer
from harness.sim.node import SimRedis
from majorityredis.lock import ACQUIRE

TTL_MS = 600_000


def sim_contestant(use_eval: bool) -> Callable[[int, int], None]:
    node = SimRedis(lambda: int(time.time() * 1000))
    node.execute(("SCRIPT", "LOAD", ACQUIRE.source))
    node.execute(("SET", "bench:fence", "0"))
    head = ("EVAL", ACQUIRE.source) if use_eval else ("EVALSHA", ACQUIRE.sha)

    def run(round_no: int, calls: int) -> None:
        execute = node.execute
        for i in range(calls):
            reply = execute((*head, 2, f"bench:{round_no}:{i}", "bench:fence", b"holder", TTL_MS))
            if reply[0] != 1:
                raise RuntimeError(f"SimRedis: ACQUIRE was not granted: {reply!r}")
    return run


def redis_py_contestant(client: redis.Redis) -> Callable[[int, int], None]:
    client.flushall()
    client.script_load(ACQUIRE.source)
    client.set("bench:fence", "0")

    def run(round_no: int, calls: int) -> None:
        evalsha = client.evalsha
        for i in range(calls):
            reply = evalsha(ACQUIRE.sha, 2, f"bench:{round_no}:{i}", "bench:fence", b"holder", TTL_MS)
            if reply[0] != 1:
                raise RuntimeError(f"ACQUIRE was not granted: {reply!r}")
    return run


def fakeredis_contestant() -> tuple[Callable[[int, int], None] | None, str]:
    try:
        import fakeredis
    except ImportError:
        return None, 'not installed (pip install "fakeredis[lua]")'
    try:
        client = fakeredis.FakeRedis()
        run = redis_py_contestant(client)
        run(-1, 1)  # fails here when the Lua extra (lupa) is missing
    except Exception as error:  # noqa: BLE001 - reported in the table, not fatal
        return None, f"unusable: {error}"
    return run, f"fakeredis {getattr(fakeredis, '__version__', '?')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="ACQUIRE calls per contestant per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.calls < 1 or args.rounds < 1:
        parser.error("--calls and --rounds must be at least 1")

    with tempfile.TemporaryDirectory(prefix="bench-sim-node-") as tmp:
        server = RedisServer("bench", Path(tmp) / "n1")
        server.start()
        client = redis.Redis(host=server.host, port=server.port)
        try:
            contestants: dict[str, Callable[[int, int], None] | None] = {
                "SimRedis EVALSHA": sim_contestant(False),
                "SimRedis EVAL": sim_contestant(True),
            }
            fake, fake_note = fakeredis_contestant()
            contestants["fakeredis EVALSHA"] = fake
            contestants["redis-server (redis-py)"] = redis_py_contestant(client)
            rates: dict[str, list[float]] = {name: [] for name in contestants}
            cpu_us: dict[str, list[float]] = {name: [] for name in contestants}
            for round_no in range(args.rounds):
                for name, run in contestants.items():
                    if run is None:
                        continue
                    started, started_cpu = time.perf_counter(), time.process_time()
                    run(round_no, args.calls)
                    rates[name].append(args.calls / (time.perf_counter() - started))
                    cpu_us[name].append((time.process_time() - started_cpu) / args.calls * 1e6)
        finally:
            client.close()
            server.stop()

    base = statistics.median(rates["SimRedis EVALSHA"])
    print(f"lock ACQUIRE script calls, {args.calls} per round, median of {args.rounds} rounds "
          f"(Python {sys.version.split()[0]})")
    print(f"{'contestant':<26}{'calls/s':>10}{'us/call':>10}{'vs SimRedis':>13}{'CPU us/call':>13}")
    for name, samples in rates.items():
        if not samples:
            print(f"{name:<26}{'-':>10}{'-':>10}{'':>13}{'':>13}  {fake_note}")
            continue
        rate = statistics.median(samples)
        note = f"  {fake_note}" if name.startswith("fakeredis") else ""
        cpu = f"{statistics.median(cpu_us[name]):>13.1f}" if "redis-server" not in name else f"{'(client)':>13}"
        print(f"{name:<26}{rate:>10.0f}{1e6 / rate:>10.1f}{rate / base:>12.2f}x{cpu}{note}")
    print("CPU us/call: this process's CPU time per call (the node runs in-process; for redis-server "
          "only the client's share).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
