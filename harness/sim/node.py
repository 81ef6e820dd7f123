"""One simulated redis-server: the library's commands and Lua scripts with Redis 7.0 semantics.

`SimRedis.execute(args)` takes one command as the library sends it and
returns exactly what `majorityredis.resp` returns when it parses the real
server's RESP2 reply: bytes / int / list / None, b"OK" for a simple string,
and an error reply as an exception *instance* of the class redis-py maps it
to (NoScriptError, ResponseError, ...). It never raises for a Redis-level
error. Fidelity is proved by tests/integration/test_sim_node_differential.py,
which runs every script of the library against a real redis-server and this
node and compares replies and keys.

Time: the node reads its own clock (`clock_ms`, which the world may jump or
run at another rate) once per command; expiry follows it, and it stays
frozen for the whole of a script (Redis 7). With `journal_clock` (true,
virtual time) the node journals its mutations so that `restart(keep=s)` can
undo the last `s` seconds (appendfsync everysec). A restart always loses the
script cache: the next EVALSHA gets NOSCRIPT.

Scripts run in Lua 5.1 through lupa (`lupa.lua51`), compiled once per SHA
and kept compiled across restarts (only the node's "loaded" set is cleared,
which is what a client can observe).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import DataError

from harness.sim.node_commands import COMMANDS
from harness.sim.node_keyspace import Keyspace, ZSet
from harness.sim.node_lua import LuaScripts
from harness.sim.node_replies import (
    INT64_MIN,
    NOT_INTEGER,
    OK,
    CommandError,
    Status,
    format_double,
    parse_int,
)
from majorityredis import resp

_NOSCRIPT = b"NOSCRIPT No matching script. Please use EVAL."
_NOT_IN_SCRIPT = b"ERR This Redis command is not allowed from script"


class _ErrorReply(bytes):
    """An error inside a script's returned array (the line without '-')."""


def encode_arg(value: Any) -> bytes:
    """One argument as redis-py's Encoder sends it."""
    kind = type(value)
    if kind is bytes:
        return value
    if kind is str:
        return value.encode()
    if kind is int:
        return str(value).encode()
    if kind is float:
        return repr(value).encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DataError(f"Invalid input of type: '{type(value).__name__}'. "
                        "Convert to a bytes, string, int or float first.")
    return str(value).encode() if isinstance(value, (int, str)) else repr(float(value)).encode()


def _error_line(message: bytes) -> bytes:
    """An error message as addReplyError* puts it on the wire: no CR/LF inside."""
    return message.strip(b"\r\n").replace(b"\r", b" ").replace(b"\n", b" ")


def as_resp(reply: Any) -> Any:
    """A reply in node form as `majorityredis.resp.parse` returns it off the wire."""
    kind = type(reply)
    if kind is bytes or kind is int or reply is None:
        return reply
    if kind is list:
        return [as_resp(item) for item in reply]
    if kind is Status:
        return bytes(reply)
    if kind is _ErrorReply:
        return resp.parse(b"-" + bytes(reply) + b"\r\n", 0)[0]
    raise TypeError(f"not a reply: {reply!r}")  # pragma: no cover - a bug in a command


class SimRedis:
    """One simulated redis-server (RESP2 semantics, db 0)."""

    def __init__(self, clock_ms: Callable[[], int], *, journal_clock: Callable[[], float] | None = None,
                 journal_horizon_s: float = 10.0) -> None:
        self._clock_ms = clock_ms
        self._journal_clock = journal_clock
        self._horizon = journal_horizon_s
        self._keyspace = Keyspace(journal=journal_clock is not None)
        self._lua = LuaScripts(self._script_call)
        self._compiled: dict[str, Any] = {}  # sha -> Lua function (survives restarts: invisible)
        self._loaded: set[str] = set()  # the script cache a client sees (lost on restart)
        self._sha_of: dict[bytes, str] = {}
        self._node_commands: dict[str, tuple[int, Callable[[list[bytes]], Any], bool]] = {
            "PING": (-1, self._ping, True),
            "ECHO": (2, lambda argv: argv[1], True),
            "TIME": (1, self._time, True),
            "SELECT": (2, self._select, True),
            "FLUSHALL": (-1, self._flush, True),
            "FLUSHDB": (-1, self._flush, True),
            "EVAL": (-3, self._eval, False),
            "EVALSHA": (-3, self._evalsha, False),
            "EVAL_RO": (-3, self._eval, False),
            "EVALSHA_RO": (-3, self._evalsha, False),
            "SCRIPT": (-2, self._script, False),
        }

    # -- the interface -------------------------------------------------------------------------
    def execute(self, args: Sequence[bytes | str | int | float]) -> Any:
        """Run one command; returns what majorityredis.resp would parse from the real reply."""
        argv = [a if type(a) is bytes else encode_arg(a) for a in args]
        ks = self._keyspace
        ks.now = int(self._clock_ms())
        if self._journal_clock is not None:
            ks.stamp = float(self._journal_clock())
            ks.trim(ks.stamp - self._horizon)
        try:
            reply = self._dispatch(argv)
        except CommandError as error:
            return resp.parse(b"-" + _error_line(error.message) + b"\r\n", 0)[0]
        return as_resp(reply)

    def restart(self, *, keep: str | float = "all") -> None:
        """A crash and restart: the script cache is lost; data per `keep` (see the class contract)."""
        self._loaded.clear()
        if keep == "all":
            return
        if keep == "none":
            self._keyspace.clear()
            return
        if isinstance(keep, (str, bool)) or not isinstance(keep, (int, float)):
            raise ValueError(f"keep must be 'all', 'none' or a number of seconds, not {keep!r}")
        if self._journal_clock is None:
            raise ValueError("restart(keep=<seconds>) needs a node made with journal_clock")
        if not 0 <= keep <= self._horizon:
            raise ValueError(f"keep must be between 0 and the journal horizon ({self._horizon:g} s), "
                             f"not {keep!r}")
        self._keyspace.undo_after(float(self._journal_clock()) - float(keep))

    def keys_snapshot(self) -> dict[bytes, tuple[str, Any, int | None]]:
        """key -> (type, value as plain Python data, pttl ms or None) of every live key (no side effect)."""
        ks = self._keyspace
        ks.now = int(self._clock_ms())
        out: dict[bytes, tuple[str, Any, int | None]] = {}
        for key, value, when in ks.live_items():
            pttl = None if when is None else max(0, when - ks.now)
            if type(value) is bytes:
                out[key] = ("string", value, pttl)
            elif type(value) is dict:
                out[key] = ("hash", dict(value), pttl)
            elif type(value) is ZSet:
                out[key] = ("zset", dict(value.scores), pttl)
            elif type(value) is list:
                out[key] = ("list", list(value), pttl)
            else:
                out[key] = ("set", set(value), pttl)
        return out

    # -- dispatch ------------------------------------------------------------------------------
    def _dispatch(self, argv: list[bytes]) -> Any:
        name = _command_name(argv[0])
        entry = COMMANDS.get(name)
        if entry is not None:
            arity, handler = entry
            self._check_arity(name, arity, argv)
            return handler(self._keyspace, argv[1:])
        node_entry = self._node_commands.get(name)
        if node_entry is None:
            shown = b"".join(b"'" + a[:128] + b"' " for a in argv[1:])
            raise CommandError(b"ERR unknown command '" + argv[0][:128] + b"', with args beginning with: "
                               + shown)
        arity, method, _ = node_entry
        self._check_arity(name, arity, argv)
        return method(argv)

    @staticmethod
    def _check_arity(name: str, arity: int, argv: list[bytes]) -> None:
        if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
            raise CommandError(f"ERR wrong number of arguments for '{name.lower()}' command")

    def _script_call(self, argv: list[bytes]) -> Any:
        """redis.call/pcall from a script (errors worded as Redis 7.0 words them there)."""
        name = _command_name(argv[0])
        entry = COMMANDS.get(name)
        if entry is not None:
            arity, handler = entry
            if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
                raise CommandError(b"ERR Wrong number of args calling Redis command from script")
            return handler(self._keyspace, argv[1:])
        node_entry = self._node_commands.get(name)
        if node_entry is None:
            raise CommandError(b"ERR Unknown Redis command called from script")
        arity, method, allowed = node_entry
        if not allowed:
            raise CommandError(_NOT_IN_SCRIPT)
        if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
            raise CommandError(b"ERR Wrong number of args calling Redis command from script")
        return method(argv)

    # -- node commands -------------------------------------------------------------------------
    def _ping(self, argv: list[bytes]) -> Any:
        if len(argv) > 2:
            raise CommandError("ERR wrong number of arguments for 'ping' command")
        return Status(b"PONG") if len(argv) == 1 else argv[1]

    def _time(self, argv: list[bytes]) -> list[bytes]:
        now = self._keyspace.now
        return [str(now // 1000).encode(), str((now % 1000) * 1000).encode()]

    def _select(self, argv: list[bytes]) -> Status:
        index = parse_int(argv[1])
        if index is None:
            raise CommandError(NOT_INTEGER)
        if index != 0:
            raise CommandError("ERR DB index is out of range")
        return OK

    def _flush(self, argv: list[bytes]) -> Status:
        if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() not in (b"ASYNC", b"SYNC")):
            raise CommandError("ERR syntax error")
        self._keyspace.flush()
        return OK

    def _script(self, argv: list[bytes]) -> Any:
        sub = argv[1].upper()
        if sub == b"LOAD":
            if len(argv) != 3:
                raise CommandError("ERR wrong number of arguments for 'script|load' command")
            return self._load(argv[2]).encode()
        if sub == b"EXISTS":
            if len(argv) < 3:
                raise CommandError("ERR wrong number of arguments for 'script|exists' command")
            return [int(sha.lower().decode("latin-1") in self._loaded) for sha in argv[2:]]
        if sub == b"FLUSH":
            if len(argv) > 3 or (len(argv) == 3 and argv[2].upper() not in (b"ASYNC", b"SYNC")):
                raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            self._loaded.clear()
            return OK
        raise CommandError(b"ERR unknown subcommand '" + argv[1][:128] + b"'. Try SCRIPT HELP.")

    def _sha(self, source: bytes) -> str:
        sha = self._sha_of.get(source)
        if sha is None:
            sha = hashlib.sha1(source).hexdigest()
            if len(self._sha_of) < 4096:
                self._sha_of[source] = sha
        return sha

    def _load(self, source: bytes) -> str:
        """Compile (once per SHA) and add to the visible script cache; returns the SHA."""
        sha = self._sha(source)
        if sha not in self._compiled:
            function, message = self._lua.compile(source)
            if function is None:
                raise CommandError(b"ERR Error compiling script (new function): " + (message or b""))
            self._compiled[sha] = function
        self._loaded.add(sha)
        return sha

    def _eval(self, argv: list[bytes]) -> Any:
        numkeys = self._numkeys(argv)
        sha = self._load(argv[1])
        return self._run(sha, numkeys, argv[3:])

    def _evalsha(self, argv: list[bytes]) -> Any:
        numkeys = self._numkeys(argv)
        sha = argv[1].lower().decode("latin-1")
        if len(sha) != 40 or sha not in self._loaded:
            raise CommandError(_NOSCRIPT)
        return self._run(sha, numkeys, argv[3:])

    @staticmethod
    def _numkeys(argv: list[bytes]) -> int:
        numkeys = parse_int(argv[2])
        if numkeys is None:
            raise CommandError(NOT_INTEGER)
        if numkeys > len(argv) - 3:
            raise CommandError("ERR Number of keys can't be greater than number of args")
        if numkeys < 0:
            raise CommandError("ERR Number of keys can't be negative")
        return numkeys

    def _run(self, sha: str, numkeys: int, args: list[bytes]) -> Any:
        lua = self._lua
        lua.internal_error = None
        outcome = lua.run(self._compiled[sha], numkeys, args)
        if lua.internal_error is not None:
            error, lua.internal_error = lua.internal_error, None
            raise error
        if outcome[0] is True:
            if len(outcome) == 2:
                return _scalar(outcome[1])
            return _decode(outcome, 1)[0]
        _, message, source, line = outcome
        text = b"(null)" if message is None else message
        if source is not None and line:
            text += b" script: " + sha.encode() + b", on " + source + b":" + _lua_tostring(line) + b"."
        raise CommandError(text)  # on the wire "-" + text: no "ERR " is added


_NAMES: dict[bytes, str] = {}


def _command_name(raw: bytes) -> str:
    """The upper-case command name (cached: scripts send the same few names again and again)."""
    name = _NAMES.get(raw)
    if name is None:
        name = raw.upper().decode("latin-1")
        if len(_NAMES) < 1024:
            _NAMES[raw] = name
    return name


def _scalar(value: Any) -> Any:
    """A Lua string or number as Redis replies it (numbers truncated to int64 like a C cast)."""
    kind = type(value)
    if kind is bytes:
        return value
    if kind is int:
        return value if INT64_MIN <= value < 2 ** 63 else INT64_MIN
    if math.isnan(value) or not -2.0 ** 63 <= value < 2.0 ** 63:
        return INT64_MIN
    return int(value)


def _decode(tokens: tuple[Any, ...], i: int) -> tuple[Any, int]:
    """One reply from the flattened form the Lua side emits (see node_lua `emit`)."""
    token = tokens[i]
    if token is not False:
        return _scalar(token), i + 1
    tag = tokens[i + 1]
    if tag == b"N":
        return None, i + 2
    if tag == b"A":
        count = tokens[i + 2]
        i += 3
        items = []
        for _ in range(count):
            item, i = _decode(tokens, i)
            items.append(item)
        return items, i
    value = tokens[i + 2]
    if tag == b"E":
        return _ErrorReply(_error_line(value)), i + 3
    if tag == b"S":
        return Status(value.replace(b"\r", b" ").replace(b"\n", b" ")), i + 3
    return format_double(float(value)), i + 3  # b"D"


def _lua_tostring(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) is int:
        return str(value).encode()
    return (b"%.14g" % value) if type(value) is float else str(value).encode()
