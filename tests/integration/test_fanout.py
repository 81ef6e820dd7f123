"""Fanout against real servers: early decision, paused and killed nodes, NOSCRIPT, deadlines, threads.

Tests never assert speed. "Returned early" is shown as an ordering fact: the
call returned while a node was still paused (SIGSTOP), with that node's reply
missing — had it waited for the node, the node would be present (with a reply
or a TimeoutError at the deadline).
"""

from __future__ import annotations

import threading
import time

import pytest
import redis

from majorityredis import MajorityRedis
from majorityredis.fanout import Command, Fanout, Replies
from majorityredis.scripts import Script
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ECHO = Script("echo_test", """\
-- Test script: echo an argument back.
-- KEYS: none   ARGV[1]: any string
-- Returns ARGV[1].
return ARGV[1]
""")


ECHO_SET = Script("echo_set_test", """\
-- Test script: set a key.
-- KEYS[1]: key   ARGV[1]: value
-- Returns 1.
redis.call('SET', KEYS[1], ARGV[1])
return 1
""")


def quorum_ok(mr: MajorityRedis):
    return lambda r: mr.tally(len(r.ok()), len(r.errors())).decided


def warm(mr: MajorityRedis) -> None:
    """One call so that every node has an idle connected connection."""
    replies = mr.fanout.call(Command(("PING",)))
    assert replies.values == dict.fromkeys(range(len(mr.clients)), b"PONG")


def test_all_nodes_answer_one_command(redis5):
    mr = MajorityRedis(redis5.clients())
    replies = mr.fanout.call(Command(("SET", "k", "v")))
    assert replies.values == dict.fromkeys(range(5), b"OK")  # raw replies: bytes
    assert all(c.get("k") == b"v" for c in redis5.clients())


def test_a_request_larger_than_the_socket_buffer_is_written_whole(redis3, monkeypatch):
    """A 16 MB SET cannot go out in one write: the rest follows until all of it is sent."""
    import os

    writes: list[tuple[int, int]] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        written = real_write(fd, data)
        writes.append((len(data), written))
        return written

    monkeypatch.setattr(os, "write", counting_write)
    big = bytes(range(256)) * (16 * 4096)  # 16 MiB
    mr = MajorityRedis(redis3.clients(socket_timeout=10.0), timeout=30.0)
    replies = mr.fanout.call(Command(("SET", "big", big)))
    assert replies.values == dict.fromkeys(range(3), b"OK")
    assert any(written < size for size, written in writes)  # some first write was partial ...
    assert all(c.get("big") == big for c in redis3.clients(socket_timeout=10.0))  # ... and all arrived


def test_a_script_sent_after_the_call_returned_runs_on_nodes_that_never_cached_it(redis3):
    """The call returns before any connection is up; each node gets the script once connected
    — as EVAL, since an EVALSHA there would meet NOSCRIPT with nobody left to answer it."""
    mr = MajorityRedis(redis3.clients())
    replies = mr.fanout.call(ECHO_SET.command(("marked",), ("yes",)), done=lambda _r: True)
    assert replies.values == {}  # returned before any node answered
    wait_until(lambda: all(c.get("marked") == b"yes" for c in redis3.clients()), 5.0,
               describe=lambda: [c.get("marked") for c in redis3.clients()])
    assert all(c.script_exists(ECHO_SET.sha) == [True] for c in redis3.clients())  # and cached there now


def test_per_node_commands_reach_only_their_node(redis3):
    mr = MajorityRedis(redis3.clients())
    replies = mr.fanout.call({0: Command(("SET", "k", "zero")), 2: Command(("SET", "k", "two"))})
    assert replies.values == {0: b"OK", 2: b"OK"}
    assert [c.get("k") for c in redis3.clients()] == [b"zero", None, b"two"]


def test_returns_once_done_while_a_node_is_paused(redis3):
    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=20.0)
    warm(mr)
    paused = redis3.servers[2]
    paused.pause()
    try:
        replies = mr.fanout.call(Command(("SET", "k", "v1")), done=quorum_ok(mr), timeout=20.0)
        still_paused = paused.paused and paused.is_running()
    finally:
        paused.resume()
    assert still_paused  # it returned before the node was resumed ...
    assert replies.values == {0: b"OK", 1: b"OK"}  # ... without the paused node's reply, and no timeout entry
    assert len(mr.fanout._parked[2]) == 1  # the paused node's connection owes a reply


def test_a_late_reply_is_drained_before_the_connection_is_reused(redis3):
    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=20.0)
    warm(mr)
    node = redis3.servers[2]
    node.pause()
    try:
        mr.fanout.call(Command(("SET", "k", "v1")), done=quorum_ok(mr))
    finally:
        node.resume()
    direct = redis3.direct(2)
    wait_until(lambda: direct.get("k") == b"v1")  # the paused SET ran after resume; its +OK is on the socket
    time.sleep(0.05)
    owed = mr.fanout._parked[2][0].conn
    for i in range(5):  # in step: every GET after a SET answers the value just set, not a stale +OK
        assert mr.fanout.call({2: Command(("SET", "k", f"v{i + 2}"))}).values == {2: b"OK"}
        assert mr.fanout.call({2: Command(("GET", "k"))}).values == {2: f"v{i + 2}".encode()}
    assert mr.fanout._parked[2] == []
    assert owed._sock is not None  # drained and reused, not thrown away


def test_a_line_whose_reply_is_overdue_gets_no_more_commands(redis3):
    """A node that has owed a reply for longer than the deadline is not written to on that
    connection again: the next call tries another one (here a reconnect, which the paused
    node cannot answer), and the node is back in step once it resumes."""
    mr = MajorityRedis(redis3.clients(socket_timeout=0.5), timeout=0.3)
    warm(mr)
    node = redis3.servers[2]
    node.pause()
    try:
        first = mr.fanout.call(Command(("SET", "k", "v1")), done=quorum_ok(mr))
        time.sleep(0.35)  # the SET's reply is now overdue
        second = mr.fanout.call(Command(("GET", "k")), done=quorum_ok(mr))
        stuck = [[command.args[0] for command, _sent in line.owed] for line in mr.fanout._parked[2]]
    finally:
        node.resume()
    assert 2 not in first.values and set(second.ok()) >= {0, 1}
    assert stuck == [["SET"]]  # the GET was not pipelined behind the overdue SET
    for i in range(5):
        replies = mr.fanout.call(Command(("SET", "k", f"w{i}")), timeout=5.0)
        assert replies.values == dict.fromkeys(range(3), b"OK")
        replies = mr.fanout.call(Command(("GET", "k")), timeout=5.0)
        assert replies.values == dict.fromkeys(range(3), f"w{i}".encode())


# BLPOP blocks only its own connection. A command that follows it to the same node runs
# after it when it is pipelined behind it; on another connection it would run at once — and
# an RPUSH to the list would hand its element to the waiting BLPOP.

def test_calls_one_after_another_reach_a_node_in_the_order_they_were_made(redis3):
    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=5.0)
    warm(mr)
    first = mr.fanout.call({0: Command(("BLPOP", "gate", "0.5"))}, done=lambda _r: True)
    assert first.values == {}  # returned without waiting for the BLPOP
    second = mr.fanout.call({0: Command(("RPUSH", "gate", "x"))})
    assert second.values == {0: 1}  # its own reply, not the BLPOP's nil read before it
    assert redis3.direct(0).lrange("gate", 0, -1) == [b"x"]  # the BLPOP had timed out when the RPUSH ran
    assert mr.fanout._parked[0] == []


def test_order_holds_across_a_connection_still_being_made(redis3):
    """The first call returns before any connection is up; the next joins that connect and
    writes its command after the first call's."""
    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=5.0)
    first = mr.fanout.call({0: Command(("BLPOP", "gate", "0.5"))}, done=lambda _r: True)
    assert first.values == {}
    second = mr.fanout.call({0: Command(("RPUSH", "gate", "x"))})
    assert second.values == {0: 1}
    assert redis3.direct(0).lrange("gate", 0, -1) == [b"x"]


def test_several_late_replies_are_read_in_order_before_the_calls_own(redis3):
    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=5.0)
    warm(mr)
    mr.fanout.call({0: Command(("BLPOP", "gate", "0.3"))}, done=lambda _r: True)
    mr.fanout.call({0: Command(("INCR", "n"))}, done=lambda _r: True)
    mr.fanout.call({0: ECHO.command((), ("late",))}, done=lambda _r: True)
    third = mr.fanout.call({0: Command(("GET", "n"))})
    assert third.values == {0: b"1"}  # not nil (BLPOP), 1 (INCR) nor b"late" (the script)
    assert mr.fanout._parked[0] == [] and [list(line.owed) for line in mr.fanout._idle[0]] == [[]]
    assert ECHO.sha in mr.fanout._cached_scripts[0]  # learnt from the script's late reply


def test_an_overdue_line_lets_the_next_command_overtake_it(redis3):
    """The other side of the deadline rule: a BLPOP owed longer than the deadline no longer
    holds the node's later commands back."""
    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=0.3)
    warm(mr)
    mr.fanout.call({0: Command(("BLPOP", "gate", "3")), 1: Command(("PING",))}, done=lambda _r: True)
    time.sleep(0.35)
    second = mr.fanout.call({0: Command(("RPUSH", "gate", "x"))}, timeout=5.0)
    assert second.values == {0: 1}
    wait_until(lambda: redis3.direct(0).llen("gate") == 0)  # the BLPOP took the element
    replies = mr.fanout.call({0: Command(("GET", "gate:none"))}, timeout=5.0)
    assert replies.values == {0: None}
    wait_until(lambda: not mr.fanout.call({0: Command(("PING",))}).errors() and not mr.fanout._parked[0],
               describe=lambda: mr.fanout._parked[0])  # the BLPOP's late reply drained in the end


def test_a_killed_node_is_an_error_reply_and_blocks_no_one(redis3):
    """Each call ends once every node answered, well before its (20 s) deadline: no waiting on the dead."""
    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=20.0)
    warm(mr)  # node 0 has an idle connection whose peer will vanish

    def ping_all() -> Replies:
        started = time.monotonic()
        replies = mr.fanout.call(Command(("PING",)))
        assert time.monotonic() - started < 20.0  # ended by the answers, not by the deadline
        return replies

    redis3.servers[0].kill()
    replies = ping_all()
    assert replies.values[1] == replies.values[2] == b"PONG"
    assert isinstance(replies.values[0], redis.ConnectionError)
    for _ in range(5):  # no idle connection now: the connect on the pool is refused (regression: this
        again = ping_all()  # used to wait out the whole deadline when that refusal came last)
        assert isinstance(again.values[0], redis.ConnectionError) and again.values[1] == b"PONG"
    redis3.servers[0].restart()
    assert ping_all().values == dict.fromkeys(range(3), b"PONG")


def test_a_node_down_from_the_start_is_an_error_reply(redis3):
    redis3.servers[1].kill()
    mr = MajorityRedis(redis3.clients(), timeout=5.0)
    replies = mr.fanout.call(Command(("SET", "k", "v")))
    assert replies.ok() == {0: b"OK", 2: b"OK"}
    assert isinstance(replies.errors()[1], redis.ConnectionError)


def test_noscript_is_answered_with_eval_and_the_script_cached(redis3):
    mr = MajorityRedis(redis3.clients())
    direct = redis3.clients()
    assert not any(c.script_exists(ECHO.sha)[0] for c in direct)  # first call meets NOSCRIPT everywhere
    assert mr.fanout.call(ECHO.command([], ["hello"])).values == dict.fromkeys(range(3), b"hello")
    assert all(c.script_exists(ECHO.sha)[0] for c in direct)
    direct[1].script_flush()  # as if node 1 were replaced
    assert not direct[1].script_exists(ECHO.sha)[0]
    assert mr.fanout.call(ECHO.command([], ["again"])).values == dict.fromkeys(range(3), b"again")
    assert direct[1].script_exists(ECHO.sha)[0]


def test_a_script_whose_reply_nobody_waits_for_runs_where_it_was_never_cached(redis3):
    """Nodes 1 and 2 are paused when the call returns on node 0's reply; once resumed they run
    the script although they never had it: it went as EVAL, not an EVALSHA meeting NOSCRIPT."""
    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=10.0)
    warm(mr)
    for server in redis3.servers[1:]:
        server.pause()
    try:
        replies = mr.fanout.call(ECHO_SET.command(("seen",), ("yes",)), done=lambda r: 0 in r.values)
    finally:
        for server in redis3.servers[1:]:
            server.resume()
    assert replies.values == {0: 1}
    wait_until(lambda: all(c.get("seen") == b"yes" for c in redis3.clients()), 5.0,
               describe=lambda: [c.get("seen") for c in redis3.clients()])
    mr.fanout.call(Command(("PING",)))  # drains the late replies: they show the script cached
    assert mr.fanout._cached_scripts == [{ECHO_SET.sha}] * 3


def test_a_node_that_lost_its_scripts_gets_eval_on_the_next_call(redis3):
    mr = MajorityRedis(redis3.clients())
    assert mr.fanout.call(ECHO_SET.command(("k",), ("1",))).values == dict.fromkeys(range(3), 1)
    redis3.clients()[2].script_flush()  # the connection stays up: only a NOSCRIPT tells
    assert mr.fanout.call(ECHO_SET.command(("k",), ("2",))).values == dict.fromkeys(range(3), 1)
    assert redis3.clients()[2].get("k") == b"2"  # answered with EVAL within the same call


def test_noscript_without_a_fallback_is_that_nodes_error(redis3):
    mr = MajorityRedis(redis3.clients())
    replies = mr.fanout.call(Command(("EVALSHA", ECHO.sha, 0, "x")))
    assert all(isinstance(v, redis.exceptions.NoScriptError) for v in replies.values.values())
    assert mr.fanout.call(Command(("PING",))).values == dict.fromkeys(range(3), b"PONG")  # still in step


def test_error_replies_are_values_and_keep_the_connection(redis3):
    mr = MajorityRedis(redis3.clients())
    mr.fanout.call(Command(("SET", "s", "x")))
    replies = mr.fanout.call(Command(("LPUSH", "s", "y")))
    assert all(isinstance(v, redis.ResponseError) and "WRONGTYPE" in str(v) for v in replies.values.values())
    assert mr.fanout.call(Command(("GET", "s"))).values == dict.fromkeys(range(3), b"x")


def test_the_deadline_is_honoured_when_a_majority_is_paused(redis5):
    mr = MajorityRedis(redis5.clients(socket_timeout=5.0), timeout=5.0)
    warm(mr)
    for server in redis5.servers[2:]:
        server.pause()
    try:
        started = time.monotonic()
        replies = mr.fanout.call(Command(("SET", "k", "v")), done=quorum_ok(mr), timeout=0.5)
        elapsed = time.monotonic() - started
        still_paused = all(s.paused for s in redis5.servers[2:])
    finally:
        for server in redis5.servers[2:]:
            server.resume()
    assert still_paused
    assert replies.ok() == {0: b"OK", 1: b"OK"}
    assert sorted(replies.errors()) == [2, 3, 4]
    assert all(isinstance(e, TimeoutError) for e in replies.errors().values())
    assert elapsed >= 0.5            # it waited for the deadline (done was never satisfied) ...
    assert elapsed < 0.5 + 4.0       # ... and not for the 5 s socket timeout (a generous liveness bound)


def test_deadline_with_injected_clock_counts_on_that_clock(redis3):
    """The deadline is measured on the injected clock: a clock that jumps ends the call at once."""
    now = [0.0]

    def clock() -> float:
        now[0] += 100.0  # every reading is 100 s later
        return now[0]

    mr = MajorityRedis(redis3.clients(socket_timeout=5.0), timeout=5.0)
    warm(mr)
    fanout = Fanout(mr.clients, timeout=30.0, clock=clock)
    redis3.servers[0].pause()
    try:
        replies = fanout.call(Command(("PING",)), done=lambda r: False)
    finally:
        redis3.servers[0].resume()
    assert isinstance(replies.values[0], TimeoutError)


def test_eight_threads_share_one_instance_without_cross_talk(redis5):
    mr = MajorityRedis(redis5.clients(socket_timeout=5.0), timeout=10.0)
    failures: list[str] = []
    start = threading.Barrier(8)

    def worker(t: int) -> None:
        start.wait()
        mine: dict[str, set[bytes | None]] = {}  # values this thread wrote per key
        for i in range(150):
            key, value = f"t{t}:k{i % 7}", f"t{t}-v{i}".encode()
            mine.setdefault(key, {None}).add(value)
            done = quorum_ok(mr) if i % 2 else None  # half the calls return early: owed connections
            replies: Replies = mr.fanout.call(Command(("SET", key, value)), done=done)
            if any(v != b"OK" for v in replies.values.values()) or len(replies.ok()) < 3:
                failures.append(f"thread {t} SET {key}: {replies.values}")
            got = mr.fanout.call(Command(("GET", key)))
            for node, reply in got.values.items():
                # a node that acknowledged the SET must show it; one that had not answered may still
                # run it later (on another connection), so it may show an older value of this thread
                if reply != value if node in replies.values else reply not in mine[key]:
                    failures.append(f"thread {t} GET {key} on node {node}: {reply!r}, wrote {value!r}")
            if len(got.values) != 5:
                failures.append(f"thread {t} GET {key}: {got.values}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    for node in redis5.clients():
        assert node.get("t3:k0") is not None

