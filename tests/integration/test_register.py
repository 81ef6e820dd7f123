"""The majority GET/SET register on real servers: semantics, versions, read-repair, faults.

Storage layout under test (majorityredis.register): hash `mr:reg:<key>` with fields
c (counter), w (writer tag), v (value; absent in a tombstone).
"""

from __future__ import annotations

import time

import pytest
import redis

from majorityredis import MajorityRedis, NoQuorum
from majorityredis.admission import SYNCED_KEY
from majorityredis.fanout import Command
from majorityredis.register import (
    ABSENT,
    INDEX_KEY,
    STORE,
    Register,
    Version,
    Versioned,
    encode_value,
    parse_reply,
    storage_key,
)
from tests.support.probes import RecordingFanout, ping_outcome
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

MODES = ["linearizable", "fast"]


def make(nodes, consistency: str = "linearizable", timeout: float = 2.0) -> MajorityRedis:
    return MajorityRedis(nodes.clients(socket_timeout=0.5), timeout=timeout, consistency=consistency)


def stored(client: redis.Redis, key: str) -> dict[bytes, bytes]:
    return client.hgetall(storage_key(key))


def tag(writer: int, number: int) -> str:
    return f"{writer:020d}{number:020d}"


# -- pure parts -----------------------------------------------------------------------------------

def test_values_are_stored_as_bytes():
    assert encode_value(b"\x00raw") == b"\x00raw"
    assert encode_value("héllo") == "héllo".encode()
    assert encode_value(42) == b"42" and encode_value(-7) == b"-7"
    assert encode_value(2.5) == b"2.5"
    assert encode_value(bytearray(b"ab")) == b"ab"
    for bad in (True, None, [1], {"a": 1}, object()):
        with pytest.raises(TypeError, match="bytes, str, int or float"):
            encode_value(bad)


def test_versions_order_by_counter_then_writer():
    assert Version(2, tag(0, 1)) > Version(1, tag(9, 9))
    assert Version(5, tag(2, 1)) > Version(5, tag(1, 99))
    assert Version(5, tag(1, 10)) > Version(5, tag(1, 9))
    assert Versioned(b"x", Version(1, tag(0, 1))).newer_than(ABSENT)
    assert not ABSENT.newer_than(Versioned(None, Version(1, tag(0, 1))))


def test_node_replies_parse():
    assert parse_reply([None, None, None]) == ABSENT
    assert parse_reply([b"3", tag(1, 2).encode(), b"v"]) == Versioned(b"v", Version(3, tag(1, 2)))
    assert parse_reply([b"3", tag(1, 2).encode(), None]) == Versioned(None, Version(3, tag(1, 2)))
    with pytest.raises(ValueError):
        parse_reply([b"x", b"y", b"z"])


# -- semantics ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_set_get_overwrite_delete(redis3, mode):
    mr = make(redis3, mode)
    assert mr.get("k") is None  # absent
    mr.set("k", "one")
    assert mr.get("k") == b"one"
    mr.set("k", b"two")
    assert mr.get("k") == b"two"
    mr.delete("k")
    assert mr.get("k") is None  # the tombstone hides the value
    mr.set("k", "three")  # a delete then a set works
    assert mr.get("k") == b"three"
    mr.delete("never-set")  # deleting an absent key is fine
    assert mr.get("never-set") is None
    assert mr.get("other") is None  # keys are independent


@pytest.mark.parametrize("mode", MODES)
def test_value_types_come_back_as_bytes(redis3, mode):
    mr = make(redis3, mode)
    for key, value, expected in [("b", b"\x00\xffbin", b"\x00\xffbin"), ("s", "text é", "text é".encode()),
                                 ("i", 12345678901234567890, b"12345678901234567890"), ("f", 0.1, b"0.1"),
                                 ("empty", b"", b"")]:
        mr.set(key, value)
        assert mr.get(key) == expected
    assert mr.get("empty") == b"" and mr.get("empty") is not None  # empty is a value, not a tombstone
    with pytest.raises(TypeError):
        mr.set("bad", True)
    assert mr.get("bad") is None


def test_bytes_keys_and_str_keys_are_the_same_register(redis3):
    mr = make(redis3)
    mr.set(b"key", "v")
    assert mr.get("key") == b"v"


def test_storage_layout_value_and_tombstone(redis3):
    mr = make(redis3)
    mr.set("k", "v")
    version = mr.register.read("k").version
    assert version == Version(1, tag(mr.register.writer_id, 1))
    expected = {b"c": b"1", b"w": version.writer.encode(), b"v": b"v"}
    # a write returns once a quorum acknowledged; the last node may hold it, or (still) nothing
    layouts = [stored(n, "k") for n in redis3.clients()]
    assert layouts.count(expected) >= 2 and all(h in (expected, {}) for h in layouts)
    mr.delete("k")
    tombstone = mr.register.read("k")
    assert tombstone.value is None and tombstone.version.counter == 2
    expected = {b"c": b"2", b"w": tombstone.version.writer.encode()}
    assert [stored(n, "k") for n in redis3.clients()].count(expected) >= 2
    assert redis3.direct(0).exists("k") == 0  # the user's own key space is untouched


def test_each_linearizable_write_gets_a_higher_version(redis3):
    mr = make(redis3)
    other = Register(mr)  # a second writer
    versions = []
    for i in range(6):
        (mr.register if i % 2 else other).set("k", i)
        versions.append(mr.register.read("k").version)
    assert versions == sorted(versions) and len(set(versions)) == 6
    assert [v.counter for v in versions] == [1, 2, 3, 4, 5, 6]


def test_fast_mode_versions_come_from_the_injected_wall_clock(redis3):
    mr = make(redis3, "fast")
    register = Register(mr, "fast", wall_clock=lambda: 1_700_000_000_123_456_789)
    register.set("k", "v")
    assert register.read("k").version.counter == 1_700_000_000_123_456_789
    assert stored(redis3.direct(0), "k")[b"c"] == b"1700000000123456789"  # exact beyond 2**53


# -- the node-side STORE script ------------------------------------------------------------------------

def store_directly(client: redis.Redis, key: str, counter: int, writer: str, value: bytes | None) -> int:
    args = ["1", str(counter), writer, "0" if value is None else "1"] + ([] if value is None else [value])
    return client.eval(STORE.source, 2, storage_key(key), INDEX_KEY, *args)


def test_store_never_moves_a_node_backwards(redis3):
    node = redis3.direct(0)
    assert store_directly(node, "k", 5, tag(1, 1), b"five") == 1
    assert store_directly(node, "k", 4, tag(9, 9), b"four") == 0  # lower counter
    assert store_directly(node, "k", 5, tag(0, 9), b"low-tag") == 0  # equal counter, lower writer
    assert store_directly(node, "k", 5, tag(1, 1), b"repeat") == 0  # the same version again
    assert stored(node, "k") == {b"c": b"5", b"w": tag(1, 1).encode(), b"v": b"five"}
    assert store_directly(node, "k", 5, tag(1, 2), None) == 1  # higher tag: a tombstone wins
    assert stored(node, "k") == {b"c": b"5", b"w": tag(1, 2).encode()}
    # counters compare as numbers even past 2**53 and across digit counts
    assert store_directly(node, "k", 10, tag(0, 0), b"ten") == 1
    assert store_directly(node, "k", 9_007_199_254_740_993, tag(0, 0), b"big") == 1
    assert store_directly(node, "k", 9_007_199_254_740_992, tag(9, 9), b"smaller") == 0
    assert stored(node, "k")[b"v"] == b"big"


# -- read-repair (each test builds the nodes' state directly, then reads through the library) -----------

OLD = Version(1, tag(7, 1))
NEW = Version(2, tag(7, 2))


def hold(nodes, index: int, version: Version, value: bytes | None) -> None:
    assert store_directly(nodes.direct(index), "k", version.counter, version.writer, value) == 1


def test_a_read_repairs_a_stale_node(redis3):
    mr = make(redis3)
    hold(redis3, 0, OLD, b"old")  # node 0 is behind
    hold(redis3, 1, NEW, b"new")
    hold(redis3, 2, NEW, b"new")
    redis3.servers[1].kill()  # so the read's quorum must be nodes 0 and 2: it sees the stale node
    assert mr.get("k") == b"new"
    assert stored(redis3.direct(0), "k") == {b"c": b"2", b"w": NEW.writer.encode(), b"v": b"new"}


def test_a_read_repairs_a_stale_node_with_a_tombstone(redis3):
    mr = make(redis3)
    hold(redis3, 0, NEW, None)
    hold(redis3, 1, NEW, None)
    hold(redis3, 2, OLD, b"old")  # node 2 missed the delete
    redis3.servers[0].kill()
    assert mr.get("k") is None
    assert stored(redis3.direct(2), "k") == {b"c": b"2", b"w": NEW.writer.encode()}


def test_a_node_restarted_empty_votes_again_once_resynchronised(redis3):
    mr = make(redis3)
    for node in range(3):
        hold(redis3, node, NEW, b"kept")
    redis3.servers[0].restart(empty=True)
    assert stored(redis3.direct(0), "k") == {}  # the fault happened: node 0 lost the register
    assert mr.resync() == [mr.node_label(0)]
    assert stored(redis3.direct(0), "k")[b"v"] == b"kept"  # copied from the quorum
    assert mr.resync() == []  # nothing left to do
    redis3.servers[1].kill()
    assert mr.get("k") == b"kept"  # node 0 and node 2 are a quorum again


def test_a_node_restarted_empty_never_makes_a_quorum_before_its_resync(redis3):
    mr = make(redis3)
    for node in range(3):
        hold(redis3, node, NEW, b"kept")
    redis3.servers[0].restart(empty=True)
    redis3.servers[1].kill()  # only node 2 kept the data and is up: no quorum of voting nodes
    with pytest.raises(NoQuorum, match="abstained"):
        mr.get("k")
    with pytest.raises(NoQuorum):
        mr.resync()  # nobody to copy from: a quorum of synced nodes is needed
    assert redis3.direct(0).exists(SYNCED_KEY) == 0


@pytest.mark.parametrize("recovery", [True, False])
def test_the_issue_scenario_one_empty_restart_never_brings_an_older_value_back(redis_nodes, recovery):
    """Issue 16: 3 nodes; a write acknowledged by n1+n2 while n3 is cut off; n2 restarted empty; n1
    cut off. Without recovery a read returns the older value; with it, n2 abstains instead."""
    nodes = redis_nodes(3, persistence="appendonly always")  # a cut-off node comes back with its (stale) data
    n1, n2, n3 = nodes.servers
    mr = MajorityRedis(nodes.clients(socket_timeout=0.5), timeout=1.0, recovery=recovery)
    mr.set("k", 100)
    wait_until(lambda: stored(nodes.direct(2), "k").get(b"v") == b"100")  # on all three
    n3.kill()  # n3 cut off
    mr.set("k", 106)  # acknowledged by n1 + n2
    assert mr.get("k") == b"106"
    n3.start()  # back, with 100
    assert stored(nodes.direct(2), "k")[b"v"] == b"100"
    n2.restart(empty=True)  # n2 lost its data
    n1.kill()  # n1 cut off
    if not recovery:
        assert mr.get("k") == b"100"  # the anomaly: older than the 106 read above
        return
    with pytest.raises(NoQuorum, match="abstained"):
        mr.get("k")
    n1.start()  # n1 back: a quorum of synced nodes (n1, n3) to resynchronise n2 from
    wait_until(lambda: mr.resync() == [] and nodes.direct(1).exists(SYNCED_KEY) == 1, timeout=10)
    assert stored(nodes.direct(1), "k")[b"v"] == b"106"
    n1.kill()
    assert mr.get("k") == b"106"


def test_a_write_reaching_one_node_is_seen_and_written_back(redis5):
    """A write that reached a single node (a minority) is returned by a read that sees it, then made durable."""
    mr = make(redis5)
    for node in range(5):
        hold(redis5, node, OLD, b"old")
    hold(redis5, 3, NEW, b"partial")
    for server in redis5.servers[:2]:
        server.kill()  # the read's quorum is nodes 2, 3, 4
    assert mr.get("k") == b"partial"
    assert [stored(redis5.direct(n), "k")[b"v"] for n in (2, 3, 4)] == [b"partial"] * 3


def test_a_read_that_finds_a_quorum_up_to_date_writes_nothing(redis3):
    mr = make(redis3)
    for node in range(3):
        hold(redis3, node, NEW, b"v")
    calls = []
    original = mr.register.store
    mr.register.store = lambda *a, **kw: calls.append(a) or original(*a, **kw)  # type: ignore[method-assign]
    assert mr.get("k") == b"v"
    assert calls == []  # one round trip: no write-back needed


def test_fast_mode_read_repairs_in_the_background(redis3):
    mr = make(redis3, "fast")
    hold(redis3, 0, OLD, b"old")
    hold(redis3, 2, NEW, b"new")
    redis3.servers[1].kill()
    # every live node has an idle connection: the repair is sent on it (a node being reconnected
    # would be skipped; a later read repairs it)
    assert len(mr.fanout.call(Command(("PING",))).ok()) == 2
    assert mr.get("k") == b"new"
    wait_until(lambda: stored(redis3.direct(0), "k").get(b"v") == b"new")  # sent without waiting


# -- faults ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_a_minority_killed_changes_nothing(redis5, mode):
    mr = make(redis5, mode)
    mr.set("k", "before")
    recorder = RecordingFanout.install(mr)
    redis5.servers[0].kill()
    redis5.servers[3].kill()
    assert [ping_outcome(redis5.urls[i]) for i in (0, 3)] == ["error", "error"]   # the fault is in effect
    assert mr.get("k") == b"before"
    mr.set("k", "after")
    assert mr.get("k") == b"after"
    mr.delete("k")
    assert mr.get("k") is None
    mr.set("k2", 7)
    assert mr.get("k2") == b"7"
    # ... and every operation met it: no call had an answer from n1 or n4 (dead throughout), so each
    # quorum of 3 was made of the three live nodes alone
    assert not redis5.servers[0].is_running() and not redis5.servers[3].is_running()
    assert len(recorder.replies) >= 7
    assert recorder.values_from(0) == [] and recorder.values_from(3) == []
    assert all(recorder.answered_by(i) >= 7 for i in (1, 2, 4))


@pytest.mark.parametrize("mode", MODES)
def test_a_majority_down_raises_no_quorum_within_the_timeout(redis5, mode):
    mr = make(redis5, mode, timeout=1.0)
    mr.set("k", "v")
    for server in redis5.servers[:3]:
        server.kill()
    for operation in (lambda: mr.get("k"), lambda: mr.set("k", "w"), lambda: mr.delete("k")):
        started = time.monotonic()
        with pytest.raises(NoQuorum) as info:
            operation()
        assert time.monotonic() - started < 1.0 + 3.0  # the timeout plus a generous bound
        error = info.value
        assert (error.quorum, error.n_servers) == (3, 5) and error.agreed <= 2
        assert len(error.errors) == 3 and all(isinstance(e, redis.ConnectionError) for e in error.errors.values())
        assert "a quorum is 3" in str(error) and "majority of the Redis servers" in str(error)


def test_a_majority_paused_raises_no_quorum_after_the_deadline(redis5):
    mr = make(redis5, timeout=0.5)
    mr.set("k", "v")
    for server in redis5.servers[2:]:
        server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(NoQuorum) as info:
            mr.get("k")
        elapsed = time.monotonic() - started
    finally:
        for server in redis5.servers[2:]:
            server.resume()
    assert 0.5 <= elapsed < 0.5 + 3.0
    # a paused node times out: on the open connection (the deadline) or, if its connection had to be
    # remade (the previous call returned before its reply), in the handshake (redis-py's TimeoutError)
    assert info.value.agreed == 2
    assert all(isinstance(e, (TimeoutError, redis.TimeoutError)) for e in info.value.errors.values())
    assert mr.get("k") == b"v"  # all resumed: works again


def test_a_write_without_quorum_may_be_repaired_into_view(redis3):
    """NoQuorum on set means "unknown": the value reached node 0 and a later read makes it visible."""
    mr = make(redis3, timeout=1.0)
    for node in range(3):
        hold(redis3, node, OLD, b"old")
    redis3.servers[1].kill()
    redis3.servers[2].kill()
    with pytest.raises(NoQuorum):
        mr.set("k", "new")  # fails in its version read: nothing written
    assert stored(redis3.direct(0), "k")[b"v"] == b"old"
    # a version read that succeeds, then the write phase without a quorum; node 1 comes back
    # empty but admitted (as a node that never had k would be: stale, not recovering)
    redis3.servers[1].restart()
    redis3.bootstrap(1)
    register = mr.register
    seen = register.collect("k", deadline=mr.clock() + 1.0, operation="test")
    counter = max(v.version.counter for v in seen.values() if v.version) + 1
    version = Version(counter, tag(register.writer_id, 999))
    redis3.servers[1].kill()
    with pytest.raises(NoQuorum, match="set"):
        register.store("k", Versioned(b"new", version), range(3), already=0,
                       deadline=mr.clock() + 1.0, operation="set")
    wait_until(lambda: stored(redis3.direct(0), "k")[b"v"] == b"new")  # it took effect on one node
    redis3.servers[1].restart()  # comes back empty: admitted as a stale node again
    redis3.bootstrap(1)
    assert mr.get("k") == b"new"  # repaired into view: quorum {0, 1}
    assert stored(redis3.direct(1), "k")[b"v"] == b"new"


def test_n_servers_beyond_the_clients_needs_a_quorum_of_all(redis3):
    mr = MajorityRedis(redis3.clients(), n_servers=4, timeout=1.0)  # quorum 3 of 4: every client needed
    mr.set("k", "v")
    assert mr.get("k") == b"v"
    redis3.servers[2].kill()
    with pytest.raises(NoQuorum) as info:
        mr.get("k")
    assert (info.value.quorum, info.value.n_servers, info.value.agreed) == (3, 4, 2)

