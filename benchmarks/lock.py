"""Lock acquire+release latency and throughput on 5 nodes, side by side with redlock-py and pottery.

    python -m benchmarks.lock [--iterations 2000] [--proxied-iterations 400] [--faulty-iterations 400]
                              [--faulty-peer-iterations 10] [--rounds 5] [--no-pin]

Starts 5 real redis-server processes and a toxiproxy-server (one proxy per
node) in a temporary directory, and measures, one client, one operation at a
time (uncontended; the lock is free before every acquire):

  (a) plain loopback: the clients talk to the nodes directly;
  (b) through Toxiproxy with a 2 ms latency toxic on every node's replies;
  (c) one node of five silent: the client talks to four nodes directly and
      to the fifth through Toxiproxy with a `timeout` toxic (timeout 0: the
      proxy accepts and forwards nothing, never closes: a blackhole), every
      client with a 0.25 s socket timeout.

In (a) and (c) each lock also runs a *contended failing acquire*: another
client holds the lock (on every reachable node) and one non-blocking
acquire returns False. (c) prints every figure beside its (a) figure: the
cost of one silent node; the target is majorityredis within 1.5x of (a).
Peers under (c) get fewer iterations (`--faulty-peer-iterations`): they
wait for the silent node on every call (redlock-py asks the nodes one
after another and raises MultipleRedlockException when any node failed,
even after acquiring: the bench then unlocks with the value it generated).

Contestants: majorityredis (`mr.lock(...).acquire(blocking=False)` +
`release()`), redlock-py (`Redlock.lock` + `unlock`), pottery's `Redlock`
(`acquire(blocking=False)` + `release()`), and the physical floor: one node's
`SET NX PX` + `DEL` (through the same proxy in (b)). Contestants run in
interleaved rounds so that load from other processes hits all of them alike.

CPU placement. On a machine with few cores a one-node ping-pong is bimodal:
when the scheduler puts the node on the client's core, the "round trip" is
a hand-off on one core (this 2-core machine: 0.09 ms per SET+DEL), otherwise
it crosses cores (0.26 ms), and which one a run gets flips from round to
round. A floor for talking to a server elsewhere must cross: so this
process (and every thread it starts) is pinned to one CPU and the floor's
node to another; the other nodes may run anywhere. The hand-off is shown
too, as a reference row from a sixth node pinned to the client's CPU, and
is not used for the targets. `--no-pin` (or a 1-CPU machine) leaves
placement to the scheduler.
Everything started here is stopped in `finally`. Not a test: it prints a
table and whether the targets were met; the exit code is 0 unless the run
itself failed (`--strict`: 1 when a target is missed).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from benchmarks import percentile
from harness.cluster.processes import RedisServer, ToxiproxyServer
from harness.cluster.toxiproxy import ToxiproxyControl
from majorityredis import MajorityRedis
from majorityredis.fanout import Command

NODES = 5
TTL_S = 10.0
LATENCY_MS = 2


@dataclass(frozen=True, slots=True)
class Result:
    scenario: str
    contestant: str
    samples_ms: tuple[float, ...]
    wall_s: float

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return percentile(self.samples_ms, 0.99)

    @property
    def throughput(self) -> float:
        return len(self.samples_ms) / self.wall_s


Op = Callable[[], None]


SILENT_TIMEOUT_S = 0.25  # every client's socket timeout in (c)
CONTENDED = " contended fail"  # suffix of the contended-failing-acquire rows


def _client(host: str, port: int, socket_timeout: float = 1.0) -> redis.Redis:
    return redis.Redis(host=host, port=port, socket_timeout=socket_timeout,
                       socket_connect_timeout=socket_timeout, retry=Retry(NoBackoff(), 0))


FLOOR = "floor (1 node SET NX PX + DEL)"
SAME_CPU_FLOOR = "(1 node on the client's CPU)"


def _single_node(host: str, port: int) -> tuple[Op, Callable[[], None]]:
    client = _client(host, port)

    def set_nx_and_delete() -> None:
        if not client.set("bench:floor", b"x" * 40, nx=True, px=int(TTL_S * 1000)):
            raise RuntimeError("floor: SET NX failed (key left over?)")
        client.delete("bench:floor")

    return set_nx_and_delete, client.close


def _contestants(addresses: Sequence[tuple[str, int]],
                 same_cpu_node: tuple[str, int] | None = None) -> dict[str, tuple[Op, Callable[[], None]]]:
    """name -> (one acquire+release, close); the floor talks to addresses[0]."""
    import redlock
    from pottery import Redlock as PotteryRedlock

    made: dict[str, tuple[Op, Callable[[], None]]] = {FLOOR: _single_node(*addresses[0])}
    if same_cpu_node is not None:
        made[SAME_CPU_FLOOR] = _single_node(*same_cpu_node)

    # not a contestant: the same fan-out with plain commands, to separate the lock's own cost
    # (Lua, decisions) from the cost of talking to 5 nodes at all
    fan = MajorityRedis([_client(*a) for a in addresses], timeout=1.0)
    set_nx = Command(("SET", "bench:fanout", b"x" * 40, "NX", "PX", int(TTL_S * 1000)))
    delete = Command(("DEL", "bench:fanout"))
    quorum = fan.quorum

    def fanout() -> None:
        fan.fanout.call(set_nx, done=lambda r: r.count(lambda v: v == b"OK") >= quorum)
        fan.fanout.call(delete)

    def close_fan() -> None:
        fan.close()
        for c in fan.clients:
            c.close()

    made["(5-node fan-out SET NX PX + DEL)"] = (fanout, close_fan)

    mr = MajorityRedis([_client(*a) for a in addresses], timeout=1.0)
    if hasattr(mr, "bootstrap_new_cluster"):  # fresh nodes: admit them (majorityredis.admission)
        mr.bootstrap_new_cluster()
    lock = mr.lock("bench:majorityredis", ttl=TTL_S)

    def majority() -> None:
        if not lock.acquire(blocking=False):
            raise RuntimeError(f"majorityredis: not acquired ({lock.last_failure})")
        lock.release()

    def close_mr() -> None:
        mr.close()
        for c in mr.clients:
            c.close()

    made["majorityredis"] = (majority, close_mr)

    rl_clients = [_client(*a) for a in addresses]
    rl = redlock.Redlock(rl_clients, retry_count=1)

    def redlock_py() -> None:
        held = rl.lock("bench:redlock-py", int(TTL_S * 1000))
        if not held:
            raise RuntimeError("redlock-py: not acquired")
        rl.unlock(held)

    made["redlock-py"] = (redlock_py, lambda: [c.close() for c in rl_clients])

    pt_clients = [_client(*a) for a in addresses]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pt = PotteryRedlock(key="bench:pottery", masters=set(pt_clients), auto_release_time=TTL_S)

    def pottery() -> None:
        if not pt.acquire(blocking=False):
            raise RuntimeError("pottery: not acquired")
        pt.release()

    made["pottery Redlock"] = (pottery, lambda: [c.close() for c in pt_clients])
    return made


def _locks(addresses: Sequence[tuple[str, int]], tag: str, socket_timeout: float = 1.0
           ) -> dict[str, tuple[Op, Callable[[], None]]]:
    """The three locks, each as uncontended acquire+release and as a contended failing acquire.

    Node i is `addresses[i]`; the contended rows' lock is held (ttl 1 h) by
    another client of the same kind before measuring (key names carry `tag`: one per scenario).
    """
    import redlock
    from pottery import Redlock as PotteryRedlock

    made: dict[str, tuple[Op, Callable[[], None]]] = {}

    def clients() -> list[redis.Redis]:
        return [_client(*a, socket_timeout=socket_timeout) for a in addresses]

    mr = MajorityRedis(clients(), timeout=socket_timeout)
    holder_mr = MajorityRedis(clients(), timeout=socket_timeout)
    lock = mr.lock("bench:majorityredis", ttl=TTL_S)
    if not holder_mr.lock(f"bench:{tag}mr-held", ttl=3600.0).acquire(blocking=False):
        raise RuntimeError("majorityredis: the holder of the contended lock did not acquire it")
    waiter = mr.lock(f"bench:{tag}mr-held", ttl=TTL_S)

    def majority() -> None:
        if not lock.acquire(blocking=False):
            raise RuntimeError(f"majorityredis: not acquired ({lock.last_failure})")
        lock.release()

    def majority_contended() -> None:
        if waiter.acquire(blocking=False):
            raise RuntimeError("majorityredis: acquired a lock another client holds")

    def close_mr() -> None:
        for each in (mr, holder_mr):
            each.close()
            for c in each.clients:
                c.close()

    made["majorityredis"] = (majority, close_mr)
    made["majorityredis" + CONTENDED] = (majority_contended, lambda: None)

    rl_clients = clients()
    rl = redlock.Redlock(rl_clients, retry_count=1)
    rl.retry_delay = 0  # its constructor turns 0 into 0.2 s, slept after every failed attempt
    values: list[str] = []
    unique_id = rl.get_unique_id
    rl.get_unique_id = lambda: values.append(unique_id()) or values[-1]  # type: ignore[method-assign]
    held_rl = redlock.Redlock(clients(), retry_count=1, retry_delay=0)
    try:
        held_rl.lock(f"bench:{tag}rl-held", 3_600_000)
    except redlock.MultipleRedlockException:
        pass  # acquired, but some node failed: it raises anyway

    def redlock_py() -> None:
        try:
            held = rl.lock("bench:redlock-py", int(TTL_S * 1000))
        except redlock.MultipleRedlockException:  # acquired, but a node failed: unlock by value
            held = redlock.Lock(0, "bench:redlock-py", values[-1])
        if not held:
            raise RuntimeError("redlock-py: not acquired")
        try:
            rl.unlock(held)
        except redlock.MultipleRedlockException:
            pass

    def redlock_contended() -> None:
        try:
            held = rl.lock(f"bench:{tag}rl-held", int(TTL_S * 1000))
        except redlock.MultipleRedlockException:
            held = redlock.Lock(0, f"bench:{tag}rl-held", values[-1])
        if held:
            raise RuntimeError("redlock-py: acquired a lock another client holds")

    made["redlock-py"] = (redlock_py, lambda: [c.close() for c in rl_clients + held_rl.servers])
    made["redlock-py" + CONTENDED] = (redlock_contended, lambda: None)

    pt_clients = clients()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pt = PotteryRedlock(key="bench:pottery", masters=set(pt_clients), auto_release_time=TTL_S)
        pt_waiter = PotteryRedlock(key=f"bench:{tag}pt-held", masters=set(pt_clients), auto_release_time=TTL_S)
        pt_holder = PotteryRedlock(key=f"bench:{tag}pt-held", masters=set(clients()), auto_release_time=3600.0)
        if not pt_holder.acquire(blocking=False):
            raise RuntimeError("pottery: the holder of the contended lock did not acquire it")

    def pottery() -> None:
        if not pt.acquire(blocking=False):
            raise RuntimeError("pottery: not acquired")
        pt.release()

    def pottery_contended() -> None:
        if pt_waiter.acquire(blocking=False):
            raise RuntimeError("pottery: acquired a lock another client holds")

    made["pottery Redlock"] = (pottery, lambda: [c.close() for c in pt_clients])
    made["pottery Redlock" + CONTENDED] = (pottery_contended, lambda: None)
    return made


def _measure(scenario: str, contestants: dict[str, tuple[Op, Callable[[], None]]],
             iterations: int | dict[str, int], rounds: int, warmup: int) -> list[Result]:
    samples: dict[str, list[float]] = {name: [] for name in contestants}
    wall: dict[str, float] = dict.fromkeys(contestants, 0.0)
    counts = iterations if isinstance(iterations, dict) else dict.fromkeys(contestants, iterations)
    clock = time.perf_counter_ns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pottery warns about its own design choices
        for name, (op, _close) in contestants.items():
            for _ in range(min(warmup, counts[name])):
                op()
        for _ in range(rounds):
            for name, (op, _close) in contestants.items():
                out = samples[name]
                began = clock()
                for _ in range(max(1, counts[name] // rounds)):
                    t0 = clock()
                    op()
                    out.append((clock() - t0) / 1e6)
                wall[name] += (clock() - began) / 1e9
    return [Result(scenario, name, tuple(samples[name]), wall[name]) for name in contestants]


def _table(results: Sequence[Result]) -> str:
    header = f"{'scenario':<24} {'implementation':<32} {'p50 ms':>8} {'p99 ms':>8} {'ops/s':>8} {'p50/floor':>9}"
    lines = [header, "-" * len(header)]
    for scenario in dict.fromkeys(r.scenario for r in results):
        rows = [r for r in results if r.scenario == scenario]
        floor = next((r for r in rows if r.contestant == FLOOR), None)
        for r in rows:
            relative = f"{r.p50 / floor.p50:>8.2f}x" if floor is not None else f"{'-':>9}"
            lines.append(f"{scenario:<24} {r.contestant:<32} {r.p50:>8.3f} {r.p99:>8.3f} "
                         f"{r.throughput:>8.0f} {relative}")
    return "\n".join(lines)


SCENARIO_A = "(a) loopback"
SCENARIO_C = "(c) 1 of 5 silent"


def _fault_ratios(results: Sequence[Result]) -> tuple[str, list[tuple[str, bool]]]:
    """(c) beside (a) for every lock and operation: p50 and p99 and their ratios; the targets."""
    a = {r.contestant: r for r in results if r.scenario == SCENARIO_A}
    header = (f"{'implementation':<32} {'(a) p50':>8} {'(c) p50':>9} {'ratio':>7} "
              f"{'(a) p99':>8} {'(c) p99':>9} {'ratio':>7}")
    lines = [header, "-" * len(header)]
    checks: list[tuple[str, bool]] = []
    for c in (r for r in results if r.scenario == SCENARIO_C):
        base = a.get(c.contestant)
        if base is None:
            continue
        p50, p99 = c.p50 / base.p50, c.p99 / base.p99
        lines.append(f"{c.contestant:<32} {base.p50:>8.3f} {c.p50:>9.3f} {p50:>6.2f}x "
                     f"{base.p99:>8.3f} {c.p99:>9.3f} {p99:>6.2f}x")
        if c.contestant.startswith("majorityredis"):
            checks.append((f"(c) {c.contestant} p50 within 1.5x of (a) ({p50:.2f}x)", p50 <= 1.5))
            checks.append((f"(c) {c.contestant} p99 within 1.5x of (a) ({p99:.2f}x)", p99 <= 1.5))
    return "\n".join(lines), checks


def _targets(results: Sequence[Result]) -> list[tuple[str, bool]]:
    def get(scenario: str, prefix: str) -> Result:
        return next(r for r in results if r.scenario == scenario and r.contestant.startswith(prefix))

    checks: list[tuple[str, bool]] = []
    a, b = SCENARIO_A, f"(b) toxiproxy +{LATENCY_MS} ms"
    ours, floor = get(a, "majorityredis"), get(a, FLOOR)
    checks.append((f"(a) p50 {ours.p50:.3f} ms within 2x of the floor {floor.p50:.3f} ms",
                   ours.p50 <= 2 * floor.p50))
    for peer in ("redlock-py", "pottery"):
        other = get(a, peer)
        checks.append((f"(a) p50 faster than {peer} ({ours.p50:.3f} vs {other.p50:.3f} ms)", ours.p50 < other.p50))
    ours, floor, rl = get(b, "majorityredis"), get(b, FLOOR), get(b, "redlock-py")
    checks.append((f"(b) p50 {ours.p50:.3f} ms within 1.5x of the floor {floor.p50:.3f} ms",
                   ours.p50 <= 1.5 * floor.p50))
    checks.append((f"(b) p50 >= 3x faster than redlock-py ({rl.p50 / ours.p50:.1f}x)", rl.p50 >= 3 * ours.p50))
    return checks


def _context(results: Sequence[Result]) -> list[str]:
    """Why a missed (a) target may not be this library's to meet: what talking to 5 nodes costs here."""
    a = [r for r in results if r.scenario == SCENARIO_A]
    floor = next(r for r in a if r.contestant == FLOOR)
    fanout = next(r for r in a if r.contestant.startswith("(5-node"))
    ratio = fanout.p50 / floor.p50
    if ratio <= 2:
        return []
    return [f"note: the plain 5-node fan-out (SET NX PX + DEL: no Lua, no lock logic) is itself {ratio:.2f}x "
            "the floor in this run.",
            "      acquire+release on 5 nodes makes 10 loopback writes where the floor makes 2, and the 5",
            "      servers share this machine's cores with the client; when the floor is a hand-off on one",
            "      core (see --no-pin in the module docstring), 2x of it is out of reach of any 5-node client."]


def _cpu_plan() -> tuple[int, int] | None:
    """(client CPU, floor node CPU): two different CPUs this process may use, or None."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    usable = sorted(os.sched_getaffinity(0))
    return (usable[0], usable[1]) if len(usable) >= 2 else None


def run(iterations: int, proxied_iterations: int, rounds: int, warmup: int,
        pin: bool = True, faulty_iterations: int = 400,
        faulty_peer_iterations: int = 10) -> tuple[list[Result], str]:
    """Measure the three scenarios; returns the results and a line saying how the CPUs were placed."""
    results: list[Result] = []
    servers: list[RedisServer] = []
    plan = _cpu_plan() if pin else None
    original_affinity = os.sched_getaffinity(0) if plan is not None else None
    toxiproxy: ToxiproxyServer | None = None
    control: ToxiproxyControl | None = None
    opened: list[Callable[[], None]] = []
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as tmp:
        try:
            for i in range(NODES + (1 if plan else 0)):  # the sixth is the same-CPU reference node
                server = RedisServer(f"n{i + 1}", Path(tmp) / f"n{i + 1}")
                server.start()
                servers.append(server)
            same_cpu: tuple[str, int] | None = None
            if plan is not None:
                client_cpu, floor_cpu = plan
                os.sched_setaffinity(0, {client_cpu})  # threads started from now on inherit it
                os.sched_setaffinity(servers[0].pid, {floor_cpu})  # type: ignore[arg-type]
                os.sched_setaffinity(servers[NODES].pid, {client_cpu})  # type: ignore[arg-type]
                same_cpu = (servers[NODES].host, servers[NODES].port)
                placement = (f"client pinned to CPU {client_cpu}, the floor's node to CPU {floor_cpu}, "
                             "the other nodes unpinned")
            else:
                placement = "no CPU pinning: placement left to the scheduler (the floor may be a same-CPU hand-off)"
            nodes = servers[:NODES]
            toxiproxy = ToxiproxyServer(Path(tmp) / "toxiproxy.log")
            toxiproxy.start()
            control = ToxiproxyControl(toxiproxy.api_url)
            proxies = [control.create_proxy(s.name, f"{s.host}:{s.port}") for s in nodes]

            direct = {**_contestants([(s.host, s.port) for s in nodes], same_cpu),
                      **{name: pair for name, pair in _locks([(s.host, s.port) for s in nodes], "a").items()
                         if name.endswith(CONTENDED)}}
            opened += [close for _op, close in direct.values()]
            results += _measure(SCENARIO_A, direct, iterations, rounds, warmup)

            for proxy in proxies:
                control.add_toxic(proxy.name, "latency", stream="downstream",
                                  attributes={"latency": LATENCY_MS, "jitter": 0})
            proxied = _contestants([(p.listen_host, p.listen_port) for p in proxies])
            opened += [close for _op, close in proxied.values()]
            results += _measure(f"(b) toxiproxy +{LATENCY_MS} ms", proxied, proxied_iterations, rounds,
                                max(1, warmup // 5))
            for proxy in proxies:
                control.remove_toxic(proxy.name, "latency_downstream")

            # (c): nodes 1-4 direct, node 5 through its proxy, blackholed once the locks are set up
            # (the contended locks' holders took every node first)
            silent = proxies[NODES - 1]
            faulty = _locks([*((s.host, s.port) for s in nodes[:NODES - 1]),
                             (silent.listen_host, silent.listen_port)], "c", socket_timeout=SILENT_TIMEOUT_S)
            opened += [close for _op, close in faulty.values()]
            control.add_toxic(silent.name, "timeout", stream="upstream", attributes={"timeout": 0})
            probe = _client(silent.listen_host, silent.listen_port, socket_timeout=SILENT_TIMEOUT_S)
            try:
                probe.ping()
                raise RuntimeError("(c): the blackholed node still answers")
            except redis.exceptions.TimeoutError:
                pass  # the fault is in place
            finally:
                probe.close()
            counts = {name: faulty_iterations if name.startswith("majorityredis") else faulty_peer_iterations
                      for name in faulty}
            results += _measure(SCENARIO_C, faulty, counts, rounds, max(1, warmup // 5))
        finally:
            if control is not None:
                control.close()
            for close in opened:
                try:
                    close()
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
            if toxiproxy is not None:
                toxiproxy.stop()
            for server in servers:
                server.stop()
            if original_affinity is not None:
                os.sched_setaffinity(0, original_affinity)
    return results, placement


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lock", description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000, help="acquire+release pairs per contestant in (a)")
    parser.add_argument("--proxied-iterations", type=int, default=400, help="pairs per contestant in (b)")
    parser.add_argument("--faulty-iterations", type=int, default=400,
                        help="operations per majorityredis row in (c)")
    parser.add_argument("--faulty-peer-iterations", type=int, default=10,
                        help="operations per peer row in (c) (each waits for the silent node)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (spreads background noise)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    args = parser.parse_args(argv)
    # redlock-py and pottery log every failed node at ERROR (with a traceback): thousands under (c)
    logging.disable(logging.ERROR)
    results, placement = run(args.iterations, args.proxied_iterations, args.rounds, args.warmup,
                             pin=not args.no_pin, faulty_iterations=args.faulty_iterations,
                             faulty_peer_iterations=args.faulty_peer_iterations)
    print(f"lock acquire+release, {NODES} nodes, one client, uncontended (ttl {TTL_S:g} s), and a contended "
          f"failing acquire; {placement}")
    print(_table(results))
    print()
    ratios, fault_checks = _fault_ratios(results)
    print(f"one silent node of {NODES} (c) beside no fault (a); socket timeout in (c) {SILENT_TIMEOUT_S:g} s")
    print(ratios)
    print()
    missed = False
    for text, ok in [*_targets(results), *fault_checks]:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
        missed |= not ok
    for line in _context(results):
        print(line)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
