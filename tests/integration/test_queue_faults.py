"""LockingQueue under concurrency and faults on real redis-server nodes: producers and consumers with
crashing consumers and a node killed mid-run, contention, minority and majority down, nodes restarted
empty and healed."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict

import pytest
import redis

from majorityredis import LockNotOwned, MajorityRedis, NoQuorum
from majorityredis.queue.plan import QueueKeys
from tests.support.probes import RecordingFanout, ping_outcome
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def connect():
    """Factory: a MajorityRedis over `nodes` (closed at teardown)."""
    made: list[MajorityRedis] = []

    def make(nodes, socket_timeout: float = 0.5, **kwargs) -> MajorityRedis:
        mr = MajorityRedis.from_urls(nodes.urls, socket_timeout=socket_timeout, **kwargs)
        made.append(mr)
        return mr

    yield make
    for mr in made:
        mr.close()


def reconnect(mr: MajorityRedis, node: int) -> None:
    """Make the client of a restarted node drop its dead pooled connection (the next call reconnects)."""
    mr.clients[node].connection_pool.disconnect()
    mr.clients[node].ping()


# -- many producers and consumers ------------------------------------------------------------------
def test_producers_and_consumers_consume_every_item_exactly_once_without_overlapping_holds(redis5, connect):
    producers, consumers, per_producer = 4, 4, 40
    expected: set[str] = set()
    expected_lock = threading.Lock()
    consumed: Counter[str] = Counter()
    intervals: dict[str, list[tuple[float, float, str]]] = defaultdict(list)  # id -> (start, end, how)
    record = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []
    recorders: list[RecordingFanout] = []  # every client's calls: did they meet the dead node?

    def produce(p: int) -> None:
        mr = connect(redis5, socket_timeout=1.0)
        recorders.append(RecordingFanout.install(mr))
        q = mr.queue("work")
        for i in range(per_producer):
            item_id = q.put(f"p{p}-{i}", priority=i % 3)
            with expected_lock:
                expected.add(item_id)

    def consume(c: int) -> None:
        rng = random.Random(c)
        mr = connect(redis5, socket_timeout=1.0)  # (a loaded 2-core machine: no spurious timeouts)
        recorders.append(RecordingFanout.install(mr))
        q = mr.queue("work", rng=random.Random(100 + c))
        while not stop.is_set():
            try:
                msg = q.get(ttl=1.0, timeout=0.2)
            except NoQuorum:
                continue  # the killed node's connections fail once; keep going
            if msg is None:
                continue
            got = mr.clock()
            roll = rng.random()
            if roll < 0.08:      # this consumer "crashes" holding the item: it comes back after the ttl
                with record:
                    intervals[msg.id].append((got, msg.deadline, "crash"))
                continue
            if roll < 0.16:
                end = mr.clock()
                q.release(msg)
                with record:
                    intervals[msg.id].append((got, min(end, msg.deadline), "release"))
                continue
            end = mr.clock()
            for attempt in range(3):
                try:
                    ok = q.consume(msg)
                    break
                except NoQuorum:  # outcome unknown: a retry is safe (and counts nodes that did it)
                    if attempt == 2:
                        raise
            with record:
                intervals[msg.id].append((got, min(end, msg.deadline), "consume" if ok else "lost"))
                if ok:
                    consumed[msg.id] += 1

    def guarded(fn, *args):
        try:
            fn(*args)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)
            stop.set()

    threads = [threading.Thread(target=guarded, args=(consume, c)) for c in range(consumers)]
    threads += [threading.Thread(target=guarded, args=(produce, p)) for p in range(producers)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(consumed) >= 10 or failures, 20.0, lambda: len(consumed))
    redis5.servers[4].kill()  # a minority node dies mid-run
    with record:
        consumed_at_kill = len(consumed)
    errors_at_kill = sum(len(r.errors_from(4)) for r in recorders)
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and not failures:
        with expected_lock, record:
            if len(expected) == producers * per_producer and set(consumed) == expected:
                break
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert not failures, failures
    # the fault was in effect and met the operations: n5 stayed dead, the clients' calls got its
    # errors, and most of the items were consumed after it died
    assert not redis5.servers[4].is_running() and ping_outcome(redis5.urls[4]) == "error"
    assert sum(len(r.errors_from(4)) for r in recorders) > errors_at_kill
    assert consumed_at_kill < producers * per_producer // 2 < len(consumed)
    assert len(expected) == producers * per_producer
    assert set(consumed) == expected, f"{len(expected - set(consumed))} items never consumed"
    assert set(consumed.values()) == {1}, "an item was consumed twice"
    for item_id, holds in intervals.items():
        holds.sort()
        for (_start_a, end_a, how_a), (start_b, _end_b, how_b) in zip(holds, holds[1:]):
            assert start_b >= end_a, f"{item_id}: hold ({how_b}) began before the previous ({how_a}) ended"
    crashed = [item_id for item_id, holds in intervals.items() if any(h[2] == "crash" for h in holds)]
    assert crashed, "no consumer crashed: the redelivery path was not exercised"
    assert all(consumed[item_id] == 1 for item_id in crashed)  # crashed items were redelivered and consumed
    assert any(h[2] == "release" for holds in intervals.values() for h in holds)
    q = connect(redis5).queue("work")
    # a node that a consume did not reach keeps a copy (and the consumer's hold, for its ttl);
    # gets that meet it after that ttl purge it
    assert q.get(timeout=1.0) is None
    assert q.size() == 0


def test_concurrent_consumers_never_get_the_same_item(redis5, connect):
    q = connect(redis5).queue("race")
    for i in range(40):
        q.put(str(i))
    got: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    failures: list[BaseException] = []

    def grab() -> None:
        mine = connect(redis5, socket_timeout=1.0).queue("race")  # (8 threads, 2 busy cores)
        barrier.wait()
        try:
            while (msg := mine.get(ttl=30.0, timeout=0.3)) is not None:
                with lock:
                    got.append(msg.id)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures
    assert len(got) == len(set(got)), "two consumers held the same item"
    assert len(got) == 40


def test_one_item_raced_by_eight_consumers_goes_to_exactly_one(redis5, connect):
    queues = [connect(redis5, socket_timeout=1.0).queue("one") for _ in range(8)]  # (8 racing threads, 2 busy cores)
    for round_ in range(8):
        queues[0].put(f"round-{round_}")
        winners: list[int] = []
        failures: list[NoQuorum] = []
        barrier = threading.Barrier(8)

        def race(i: int, barrier: threading.Barrier, winners: list[int], failures: list[NoQuorum]) -> None:
            barrier.wait()
            try:
                if queues[i].get(ttl=30.0, timeout=0.2) is not None:
                    winners.append(i)
            except NoQuorum as error:
                failures.append(error)

        threads = [threading.Thread(target=race, args=(i, barrier, winners, failures)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert not failures, failures
        assert len(winners) == 1, f"round {round_}: {len(winners)} consumers hold the item"


# -- minority and majority down --------------------------------------------------------------------
def test_everything_works_with_a_minority_of_nodes_killed(redis5, connect):
    mr = connect(redis5)
    q = mr.queue("jobs")
    q.put("before")
    recorder = RecordingFanout.install(mr)
    redis5.servers[0].kill()
    redis5.servers[3].kill()
    assert [ping_outcome(redis5.urls[i]) for i in (0, 3)] == ["error", "error"]   # the fault is in effect
    item_id = q.put("after", priority=1)
    assert q.size() == 2
    msg = q.get(ttl=5.0)
    assert msg.id == item_id
    assert q.extend_lock(msg, ttl=6.0) is True
    assert q.consume(msg) is True
    other = q.get()
    assert other.item == b"before"
    q.release(other)
    assert q.get().item == b"before"
    # ... and every operation met it: n1 and n4 were dead throughout and no call had an answer from
    # them, while the three live nodes (each needed for a quorum of 3) answered every one
    assert not redis5.servers[0].is_running() and not redis5.servers[3].is_running()
    assert recorder.values_from(0) == [] and recorder.values_from(3) == []
    assert all(recorder.answered_by(i) >= 8 for i in (1, 2, 4))
    keys = QueueKeys("jobs")
    live = [c for i, c in enumerate(redis5.clients()) if i not in (0, 3)]
    assert all(c.exists(keys.done(item_id)) for c in live)


def _held_on_exactly(nodes, keys: QueueKeys, msg, keep: set[int]) -> None:
    """Make the hold of `msg` present only on the nodes in `keep` (as if the get's grant missed the others)."""
    clients = nodes.clients()
    holder = msg._holder.encode()
    # an uncontended get is granted everywhere; the grants it did not wait for land a moment later
    wait_until(lambda: all(c.get(keys.hold(msg.id)) == holder for c in clients), 2.0,
               describe=lambda: [c.get(keys.hold(msg.id)) for c in clients])
    for i, c in enumerate(clients):
        if i not in keep:
            c.delete(keys.hold(msg.id))


def _one_item_held_on(nodes, connect, keep: set[int], ttl: float):  # type: ignore[no-untyped-def]
    """A queue "jobs" with one item, got by a consumer whose hold is then left only on `keep`.

    Returns (queue, message, keys); the item's id is message.id.
    """
    q = connect(nodes, socket_timeout=1.0).queue("jobs")
    item_id = q.put("x")
    msg = q.get(ttl=ttl)
    assert msg is not None and msg.id == item_id
    keys = QueueKeys("jobs")
    _held_on_exactly(nodes, keys, msg, keep)
    return q, msg, keys


def test_consume_succeeds_when_a_node_that_carried_the_hold_dies(redis5, connect):
    """The hold is on n1, n4, n5 (a quorum) and n1 dies: only 2 live nodes hold it. A valid hold
    still completes: n2 and n3, where nobody holds the item, complete it too."""
    q, msg, keys = _one_item_held_on(redis5, connect, keep={0, 3, 4}, ttl=10.0)
    item_id = msg.id
    redis5.servers[0].kill()
    assert q.consume(msg) is True
    live = redis5.clients()[1:]
    assert all(c.get(keys.done(item_id)) == msg._holder.encode() for c in live)
    assert not any(c.hexists(keys.items, item_id) for c in live)
    assert q.get() is None  # never delivered again


def test_consume_of_an_expired_hold_does_not_count_nodes_without_it(redis5, connect):
    q, msg, keys = _one_item_held_on(redis5, connect, keep={0, 1}, ttl=0.3)  # held on a minority only
    item_id = msg.id
    time.sleep(0.35)  # the lease ran out (the holds on n1, n2 live a little longer: drift)
    assert msg.validity() == 0.0
    assert q.consume(msg) is False
    done_on = [c.exists(keys.done(item_id)) for c in redis5.clients()]
    assert sum(done_on) < 3 and not any(done_on[2:])  # nodes without the hold were left alone


def test_consume_never_completes_an_item_another_consumer_holds(redis5, connect):
    """Our lease still says valid, but another consumer holds the item on a quorum (n3, n4, n5):
    the nodes without any hold (none here) cannot make up a quorum, the others answer 'not ours'."""
    q, msg, keys = _one_item_held_on(redis5, connect, keep={0, 1}, ttl=10.0)
    item_id = msg.id
    for c in redis5.clients()[2:]:
        c.set(keys.hold(item_id), "another-consumer", px=10_000)
    assert q.consume(msg) is False
    assert all(c.get(keys.hold(item_id)) == b"another-consumer" for c in redis5.clients()[2:])
    assert all(c.hexists(keys.items, item_id) for c in redis5.clients()[2:])


def test_extend_succeeds_when_a_node_that_carried_the_hold_dies(redis5, connect):
    """As for consume: the hold is on n1, n4, n5 and n1 dies. A valid hold is renewed by taking
    it on n2 and n3, where nobody holds the item — and a second consumer still gets nothing."""
    q, msg, keys = _one_item_held_on(redis5, connect, keep={0, 3, 4}, ttl=10.0)
    item_id = msg.id
    redis5.servers[0].kill()
    assert not redis5.servers[0].is_running()  # the fault happened
    assert q.extend_lock(msg, ttl=20.0) is True
    live = redis5.clients()[1:]
    wait_until(lambda: all(c.get(keys.hold(item_id)) == msg._holder.encode() for c in live),
               describe=lambda: [c.get(keys.hold(item_id)) for c in live])
    assert all(c.pttl(keys.hold(item_id)) > 10_000 for c in live)  # renewed or taken with the new ttl
    assert connect(redis5, socket_timeout=1.0).queue("jobs").get() is None
    assert q.consume(msg) is True


def test_extend_of_an_expired_hold_does_not_take_nodes_without_it(redis5, connect):
    q, msg, keys = _one_item_held_on(redis5, connect, keep={0, 1}, ttl=0.3)  # held on a minority only
    item_id = msg.id
    time.sleep(0.35)  # the lease ran out (the holds on n1, n2 live a little longer: drift)
    assert msg.validity() == 0.0
    assert q.extend_lock(msg, ttl=10.0) is False
    assert not any(c.exists(keys.hold(item_id)) for c in redis5.clients()[2:])  # not re-acquired there
    msg2 = connect(redis5, socket_timeout=1.0).queue("jobs").get(ttl=5.0)
    assert msg2 is not None and msg2.id == item_id  # free for the next consumer


def test_extend_never_takes_an_item_another_consumer_holds(redis5, connect):
    q, msg, keys = _one_item_held_on(redis5, connect, keep={0, 1}, ttl=10.0)
    item_id = msg.id
    for c in redis5.clients()[2:]:
        c.set(keys.hold(item_id), "another-consumer", px=10_000)
    assert q.extend_lock(msg) is False
    assert all(c.get(keys.hold(item_id)) == b"another-consumer" for c in redis5.clients()[2:])
    assert not any(c.exists(keys.hold(item_id)) for c in redis5.clients()[:2])  # ours released


def test_majority_down_raises_no_quorum_within_the_timeout(redis5, connect):
    mr = connect(redis5, socket_timeout=0.3)
    q = mr.queue("jobs")
    q.put("held")
    msg = q.get(ttl=10.0)
    for server in redis5.servers[:3]:
        server.kill()
    with pytest.raises(NoQuorum) as info:
        q.put("lost?")
    assert info.value.quorum == 3 and info.value.agreed <= 2
    assert "a quorum is 3" in str(info.value)
    with pytest.raises(NoQuorum):
        q.get()
    started = time.monotonic()
    with pytest.raises(NoQuorum):
        q.get(timeout=0.5)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 0.5 + 3 * mr.timeout + 1.0  # the timeout plus one bounded pass
    for call in (lambda: q.extend_lock(msg), lambda: q.consume(msg), q.size):
        with pytest.raises(NoQuorum):
            call()
    hold = QueueKeys("jobs").hold(msg.id)
    live_holders = [c for c in redis5.clients()[3:] if c.get(hold) == msg._holder.encode()]
    if live_holders:  # release is best effort: deleting the hold anywhere is enough
        q.release(msg)
        assert not any(c.exists(hold) for c in live_holders)
    else:
        with pytest.raises(NoQuorum):
            q.release(msg)


def test_majority_paused_raises_no_quorum_after_timeouts(redis3, connect):
    mr = connect(redis3, socket_timeout=0.3)
    q = mr.queue("jobs")
    q.put("x")
    for server in redis3.servers[1:]:
        server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(NoQuorum) as info:
            q.get()
        assert time.monotonic() - started < 3 * mr.timeout + 1.0
        assert "Timeout" in str(info.value) or "no reply" in str(info.value)
    finally:
        for server in redis3.servers[1:]:
            server.resume()


def test_a_put_that_raised_no_quorum_may_still_be_delivered(redis5, connect):
    mr = connect(redis5)
    q = mr.queue("jobs")
    assert q.size() == 0  # connected to every node: the put below is written to all before any reply
    for server in redis5.servers[2:]:
        server.kill()
    with pytest.raises(NoQuorum):
        q.put("maybe")          # stored on the two live nodes only
    keys = QueueKeys("jobs")
    assert [c.hlen(keys.items) for c in redis5.clients()[:2]] == [1, 1]
    for i, server in enumerate(redis5.servers[2:], start=2):
        server.restart(empty=True)
        redis5.bootstrap(i)  # as after its recovery period (majorityredis.admission)
        reconnect(mr, i)
    msg = q.get(ttl=5.0)
    assert msg is not None and msg.item == b"maybe"
    assert sum(1 for c in redis5.clients() if c.hget(keys.items, msg.id) == b"maybe") >= 3  # healed


# -- restarted empty nodes are healed --------------------------------------------------------------
def test_get_heals_a_node_that_restarted_empty(redis3, connect):
    mr = connect(redis3)
    q = mr.queue("jobs")
    item_id = q.put("precious")
    keys = QueueKeys("jobs")
    nodes = redis3.clients()
    for node in nodes:  # make sure every node has it before the fault (put returns at a quorum)
        node.hsetnx(keys.items, item_id, b"precious")
        node.zadd(keys.order, {item_id: 0}, nx=True)
    redis3.servers[2].kill()               # the quorum left is n1 + n2 ...
    redis3.servers[0].restart(empty=True)  # ... and n1 lost everything
    redis3.bootstrap(0)  # as after its recovery period (majorityredis.admission)
    reconnect(mr, 0)
    assert not nodes[0].exists(keys.items)
    msg = q.get(ttl=5.0)
    assert msg is not None and msg.id == item_id and msg.item == b"precious"
    assert nodes[0].hget(keys.items, item_id) == b"precious"           # the item is back on n1 ...
    assert nodes[0].get(keys.hold(item_id)) == msg._holder.encode()   # ... held by this consumer
    assert 0 < nodes[0].pttl(keys.hold(item_id)) <= 5000
    assert nodes[0].zscore(keys.order, item_id) == 0


def test_extend_heals_a_node_that_restarted_empty(redis5, connect):
    mr = connect(redis5)
    q = mr.queue("jobs")
    item_id = q.put("precious", priority=4)
    msg = q.get(ttl=5.0)
    keys = QueueKeys("jobs")
    nodes = redis5.clients()
    holders = [i for i, c in enumerate(nodes) if c.get(keys.hold(item_id)) == msg._holder.encode()]
    assert len(holders) >= 3
    # restart a node whose loss leaves the hold on a quorum: a holder if there are 4+, else another
    victim = holders[0] if len(holders) > 3 else next(i for i in range(5) if i not in holders)
    redis5.servers[victim].restart(empty=True)
    redis5.bootstrap(victim)  # as after its recovery period (majorityredis.admission)
    reconnect(mr, victim)
    node = nodes[victim]
    assert not node.exists(keys.hold(item_id))
    # the EXTEND takes the hold there itself (the hold is valid); the item is put back when the
    # node's answer is among those read before the outcome was decided — on a quiet loopback
    # nearly always the first extend; more are allowed for scheduling noise on a busy machine
    def healed() -> bool:
        return node.get(keys.hold(item_id)) == msg._holder.encode() and node.hexists(keys.items, item_id)
    rounds = 0
    while not healed() and rounds < 50:
        assert q.extend_lock(msg) is True
        rounds += 1
    assert rounds >= 1  # the node was healed by an extend, not found healed
    assert node.get(keys.hold(item_id)) == msg._holder.encode()
    assert node.hget(keys.items, item_id) == b"precious"
    assert node.zscore(keys.order, item_id) == -4
    assert q.consume(msg) is True


def test_a_node_restarted_empty_does_not_let_a_second_consumer_in(redis5, connect):
    """One node losing its holds is within the fault budget when the others still hold a quorum."""
    q, other = connect(redis5).queue("jobs"), connect(redis5).queue("jobs")
    item_id = q.put("x")
    msg = q.get(ttl=10.0)
    hold = QueueKeys("jobs").hold(item_id)
    for _ in range(10):  # extend heals the nodes a get may have missed, until all five hold it
        assert q.extend_lock(msg)
        if all(c.get(hold) == msg._holder.encode() for c in redis5.clients()):
            break
    assert all(c.get(hold) == msg._holder.encode() for c in redis5.clients())
    redis5.servers[0].restart(empty=True)
    redis5.bootstrap(0)  # as after its recovery period (majorityredis.admission)
    reconnect(other.mr, 0)
    assert not redis5.clients()[0].exists(hold)
    assert other.get() is None
    assert q.consume(msg) is True
    with pytest.raises(LockNotOwned):
        q.release(msg)


def test_operations_survive_a_connection_error_on_one_node(redis3, connect):
    mr = connect(redis3)
    q = mr.queue("jobs")
    q.put("x")
    assert q.size() == 1  # waits for every node: each has a connection in the fan-out now
    pid = redis3.servers[2].pid
    recorder = RecordingFanout.install(mr)
    redis3.servers[2].restart()  # the server hangs up: the fan-out's connection to node 3 is dead
    assert redis3.servers[2].pid != pid
    redis3.bootstrap(2)  # as after its recovery period (majorityredis.admission)
    msg = q.get()
    assert msg is not None
    assert q.consume(msg) is True
    assert q.get() is None  # an empty answer waits for every node
    # the fault met the operations: node 3 answered from its new process, so a call found the dead
    # connection and replaced it. The fan-out drops a connection the server hung up on before writing
    # to it when the hang-up has arrived; when it has not yet, one call's write meets the dead
    # connection and that call sees a connection error from node 3 — and from no other node
    assert recorder.answered_by(2) > 0
    errors = [(node, error) for r in recorder.replies for node, error in r.errors().items()]
    assert all(node == 2 and isinstance(error, (ConnectionError, OSError, redis.ConnectionError))
               for node, error in errors), errors


def test_a_token_seen_on_one_node_only_is_written_back_before_it_is_handed_out(redis3, connect):
    mr = connect(redis3)
    q = mr.queue("jobs")
    keys = QueueKeys("jobs")
    nodes = redis3.clients()
    for item in ("a", "b"):
        item_id = q.put(item)
        for node in nodes:  # (put returns at a quorum: make sure every node stored it)
            node.hsetnx(keys.items, item_id, item)
            node.zadd(keys.order, {item_id: 0}, nx=True)
    nodes[0].set(keys.fence, 100)  # n1's counter ran ahead (it granted holds the others never saw)
    redis3.servers[2].kill()       # the grant quorum is now n1 + n2
    first = q.get()
    assert first.token == 101
    assert int(nodes[1].get(keys.fence)) >= 101  # written back: any later quorum INCRs past it
    redis3.servers[0].kill()
    redis3.servers[2].restart(empty=True)  # n3 comes back empty; the later quorum is n2 + n3
    redis3.bootstrap(2)  # as after its recovery period (majorityredis.admission)
    reconnect(mr, 2)
    second = q.get()
    assert second is not None and second.token > first.token
