"""Unit tests of the simulated Redis node: clocks, restarts, the journal, types, Lua conversions.

The differential test (tests/integration/test_sim_node_differential.py)
checks the node against a real redis-server; these check what a real server
cannot show on demand: clocks that jump or run at another rate, restarts
that lose the script cache or the last seconds of writes.
"""

from __future__ import annotations

import pytest
from redis.exceptions import DataError, NoScriptError, ResponseError

from harness.sim import node_commands
from harness.sim.node import SimRedis
from majorityredis.lock import ACQUIRE, RELEASE


class Clock:
    """A settable node clock (ms) and a true clock (s), counting how often the node reads them."""

    def __init__(self, ms: int = 1_000_000) -> None:
        self.ms = ms
        self.true_s = 100.0
        self.reads = 0

    def node_ms(self) -> int:
        self.reads += 1
        return self.ms

    def true(self) -> float:
        return self.true_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def node(clock: Clock) -> SimRedis:
    return SimRedis(clock.node_ms, journal_clock=clock.true)


# -- expiry on the node's clock ----------------------------------------------------------------------
def test_a_key_lives_until_its_expiry_time_and_is_gone_after_it(node: SimRedis, clock: Clock) -> None:
    assert node.execute(("SET", "k", "v", "PX", 1000)) == b"OK"
    clock.ms += 999
    assert node.execute(("PTTL", "k")) == 1
    clock.ms += 1  # at the expiry instant Redis still has it (keyIsExpired: now > when)
    assert node.execute(("GET", "k")) == b"v"
    assert node.execute(("PTTL", "k")) == 0
    clock.ms += 1
    assert node.execute(("GET", "k")) is None
    assert node.execute(("PTTL", "k")) == -2
    assert node.keys_snapshot() == {}


def test_a_forward_clock_jump_expires_keys_at_once(node: SimRedis, clock: Clock) -> None:
    node.execute(("SET", "lock", "me", "PX", 30_000))
    node.execute(("SET", "forever", "x"))
    clock.ms += 60_000  # the node's clock jumps a minute ahead
    assert node.execute(("EXISTS", "lock", "forever")) == 1
    assert node.execute(("SET", "lock", "you", "NX", "PX", 30_000)) == b"OK"


def test_a_backward_clock_jump_keeps_keys_longer(node: SimRedis, clock: Clock) -> None:
    node.execute(("SET", "k", "v", "PX", 1000))
    clock.ms -= 5000  # expiry is absolute on the node's clock
    assert node.execute(("PTTL", "k")) == 6000
    clock.ms += 5999
    assert node.execute(("GET", "k")) == b"v"
    clock.ms += 2
    assert node.execute(("GET", "k")) is None


def test_a_fast_node_clock_expires_keys_early_in_true_time() -> None:
    true_ms = [0]
    node = SimRedis(lambda: 2 * true_ms[0])  # the node's clock runs at rate 2
    node.execute(("SET", "k", "v", "PX", 1000))
    true_ms[0] = 499
    assert node.execute(("PTTL", "k")) == 2
    true_ms[0] = 501
    assert node.execute(("EXISTS", "k")) == 0


def test_time_is_read_once_per_command_and_frozen_inside_a_script(node: SimRedis, clock: Clock) -> None:
    node.execute(("SET", "k", "v", "PX", 10))
    clock.reads = 0
    script = "redis.call('SET', 'a', '1'); redis.call('GET', 'k'); return redis.call('PTTL', 'k')"
    assert node.execute(("EVAL", script, 0)) == 10
    assert clock.reads == 1


def test_pexpire_in_the_past_deletes_and_set_without_keepttl_persists(node: SimRedis) -> None:
    node.execute(("SET", "k", "v", "PX", 5000))
    assert node.execute(("SET", "k", "w", "KEEPTTL")) == b"OK"
    assert node.execute(("PTTL", "k")) == 5000
    assert node.execute(("SET", "k", "x")) == b"OK"
    assert node.execute(("PTTL", "k")) == -1
    assert node.execute(("PEXPIRE", "k", 0)) == 1
    assert node.execute(("EXISTS", "k")) == 0


def test_incr_keeps_the_ttl_and_refuses_non_integers(node: SimRedis) -> None:
    node.execute(("SET", "n", "41", "PX", 5000))
    assert node.execute(("INCR", "n")) == 42
    assert node.execute(("PTTL", "n")) == 5000
    node.execute(("SET", "n", "07"))
    error = node.execute(("INCR", "n"))
    assert isinstance(error, ResponseError) and "not an integer" in str(error)


# -- scripts and restarts ------------------------------------------------------------------------------
def test_evalsha_gets_noscript_after_a_restart_and_eval_reloads_it(node: SimRedis) -> None:
    assert node.execute(("SCRIPT", "LOAD", ACQUIRE.source)) == ACQUIRE.sha.encode()
    assert node.execute(("EVALSHA", ACQUIRE.sha, 2, "l", "c", "me", 1000, 0)) == [1, 0, 0]  # max_ttl 0
    node.restart()
    missing = node.execute(("EVALSHA", ACQUIRE.sha, 2, "l", "c", "me", 1000, 0))
    assert isinstance(missing, NoScriptError)
    assert node.execute(("SCRIPT", "EXISTS", ACQUIRE.sha)) == [0]
    assert node.execute(("EVAL", RELEASE.source, 1, "l", "me")) == 1  # data kept (keep="all")
    assert node.execute(("EVALSHA", RELEASE.sha.upper(), 1, "l", "me")) == 0  # cached again
    assert node.execute(("SCRIPT", "FLUSH")) == b"OK"
    assert isinstance(node.execute(("EVALSHA", RELEASE.sha, 1, "l", "me")), NoScriptError)


def test_restart_empty_loses_everything(node: SimRedis) -> None:
    node.execute(("SET", "a", "1"))
    node.execute(("HSET", "h", "f", "v"))
    node.restart(keep="none")
    assert node.keys_snapshot() == {}
    assert node.execute(("DBSIZE",)) == 0


def test_restart_losing_the_last_second_undoes_exactly_those_writes(node: SimRedis, clock: Clock) -> None:
    node.execute(("SET", "old", "1"))
    node.execute(("HSET", "h", "a", "1", "b", "2"))
    node.execute(("ZADD", "z", "1", "x", "2", "y"))
    node.execute(("SET", "ttl", "v", "PX", 60_000))
    before = node.keys_snapshot()
    clock.true_s += 5.0
    clock.ms += 5000
    node.execute(("SET", "old", "2"))
    node.execute(("HSET", "h", "a", "9", "c", "3"))
    node.execute(("HDEL", "h", "b"))
    node.execute(("ZADD", "z", "5", "x", "3", "w"))
    node.execute(("ZREM", "z", "y"))
    node.execute(("PERSIST", "ttl"))
    node.execute(("SET", "new", "1"))
    node.execute(("EVAL", "redis.call('DEL', 'old'); return redis.call('INCR', 'counter')", 0))
    node.execute(("HDEL", "h", "a", "c"))  # the hash goes away...
    node.execute(("HSET", "h", "fresh", "1"))  # ...and comes back as another one
    clock.true_s += 0.5
    node.restart(keep=1.0)  # appendfsync everysec: the last second is lost
    after = node.keys_snapshot()
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}
    assert after[b"ttl"][2] == 55_000  # the expiry is back (on the node clock, 5 s later)


def test_restart_undo_keeps_writes_older_than_the_window_and_flushall_is_undone(
        node: SimRedis, clock: Clock) -> None:
    node.execute(("SET", "a", "1"))
    clock.true_s += 3.0
    node.execute(("SET", "b", "2"))
    node.execute(("FLUSHALL",))
    node.execute(("SET", "c", "3"))
    clock.true_s += 0.1
    node.restart(keep=1.0)
    assert {k: v[1] for k, v in node.keys_snapshot().items()} == {b"a": b"1"}


def test_restart_with_lost_seconds_needs_a_journal_and_a_sane_number(clock: Clock) -> None:
    plain = SimRedis(clock.node_ms)
    with pytest.raises(ValueError, match="journal_clock"):
        plain.restart(keep=1.0)
    journaled = SimRedis(clock.node_ms, journal_clock=clock.true, journal_horizon_s=2.0)
    with pytest.raises(ValueError, match="horizon"):
        journaled.restart(keep=5.0)
    with pytest.raises(ValueError):
        journaled.restart(keep="some")


def test_the_journal_forgets_what_is_older_than_its_horizon(clock: Clock) -> None:
    node = SimRedis(clock.node_ms, journal_clock=clock.true, journal_horizon_s=2.0)
    node.execute(("SET", "a", "1"))
    clock.true_s += 3.0
    node.execute(("SET", "a", "2"))  # trims the first write's undo step
    clock.true_s += 1.9
    node.restart(keep=2.0)
    assert node.execute(("GET", "a")) == b"1"  # only the second write was within 2 s... undone
    assert node._keyspace._journal is not None and len(node._keyspace._journal) == 0


# -- types and errors ------------------------------------------------------------------------------------
def test_wrongtype_errors_in_commands_and_in_scripts(node: SimRedis) -> None:
    node.execute(("HSET", "h", "f", "v"))
    for command in (("GET", "h"), ("INCR", "h"), ("ZADD", "h", "1", "m"), ("HGET", "s", "f")):
        if command[1] == "s":
            node.execute(("SET", "s", "x"))
        error = node.execute(command)
        assert isinstance(error, ResponseError) and str(error).startswith("WRONGTYPE"), command
    raised = node.execute(("EVAL", "return redis.call('GET', KEYS[1])", 1, "h"))
    script_sha = "d3c21d0c2b9ca22f82737626a27bcaf5d288f99f"
    assert str(raised) == ("WRONGTYPE Operation against a key holding the wrong kind of value "
                           f"script: {script_sha}, on @user_script:1.")
    returned = node.execute(("EVAL", "local e = redis.pcall('GET', KEYS[1]) return e", 1, "h"))
    assert str(returned) == "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert node.execute(("SET", "h", "now a string")) == b"OK"  # SET replaces any type
    assert node.execute(("TYPE", "h")) == b"string"


def test_lua_values_convert_as_in_redis(node: SimRedis) -> None:
    def run(body: str) -> object:
        return node.execute(("EVAL", body, 0))

    assert run("return 3.99") == 3
    assert run("return -2.5") == -2
    assert run("return true") == 1
    assert run("return false") is None
    assert run("return nil") is None
    assert run("return {1, 'a', {2, false}, nil, 5}") == [1, b"a", [2, None]]
    assert run("return redis.status_reply('FINE')") == b"FINE"
    assert run("return {ok='S'}") == b"S"
    err = run("return {err='MY failure'}")
    assert isinstance(err, ResponseError) and str(err) == "MY failure"
    nested = run("return {1, redis.error_reply('inner')}")
    assert nested[0] == 1 and isinstance(nested[1], ResponseError)
    assert run("return redis.call('GET', 'missing') == false") == 1
    assert run("return redis.call('SET', 'k', 1.5) ~= nil") == 1
    assert node.execute(("GET", "k")) == b"1.5"
    assert run("return redis.sha1hex('')") == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert run("return math.huge") == -(2 ** 63)


def test_script_errors_name_the_line_and_globals_are_protected(node: SimRedis) -> None:
    error = node.execute(("EVAL", "local x = 1\nreturn x + nil", 0))
    assert isinstance(error, ResponseError)
    assert "user_script:2: attempt to perform arithmetic on a nil value" in str(error)
    assert str(error).endswith("on @user_script:2.")
    assert "readonly table" in str(node.execute(("EVAL", "x = 1", 0)))
    assert "nonexistent global variable 'os'" in str(node.execute(("EVAL", "return os.time()", 0)))
    compile_error = node.execute(("EVAL", "return = 1", 0))
    assert str(compile_error).startswith("Error compiling script (new function): user_script:1:")


def test_bad_arguments_are_error_replies_not_exceptions(node: SimRedis) -> None:
    assert isinstance(node.execute(("EVAL", "return 1", 5)), ResponseError)
    assert isinstance(node.execute(("SET", "k", "v", "PX", 0)), ResponseError)
    assert isinstance(node.execute(("NOSUCH", "x")), ResponseError)
    assert isinstance(node.execute(("GET",)), ResponseError)
    with pytest.raises(DataError):
        node.execute(("SET", "k", True))  # redis-py refuses bools before sending


def test_arguments_are_encoded_like_redis_py(node: SimRedis) -> None:
    node.execute(("SET", b"k\xff", 1.5))
    node.execute(("HSET", "h", "n", 7))
    assert node.keys_snapshot() == {b"k\xff": ("string", b"1.5", None), b"h": ("hash", {b"n": b"7"}, None)}


def test_sorted_set_ranges(node: SimRedis) -> None:
    node.execute(("ZADD", "z", "2", "b", "1", "a", "2", "a2", "-inf", "m"))
    assert node.execute(("ZRANGE", "z", 0, -1)) == [b"m", b"a", b"a2", b"b"]
    assert node.execute(("ZRANGE", "z", 0, 1, "WITHSCORES")) == [b"m", b"-inf", b"a", b"1"]
    assert node.execute(("ZRANGEBYSCORE", "z", "(1", "+inf", "LIMIT", 1, 5)) == [b"b"]
    assert node.execute(("ZREVRANGE", "z", 0, 0)) == [b"b"]
    assert node.execute(("ZCOUNT", "z", "-inf", "(2")) == 2
    assert node.execute(("ZADD", "z", "XX", "CH", "GT", "0", "b", "3", "a")) == 1
    assert node.execute(("ZSCORE", "z", "a")) == b"3"
    assert node.execute(("ZADD", "z", "INCR", "0.1", "a")) == b"3.1000000000000001"


def test_a_bug_in_the_node_raises_instead_of_becoming_a_reply(node: SimRedis,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ks: object, argv: list[bytes]) -> object:
        raise ZeroDivisionError("bug")

    monkeypatch.setitem(node_commands.COMMANDS, "GET", (2, broken))
    with pytest.raises(ZeroDivisionError):
        node.execute(("EVAL", "return redis.pcall('GET', 'k')", 0))
    with pytest.raises(ZeroDivisionError):
        node.execute(("GET", "k"))


def test_lex_ranges_on_members_of_one_score(node: SimRedis) -> None:
    node.execute(("ZADD", "z", "0", "d", "0", "b", "0", "a", "0", "c"))
    assert node.execute(("ZRANGEBYLEX", "z", "(b", "(d")) == [b"c"]
    assert node.execute(("ZRANGEBYLEX", "z", "-", "+", "LIMIT", 1, 2)) == [b"b", b"c"]
    assert node.execute(("ZREVRANGEBYLEX", "z", "[c", "-")) == [b"c", b"b", b"a"]
    assert node.execute(("ZLEXCOUNT", "z", "[b", "+")) == 3
    assert node.execute(("ZRANGEBYLEX", "z", "[c", "[b")) == []
    assert isinstance(node.execute(("ZRANGEBYLEX", "z", "b", "+")), ResponseError)
