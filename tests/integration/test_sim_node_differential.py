"""Differential test: the simulated node (harness.sim.node.SimRedis) against a real redis-server.

Every Lua script of the majorityredis package (found by scanning its modules
for `Script` values, so a new script is covered without editing this file)
runs with random arguments on random prior key states — missing keys, keys
with and without TTLs, keys that expired but were never touched since,
values of the wrong type — on a real redis-server and on a SimRedis whose
clock is aligned to the server's TIME (each command runs on the server, then on
the node with its clock at the moment the command was sent). Every reply is compared exactly
(parsed by majorityredis.resp off the real socket: same classes, same error
wording), and so is every key the call could touch afterwards: type, value
and expiry time (within 50 ms). Plain commands (HMGET, SET options, Z*, H*, expiry)
get the same treatment. Seeded: a failure prints the seed and the call.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import random
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

import majorityredis
from harness.sim.node import SimRedis, encode_arg
from majorityredis import resp
from majorityredis.scripts import Script

pytestmark = pytest.mark.integration

PTTL_TOLERANCE_MS = 50
SEED = int(os.environ.get("SIM_NODE_SEED", "20261202"))
ROUNDS = int(os.environ.get("SIM_NODE_ROUNDS", "50"))  # more: SIM_NODE_ROUNDS=300
CALLS_PER_ROUND = 60
PLAIN_ROUNDS = 25


# -- the real side: a pipelined RESP2 connection --------------------------------------------------
class RawRedis:
    """Commands pipelined over one socket; replies parsed by majorityredis.resp (as the fan-out does)."""

    def __init__(self, host: str, port: int) -> None:
        self._sock = socket.create_connection((host, port), timeout=10)
        self._buffer = bytearray()

    def close(self) -> None:
        self._sock.close()

    def call_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        wire = bytearray()
        for args in commands:
            encoded = [encode_arg(a) for a in args]
            wire += b"*%d\r\n" % len(encoded)
            for arg in encoded:
                wire += b"$%d\r\n%s\r\n" % (len(arg), arg)
        self._sock.sendall(wire)
        replies = []
        while len(replies) < len(commands):
            parsed = resp.parse(self._buffer, 0)
            if parsed is resp.INCOMPLETE:
                chunk = self._sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("redis-server closed the connection")
                self._buffer += chunk
                continue
            value, end = parsed
            del self._buffer[:end]
            replies.append(value)
        return replies

    def call(self, *args: Any) -> Any:
        return self.call_many([args])[0]


@pytest.fixture
def real(redis_nodes) -> Iterator[RawRedis]:  # type: ignore[no-untyped-def]
    server = redis_nodes(1).servers[0]
    conn = RawRedis(server.host, server.port)
    try:
        yield conn
    finally:
        conn.close()


class Lockstep:
    """Runs each command on the real server, then on the node with its clock at the moment it was sent.

    The server ran the command somewhere in [sent, replied]; the node runs it at
    `sent` on a clock aligned to the server's TIME. So an expiry the two set
    differs by at most the command's round trip: `slack_ms` keeps the longest one
    seen, and expiry times are compared within PTTL_TOLERANCE_MS plus the longest
    round trip among the commands that touched the key (`last_slack_ms`).
    """

    def __init__(self, real: RawRedis) -> None:
        self.real = real
        before = time.time()
        seconds, micros = real.call("TIME")
        after = time.time()
        self._offset = (int(seconds) + int(micros) / 1e6) - (before + after) / 2
        self._frozen: int | None = None
        self.slack_ms = 0  # the longest round trip so far
        self.last_slack_ms = 0
        self.sim = SimRedis(self.clock)

    def now(self) -> int:
        """The server's clock, ms (same host: the local clock plus a measured offset)."""
        return int((time.time() + self._offset) * 1000)

    def clock(self) -> int:
        return self.now() if self._frozen is None else self._frozen

    def run(self, command: Sequence[Any]) -> tuple[Any, Any]:
        sent = self.now()
        real_reply = self.real.call(*command)
        self.last_slack_ms = self.now() - sent + 1
        self.slack_ms = max(self.slack_ms, self.last_slack_ms)
        self._frozen = sent
        try:
            return real_reply, self.sim.execute(command)
        finally:
            self._frozen = None


# -- comparing -------------------------------------------------------------------------------------
def same_reply(a: Any, b: Any) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_reply(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def read_state_commands(key: bytes) -> list[tuple[Any, ...]]:
    return [("TYPE", key), ("PEXPIRETIME", key), ("GET", key), ("HGETALL", key),
            ("ZRANGE", key, 0, -1, "WITHSCORES"), ("SMEMBERS", key)]


def real_state(replies: list[Any]) -> tuple[str, Any, int | None] | None:
    """(type, value, absolute expiry ms) from the replies to read_state_commands (wrong-type reads ignored)."""
    kind, expiry, string, flat_hash, flat_zset, members = replies
    kind = kind.decode()
    if kind == "none":
        return None
    value: Any
    if kind == "string":
        value = string
    elif kind == "hash":
        value = dict(zip(flat_hash[::2], flat_hash[1::2]))
    elif kind == "zset":
        value = {m: float(s) for m, s in zip(flat_zset[::2], flat_zset[1::2])}
    elif kind == "set":
        value = set(members)
    else:
        raise AssertionError(f"unexpected type {kind}")
    return kind, value, (None if expiry == -1 else expiry)


def same_state(real_key: tuple[str, Any, int | None] | None,
               sim_key: tuple[str, Any, int | None] | None, now_ms: int, tolerance_ms: int) -> bool:
    """Same type and value, and absolute expiry times within the tolerance."""
    def expiring(state: tuple[str, Any, int | None] | None) -> bool:
        return state is not None and state[2] is not None and state[2] <= now_ms + tolerance_ms
    if real_key is None or sim_key is None:
        # a key whose TTL ends right now may be gone on one side only
        return real_key == sim_key or expiring(real_key) or expiring(sim_key)
    if real_key[:2] != sim_key[:2]:
        return False
    if (real_key[2] is None) != (sim_key[2] is None):
        return False
    return real_key[2] is None or abs(real_key[2] - sim_key[2]) <= tolerance_ms  # type: ignore[operator]


# -- the scripts and their arguments ----------------------------------------------------------------
def library_scripts() -> list[Script]:
    """Every Script value defined in a module of the majorityredis package (one per SHA)."""
    found: dict[str, Script] = {}
    for info in pkgutil.walk_packages(majorityredis.__path__, "majorityredis."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Script):
                found.setdefault(value.sha, value)
    return sorted(found.values(), key=lambda s: s.name)


def header_counts(script: Script) -> tuple[int, int]:
    """(number of KEYS, number of ARGV) from the script's header comment and body."""
    keys = [int(n) for n in re.findall(r"KEYS\[(\d+)\]", script.source)]
    argv = [int(n) for n in re.findall(r"ARGV\[(\d+)\]", script.source)]
    return max(keys, default=0), max(argv, default=0)


IDS = ("a", "b", "c")
HOLDERS = (b"h1", b"h2", b"holder-\xff3")


def ttl_ms(rng: random.Random) -> Any:
    return rng.choice((rng.randint(1000, 120_000), rng.randint(1000, 120_000), rng.randint(200, 999),
                       rng.randint(1, 40), 0, -5, "abc", "1.5", 2 ** 62, "", "10 "))


def max_ttl(rng: random.Random) -> Any:
    """The recovery period (ms) the scripts take: 0 = recovery off (no admission check); 60 s outlasts the
    round, so a node that met it abstains until the next round's FLUSHALL (a period that ends within a round
    would race the two nodes' clocks)."""
    return rng.choice(("0", "0", 60_000))


def counter(rng: random.Random) -> Any:
    return rng.choice((rng.randint(0, 30), rng.randint(0, 30), 2 ** 53 + 1, -3, "x", "", "7.5", "1e3"))


def holder(rng: random.Random) -> bytes:
    return rng.choice(HOLDERS)


def flag(rng: random.Random) -> str:
    return rng.choice(("0", "1", "1", "0", "2", ""))


def score(rng: random.Random) -> Any:
    return rng.choice((rng.randint(-10, 10), rng.randint(-10, 10), -rng.randint(0, 5) - 0.5, "inf",
                       "-inf", "x", "1e400", "0x10"))


def decimal(rng: random.Random, digits: int) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(digits - 1))


@dataclass
class Space:
    """The keys of one call: a prefix of their own, so calls of a round do not meet."""

    prefix: str

    def k(self, name: str) -> str:
        return self.prefix + name

    @property
    def all_keys(self) -> list[str]:
        names = ["lock", "fence", "reg", "index", "items", "order", "qfence"]
        names += [f"hold:{i}" for i in IDS] + [f"done:{i}" for i in IDS]
        return [self.k(n) for n in names]


def script_call(script: Script, space: Space, rng: random.Random) -> tuple[list[str], list[Any]]:
    """(KEYS, ARGV) for one call of `script`: meaningful values where the meaning is known."""
    k, name = space.k, script.name
    item = rng.choice(IDS)
    hold, done = k(f"hold:{item}"), k(f"done:{item}")
    lock_keys = [k("lock"), k("fence")] if rng.random() > 0.03 else [k("lock"), k("lock")]
    if name == "lock_acquire":
        return lock_keys, [holder(rng), ttl_ms(rng), max_ttl(rng)]
    if name == "lock_write_back":
        return lock_keys, [holder(rng), counter(rng), max_ttl(rng)]
    if name == "lock_extend":
        return lock_keys, [holder(rng), ttl_ms(rng), counter(rng), max_ttl(rng)]
    if name == "lock_release":
        return [k("lock")], [holder(rng)]
    if name == "register_store":
        digits = rng.choice((1, 2, 13, 20))
        return [k("reg"), k("index")], [rng.choice(("0", "1", "t7")), decimal(rng, digits), decimal(rng, 40),
                                         flag(rng), rng.choice((b"v1", b"", b"\x00v"))]
    if name == "queue_put":
        return [k("items"), k("order"), done], [item, rng.choice((b"p", b"payload")), score(rng)]
    if name == "queue_scan_available":
        return [k("order")], [space.prefix, rng.randint(0, 4), rng.choice((0, 1, 3, 100)), rng.randint(0, 3)]
    if name == "queue_grant":
        return [k("items"), k("order"), hold, done, k("qfence")], [item, holder(rng), ttl_ms(rng),
                                                                   rng.choice((0, 0, 1, 5, 1000)), max_ttl(rng)]
    if name == "queue_raise_fence":
        return [k("qfence")], [counter(rng)]
    if name == "queue_heal":
        return [k("items"), k("order"), hold, done], [item, b"p", score(rng), holder(rng), ttl_ms(rng)]
    if name == "queue_extend":
        return [k("items"), hold, done], [item, holder(rng), ttl_ms(rng), flag(rng), max_ttl(rng)]
    if name == "queue_consume":
        return [k("items"), k("order"), hold, done], [item, holder(rng), ttl_ms(rng), flag(rng)]
    if name == "queue_complete":
        return [k("items"), k("order"), hold, done], [item, rng.choice((*HOLDERS, b"")), ttl_ms(rng)]
    if name == "queue_abandon":
        return [hold], [holder(rng)]
    if name == "queue_count":
        return [k("order")], [rng.choice((0, 1, 2, 5, 100, "x"))]
    # a script this test does not know yet: counts from its header, values from every generator
    n_keys, n_argv = header_counts(script)
    keys = [rng.choice(space.all_keys) for _ in range(n_keys)]
    makers: list[Callable[[random.Random], Any]] = [ttl_ms, counter, holder, flag, score,
                                                    lambda r: r.choice(IDS), lambda r: space.prefix]
    return keys, [rng.choice(makers)(rng) for _ in range(n_argv)]


def prior_state(space: Space, rng: random.Random) -> tuple[list[tuple[Any, ...]], bool]:
    """Commands that give the space's keys a random state; True when some TTL ends before the call."""
    commands: list[tuple[Any, ...]] = []
    expiring = False
    for key in space.all_keys:
        commands.append(("DEL", key))
        if rng.random() < 0.45:
            continue
        role = key[len(space.prefix):].split(":")[0]
        natural = {"lock": "string", "hold": "string", "done": "string", "fence": "string",
                   "qfence": "string", "reg": "hash", "index": "set", "items": "hash", "order": "zset"}[role]
        kind = natural if rng.random() < 0.88 else rng.choice(("string", "hash", "zset"))
        if kind == "string":
            value = rng.choice((*HOLDERS, b"1")) if role in ("lock", "hold", "done") else counter(rng)
            commands.append(("SET", key, value))
        elif kind == "hash" and role == "reg":
            fields: list[Any] = []
            for field_name, make in (("c", lambda: decimal(rng, rng.choice((1, 2, 13, 20)))),
                                     ("w", lambda: decimal(rng, 40)), ("v", lambda: b"old")):
                if rng.random() < 0.85:
                    fields += [field_name, make()]
            commands.append(("HSET", key, *(fields or ["c", "1"])))
        elif kind == "set":
            commands.append(("SADD", key, *rng.sample(["r0:reg", "r1:reg", "x"], rng.randint(1, 3))))
        elif kind == "hash":
            fields = [x for i in rng.sample(IDS, rng.randint(1, 3)) for x in (i, b"payload-" + i.encode())]
            commands.append(("HSET", key, *fields))
        else:
            members = [x for i in rng.sample(IDS, rng.randint(1, 3))
                       for x in (rng.choice((rng.randint(-3, 3), -0.5, 2.25)), i)]
            commands.append(("ZADD", key, *members))
        ttl_class = rng.random()
        if ttl_class < 0.25:
            commands.append(("PEXPIRE", key, rng.randint(60_000, 600_000)))
        elif ttl_class < 0.35:
            commands.append(("PEXPIRE", key, rng.randint(1, 15)))  # gone before the call
            expiring = True
    return commands, expiring


@dataclass
class Tally:
    calls: int = 0
    keys_compared: int = 0
    errors: int = 0
    per_script: dict[str, int] | None = None


def run_round(both: Lockstep, scripts: list[Script], rng: random.Random, round_no: int,
              tally: Tally) -> None:
    real, sim = both.real, both.sim
    spaces = [Space(f"r{round_no}:{i}:") for i in range(CALLS_PER_ROUND)]
    slack = [0] * len(spaces)  # per space: the longest round trip of a command on its keys
    setup: list[tuple[int | None, tuple[Any, ...]]] = []
    expiring = False
    for index, space in enumerate(spaces):
        commands, ends = prior_state(space, rng)
        setup += [(index, command) for command in commands]
        expiring |= ends
    if rng.random() < 0.1:  # a restarted-looking script cache: EVALSHA gets NOSCRIPT on both
        setup.append((None, ("SCRIPT", "FLUSH")))
    if rng.random() < 0.5:  # an admitted node (majorityredis.admission): the scripts vote
        setup += [(None, ("SET", "mr:admitted", "1")), (None, ("SET", "mr:register-synced", "1"))]
    # Commands that do not depend on time go in one pipeline; those that set a TTL run in lockstep
    # (one at a time on both), so that the TTL starts at the same moment on both.
    timeless = [command for _, command in setup if command[0] != "PEXPIRE"]
    for command, a in zip(timeless, real.call_many(timeless)):
        b = sim.execute(command)
        assert same_reply(a, b), f"seed {SEED}: setup {command!r}: real {a!r} sim {b!r}"
    for index, command in setup:
        if command[0] != "PEXPIRE":
            continue
        a, b = both.run(command)
        assert same_reply(a, b), f"seed {SEED}: setup {command!r}: real {a!r} sim {b!r}"
        if index is not None:
            slack[index] = max(slack[index], both.last_slack_ms)
    if expiring:
        time.sleep(0.03)

    calls: list[tuple[Any, ...]] = []
    labels = []
    for space in spaces:
        script = rng.choice(scripts)
        keys, argv = script_call(script, space, rng)
        how = rng.random()
        if how < 0.6:
            calls.append(("EVALSHA", script.sha, len(keys), *keys, *argv))
        elif how < 0.95:
            calls.append(("EVAL", script.source, len(keys), *keys, *argv))
        else:
            calls.append(("SCRIPT", "LOAD", script.source))
        labels.append(script.name)
    for index, (label, command) in enumerate(zip(labels, calls)):
        a, b = both.run(command)
        slack[index] = max(slack[index], both.last_slack_ms)
        shown = command[:1] + command[2:] if command[0] == "EVAL" else command
        assert same_reply(a, b), f"seed {SEED}: {label} {shown!r}: real {a!r} sim {b!r}"
        tally.calls += 1
        tally.errors += isinstance(a, Exception)
        assert tally.per_script is not None
        tally.per_script[label] = tally.per_script.get(label, 0) + 1

    keys = [key for space in spaces for key in space.all_keys]
    key_slack = [slack[index] for index, space in enumerate(spaces) for _ in space.all_keys]
    reads = [c for key in keys for c in read_state_commands(key.encode())]
    read_replies = real.call_many(reads)
    now_ms = both.clock()
    snapshot = sim.keys_snapshot()
    for i, key in enumerate(keys):
        width = len(read_state_commands(b""))
        real_key = real_state(read_replies[width * i:width * (i + 1)])
        sim_key = snapshot.get(key.encode())
        if sim_key is not None and sim_key[2] is not None:
            sim_key = (sim_key[0], sim_key[1], now_ms + sim_key[2])  # absolute, like PEXPIRETIME
        assert same_state(real_key, sim_key, now_ms, PTTL_TOLERANCE_MS + key_slack[i]), \
            f"seed {SEED} round {round_no}: key {key}: real {real_key!r} sim {sim_key!r}"
        tally.keys_compared += 1
    assert same_reply(*both.run(("FLUSHALL",)))  # the next round starts empty on both


def test_every_library_script_matches_a_real_redis_server(real: RawRedis) -> None:
    scripts = library_scripts()
    assert len(scripts) >= 15, [s.name for s in scripts]  # the scan found the library's scripts
    both = Lockstep(real)
    sim = both.sim
    for script in scripts:  # both caches start with every script, as the fan-out leaves them
        assert real.call("SCRIPT", "LOAD", script.source) == sim.execute(("SCRIPT", "LOAD", script.source))
    assert same_reply(*both.run(("FLUSHALL",)))  # the fixture admitted the real node: both start empty
    rng = random.Random(SEED)
    tally = Tally(per_script={})
    started = time.monotonic()
    for round_no in range(ROUNDS):
        run_round(both, scripts, rng, round_no, tally)
    elapsed = time.monotonic() - started
    print(f"\n{tally.calls} script calls ({tally.errors} error replies), {tally.keys_compared} key states "
          f"compared in {elapsed:.1f} s (longest round trip {both.slack_ms} ms); per script: {tally.per_script}")
    assert tally.calls == ROUNDS * CALLS_PER_ROUND
    assert set(tally.per_script or {}) == {s.name for s in scripts}  # every script ran
    assert tally.errors > 0  # the error paths were exercised too


# -- plain commands ------------------------------------------------------------------------------------
def plain_command(rng: random.Random, prefix: str) -> tuple[Any, ...]:
    """One random plain command on a small keyspace (TTLs far from 'now', so timing cannot decide)."""
    key = prefix + rng.choice(("s", "h", "z", "n"))
    member = rng.choice(("a", "b", "c", "d"))
    num = rng.choice(("1", "-2", "0", "x", "9223372036854775807", "3.5", "07"))
    fscore = rng.choice(("1", "-2", "0.5", "inf", "-inf", "(1", "x", "1e3", " 2", "0x8", ""))
    ttl = rng.choice((rng.randint(10_000, 900_000), 0, -1, "x", 2 ** 63 - 1))
    choices: list[tuple[Any, ...]] = [
        ("GET", key), ("SET", key, member), ("SET", key, num, "PX", ttl), ("SET", key, member, "NX"),
        ("SET", key, member, "XX", "GET"), ("SET", key, member, "KEEPTTL"), ("SET", key, member, "EX", ttl),
        ("SET", key, member, "PX", 100_000, "NX", "GET"), ("SET", key, member, "NX", "XX"),
        ("SET", key, member, "PX", 5000, "KEEPTTL"), ("SETNX", key, member),
        ("INCR", key), ("DECR", key), ("INCRBY", key, num), ("DEL", key, prefix + "h"),
        ("EXISTS", key, key, prefix + "z"), ("TYPE", key), ("PERSIST", key), ("GETDEL", key),
        ("PEXPIRE", key, ttl), ("EXPIRE", key, rng.choice((100, 0, -1, "x"))),
        ("PEXPIRE", key, ttl, rng.choice(("NX", "XX", "GT", "LT", "FOO"))),
        ("PEXPIREAT", key, rng.choice((1, 4_000_000_000_000))), ("PTTL", key), ("TTL", key),
        ("HSET", key, member, num), ("HSET", key, member, num, "e", "5"), ("HGET", key, member),
        ("HMGET", key, "a", member, "zz"), ("HGETALL", key), ("HDEL", key, member, "b"),
        ("HEXISTS", key, member), ("HINCRBY", key, member, num), ("HLEN", key), ("HSETNX", key, member, "v"),
        ("ZADD", key, fscore, member), ("ZADD", key, "NX", fscore, member, "2", "e"),
        ("ZADD", key, rng.choice(("XX", "GT", "LT", "CH", "INCR")), fscore, member),
        ("ZADD", key, "XX", "CH", "GT", fscore, member), ("ZADD", key, "INCR", "NX", fscore, member),
        ("ZADD", key, "GT", "LT", "1", member), ("ZREM", key, member, "b"), ("ZSCORE", key, member),
        ("ZCARD", key), ("ZRANGE", key, rng.randint(-3, 3), rng.randint(-3, 3)),
        ("ZRANGE", key, 0, -1, "WITHSCORES"), ("ZRANGE", key, fscore, "+inf", "BYSCORE", "LIMIT", 0, 2),
        ("ZRANGE", key, "+inf", fscore, "BYSCORE", "REV", "WITHSCORES"),
        ("ZRANGE", key, "[a", "+", "BYLEX", "LIMIT", rng.randint(-1, 2), rng.randint(-1, 2)),
        ("ZRANGE", key, 0, 1, "LIMIT", 0, 1), ("ZRANGE", key, "-", "+", "BYLEX", "WITHSCORES"),
        ("ZREVRANGE", key, 0, rng.randint(-2, 2), "WITHSCORES"),
        ("ZRANGEBYSCORE", key, fscore, "+inf", "WITHSCORES", "LIMIT", rng.randint(-1, 2), rng.randint(-1, 3)),
        ("ZREVRANGEBYSCORE", key, "+inf", fscore), ("ZCOUNT", key, fscore, rng.choice(("3", "(3", "+inf"))),
        ("ZRANGEBYLEX", key, rng.choice(("-", "[b", "(b", "x")), rng.choice(("+", "[c", "(d"))),
        ("ZRANK", key, member), ("ZINCRBY", key, fscore, member), ("MGET", key, prefix + "s"),
        ("GET",), ("NOSUCHCOMMAND", key), ("PING",), ("HMGET", key),
    ]
    return rng.choice(choices)


def test_plain_commands_match_a_real_redis_server(real: RawRedis) -> None:
    both = Lockstep(real)
    rng = random.Random(SEED + 1)
    compared = 0
    for round_no in range(PLAIN_ROUNDS):
        prefix = f"p{round_no}:"
        commands = [plain_command(rng, prefix) for _ in range(100)]
        round_slack = 0  # the keys of a round are touched by its commands only
        for command in commands:
            a, b = both.run(command)
            round_slack = max(round_slack, both.last_slack_ms)
            if command[0] == "PTTL" and isinstance(a, int) and a >= 0:
                ok = isinstance(b, int) and abs(a - b) <= PTTL_TOLERANCE_MS + round_slack
            elif command[0] == "TTL" and isinstance(a, int) and a >= 0:
                ok = isinstance(b, int) and abs(a - b) <= 1
            else:
                ok = same_reply(a, b)
            assert ok, f"seed {SEED + 1}: {command!r}: real {a!r} sim {b!r}"
            compared += 1
    print(f"\n{compared} plain commands compared")
    assert compared == 100 * PLAIN_ROUNDS
