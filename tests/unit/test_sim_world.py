"""The simulated world on its own: kernel (virtual time, tasks), links (FIFO, cuts, toxics),
node processes (kill, restart, pause, clocks) and the simulated fan-out's contract.

The node keyspace here is a stub that records what it ran (the real SimRedis is proved
against redis-server in tests/integration/test_sim_node_differential.py)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from harness.sim.cluster import SimCluster
from harness.sim.kernel import Kernel, SimEvent, SimLock
from harness.sim.network import Link, Toxic
from harness.sim.nodes import SIM_EPOCH_S, NodeClock, NodeHost
from harness.sim.runtime import ClientProcess
from harness.sim.world import SimWorld
from majorityredis.fanout import Command


class StubKeyspace:
    """Records every command; answers ("ECHO", x) with x, scripts as a cache would (NOSCRIPT when unknown)."""

    def __init__(self) -> None:
        self.ran: list[tuple[Any, ...]] = []
        self.scripts: set[str] = set()

    def execute(self, args: tuple[Any, ...]) -> Any:
        self.ran.append(args)
        if args[0] == "EVALSHA":
            return args[-1] if args[1] in self.scripts else NoScriptError("NOSCRIPT No matching script.")
        if args[0] == "EVAL":
            self.scripts.add("sha-of-" + args[1])
            return args[-1]
        return args[-1]

    def restart(self, *, keep: Any = "all") -> None:
        self.scripts.clear()


def stub_world(nodes: int = 3, clients: int = 2, seed: int = 1) -> tuple[SimWorld, list[StubKeyspace]]:
    world = SimWorld(seed, [f"n{i + 1}" for i in range(nodes)], clients)
    stubs = []
    for host in world.nodes.values():
        stub = StubKeyspace()
        host.server = stub
        stubs.append(stub)
    return world, stubs


# -- kernel -------------------------------------------------------------------------------------
def test_tasks_sleep_on_virtual_time_in_order() -> None:
    kernel = Kernel()
    log: list[tuple[float, str]] = []

    def sleeper(name: str, pause: float) -> None:
        for _ in range(3):
            kernel.sleep(pause)
            log.append((round(kernel.now, 9), name))

    kernel.spawn(lambda: sleeper("a", 1.0), "a")
    kernel.spawn(lambda: sleeper("b", 1.5), "b")
    kernel.run()
    # at 3.0 both are due: b's wake-up was scheduled first (at 1.5), so b runs first
    assert log == [(1.0, "a"), (1.5, "b"), (2.0, "a"), (3.0, "b"), (3.0, "a"), (4.5, "b")]
    assert kernel.now == 4.5


def test_event_wait_times_out_or_wakes_on_set() -> None:
    kernel = Kernel()
    event = SimEvent(kernel)
    seen: list[tuple[str, bool, float]] = []

    def waiter(name: str, timeout: float) -> None:
        seen.append((name, event.wait(timeout), kernel.now))

    kernel.spawn(lambda: waiter("short", 0.5), "short")
    kernel.spawn(lambda: waiter("long", 5.0), "long")
    kernel.call_at(2.0, event.set)
    kernel.run()
    assert seen == [("short", False, 0.5), ("long", True, 2.0)]


def test_a_lock_excludes_other_tasks_and_reenters_for_its_owner() -> None:
    kernel = Kernel()
    lock = SimLock(kernel, reentrant=True)
    order: list[str] = []

    def holder() -> None:
        with lock:
            with lock:  # re-entrant
                order.append("holder in")
                kernel.sleep(1.0)
                order.append("holder out")

    def other() -> None:
        kernel.sleep(0.1)
        with lock:
            order.append(f"other in at {kernel.now}")

    kernel.spawn(holder, "holder")
    kernel.spawn(other, "other")
    kernel.run()
    assert order == ["holder in", "holder out", "other in at 1.0"]


def test_a_paused_process_runs_nothing_until_resumed() -> None:
    world, _ = stub_world()
    process = ClientProcess(world, 0)
    ticks: list[float] = []

    def ticker() -> None:
        for _ in range(4):
            process.sleep(1.0)
            ticks.append(world.kernel.now)

    process.spawn(ticker, "ticker")
    world.kernel.call_at(1.5, process.gate.pause)
    world.kernel.call_at(4.2, process.gate.resume)
    world.kernel.run()
    assert ticks == [1.0, 4.2, 5.2, 6.2]  # the tick due at 2.0 waited for the resume


def test_a_client_clock_at_rate_two_stretches_nothing_but_its_own_readings() -> None:
    world, _ = stub_world()
    process = ClientProcess(world, 0)
    readings: list[tuple[float, float]] = []

    def body() -> None:
        start = process.clock()
        process.sleep(2.0)  # two seconds of its own clock: one virtual second at rate 2
        readings.append((world.kernel.now, process.clock() - start))

    process.set_clock_rate(2.0)
    process.spawn(body, "c")
    world.kernel.run()
    assert readings == [(1.0, pytest.approx(2.0))]


# -- links ------------------------------------------------------------------------------------------
def _link(kernel: Kernel, host: NodeHost, latency: float = 0.001) -> Link:
    import random

    return Link(kernel, host, random.Random(0), latency)


def test_a_link_delivers_in_order_despite_random_latency() -> None:
    kernel = Kernel()
    stub = StubKeyspace()
    host = NodeHost(kernel, "n1", server=stub)
    link = _link(kernel, host)
    link.add_toxic("jitter", Toxic("latency", "upstream", {"latency": 5, "jitter": 5}))
    replies: list[Any] = []
    for i in range(50):
        link.request(("ECHO", i), replies.append)
    kernel.run()
    assert [args[-1] for args in stub.ran if args[0] == "ECHO"] == list(range(50))
    assert replies == list(range(50))


def test_a_drop_cut_loses_requests_and_replies_and_a_refuse_cut_fails_at_once() -> None:
    kernel = Kernel()
    stub = StubKeyspace()
    link = _link(kernel, NodeHost(kernel, "n1", server=stub))
    replies: list[Any] = []
    link.request(("ECHO", "before"), replies.append)
    kernel.run()
    link.set_cut("drop")
    link.request(("ECHO", "dropped"), replies.append)
    kernel.run()
    assert replies == ["before"] and ("ECHO", "dropped") not in stub.ran
    link.set_cut("refuse")
    link.request(("ECHO", "refused"), replies.append)
    kernel.run()
    assert isinstance(replies[-1], RedisConnectionError) and ("ECHO", "refused") not in stub.ran
    link.set_cut(None)
    link.request(("ECHO", "after"), replies.append)
    kernel.run()
    assert replies[-1] == "after"


def test_a_downstream_drop_runs_the_command_but_loses_the_reply() -> None:
    kernel = Kernel()
    stub = StubKeyspace()
    link = _link(kernel, NodeHost(kernel, "n1", server=stub))
    replies: list[Any] = []
    link.request(("ECHO", "warm"), replies.append)
    kernel.run()
    link.add_toxic("one-way", Toxic("timeout", "downstream", {"timeout": 0}))
    link.request(("ECHO", "unanswered"), replies.append)
    kernel.run()
    assert ("ECHO", "unanswered") in stub.ran and replies == ["warm"]


def test_bandwidth_serialises_messages_by_size() -> None:
    kernel = Kernel()
    link = _link(kernel, NodeHost(kernel, "n1", server=StubKeyspace()), latency=0.0)
    link.request(("ECHO", "x"), lambda _v: None)
    kernel.run()
    link.add_toxic("slow", Toxic("bandwidth", "upstream", {"rate": 1}))  # 1 KB/s
    arrivals: list[float] = []
    start = kernel.now
    for _ in range(3):
        link.request(("ECHO", "y" * 1000), lambda _v: arrivals.append(kernel.now - start))
    kernel.run()
    assert arrivals[0] == pytest.approx(1.02, abs=0.02) and arrivals[2] == pytest.approx(3.06, abs=0.05)


def test_reset_peer_fails_the_request_and_the_next_one_reconnects() -> None:
    kernel = Kernel()
    stub = StubKeyspace()
    link = _link(kernel, NodeHost(kernel, "n1", server=stub))
    replies: list[Any] = []
    link.request(("ECHO", 1), replies.append)
    kernel.run()
    connects = link.connects
    link.add_toxic("rst", Toxic("reset_peer", "upstream", {"timeout": 0}))
    link.request(("ECHO", 2), replies.append)
    kernel.run()
    link.remove_toxic("rst")
    link.request(("ECHO", 3), replies.append)
    kernel.run()
    assert replies[0] == 1 and isinstance(replies[1], RedisConnectionError) and replies[2] == 3
    assert link.connects == connects + 1


# -- nodes -------------------------------------------------------------------------------------------
def test_a_paused_node_queues_requests_until_resumed_and_a_killed_one_refuses() -> None:
    kernel = Kernel()
    stub = StubKeyspace()
    host = NodeHost(kernel, "n1", server=stub)
    link = _link(kernel, host)
    answered: list[tuple[float, Any]] = []
    host.pause()
    link.request(("ECHO", "held"), lambda v: answered.append((kernel.now, v)))
    kernel.call_at(3.0, host.resume)
    kernel.run()
    assert answered[0][1] == "held" and answered[0][0] >= 3.0
    host.kill()
    link.request(("ECHO", "dead"), lambda v: answered.append((kernel.now, v)))
    kernel.run()
    assert isinstance(answered[-1][1], RedisConnectionError)
    host.restart(keep="all")
    link.request(("ECHO", "back"), lambda v: answered.append((kernel.now, v)))
    kernel.run()
    assert answered[-1][1] == "back" and host.incarnation == 1


def test_a_node_clock_jumps_and_changes_rate_from_its_current_reading() -> None:
    kernel = Kernel()
    clock = NodeClock(kernel)
    kernel.run(until=10.0)
    assert clock.read() == pytest.approx(SIM_EPOCH_S + 10.0)
    clock.jump(+5.0)
    assert clock.read() == pytest.approx(SIM_EPOCH_S + 15.0)
    clock.set_rate(2.0)
    kernel.run(until=12.0)
    assert clock.read() == pytest.approx(SIM_EPOCH_S + 19.0)
    clock.jump(-30.0)
    assert clock.offset_s == pytest.approx(-23.0)
    clock.reset()
    assert clock.read() == pytest.approx(SIM_EPOCH_S + 12.0) and clock.rate == 1.0


# -- the simulated fan-out ---------------------------------------------------------------------------
def _fanout(world: SimWorld, client: int = 0, timeout: float = 0.3):  # type: ignore[no-untyped-def]
    from majorityredis import MajorityRedis

    cluster = SimCluster(world)
    runtime = cluster.process(client).runtime()
    mr = MajorityRedis.from_urls(cluster.client_urls(client), socket_timeout=timeout, runtime=runtime)
    return cluster, mr


def _in_task(cluster: SimCluster, body, client: int = 0) -> Any:  # type: ignore[no-untyped-def]
    """Run `body` as a task of the client's process, to the end of the simulation; its result."""
    result: list[Any] = []
    cluster.process(client).spawn(lambda: result.append(body()), "test")
    cluster.world.kernel.run()
    return result[0]


def test_a_call_returns_at_the_quorum_and_the_silent_node_gets_a_timeout_at_the_deadline() -> None:
    world, stubs = stub_world()
    cluster, mr = _fanout(world)
    cluster.cut(0, "n3")
    quorum = _in_task(cluster, lambda: mr.fanout.call(Command(("ECHO", "q")), done=lambda r: len(r.ok()) >= 2))
    assert quorum.values == {0: "q", 1: "q"}
    full = _in_task(cluster, lambda: (mr.fanout.call(Command(("ECHO", "all"))), world.kernel.now))
    replies, finished = full
    assert replies.values[0] == "all" and isinstance(replies.values[2], TimeoutError)
    assert ("ECHO", "q") not in stubs[2].ran


def test_scripts_go_as_eval_until_cached_and_noscript_after_a_restart_is_answered_with_eval() -> None:
    world, stubs = stub_world(nodes=1, clients=1)
    cluster, mr = _fanout(world)
    command = Command(("EVALSHA", "sha-of-src", 0, "v"), on_noscript=("EVAL", "src", 0, "v"))
    for _ in range(2):
        assert _in_task(cluster, lambda: mr.fanout.call(command)).values == {0: "v"}
    assert [args[0] for args in stubs[0].ran if args[0] != "__CONNECT__"] == ["EVAL", "EVALSHA"]
    stubs[0].scripts.clear()  # the node lost its scripts on a connection that stayed up
    assert _in_task(cluster, lambda: mr.fanout.call(command)).values == {0: "v"}
    assert [args[0] for args in stubs[0].ran][-2:] == ["EVALSHA", "EVAL"]


def test_a_client_paused_in_a_call_resumes_past_its_deadline() -> None:
    world, _ = stub_world()
    cluster, mr = _fanout(world, timeout=0.3)
    cluster.pause_client(0, in_call=True)
    world.kernel.call_at(2.0, lambda: cluster.resume_client(0))
    replies, returned_at = _in_task(cluster, lambda: (mr.fanout.call(Command(("ECHO", "x"))), world.kernel.now))
    assert returned_at == pytest.approx(2.0) and replies.values == {0: "x", 1: "x", 2: "x"}
