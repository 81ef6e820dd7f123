"""The RESP reader of the fan-out: every reply type, and INCOMPLETE at every cut of the bytes,
for both readers (hiredis.Reader, used when hiredis is installed, and the pure-Python fallback)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.exceptions import BusyLoadingError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from majorityredis import resp
from majorityredis.resp import INCOMPLETE, buffered_reply, next_reply, parse, read_reply, reset

try:
    import hiredis
except ImportError:
    hiredis = None

READERS = [
    pytest.param(resp.PythonReader, id="python"),
    pytest.param(resp.hiredis_reader, id="hiredis",
                 marks=pytest.mark.skipif(hiredis is None, reason="hiredis is not installed")),
]
# where hiredis answers differently (documented in majorityredis.resp: Redis sends neither to the fan-out)
HIREDIS_ANSWERS = {b"(12345678901234567890\r\n": b"12345678901234567890"}

CASES = [
    (b"+OK\r\n", b"OK"),
    (b":42\r\n", 42),
    (b":-7\r\n", -7),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"*3\r\n:1\r\n:5\r\n:0\r\n", [1, 5, 0]),
    (b"*2\r\n$3\r\nabc\r\n*1\r\n$-1\r\n", [b"abc", [None]]),
    (b"*0\r\n", []),
    (b"_\r\n", None),                      # RESP3 null
    (b"#t\r\n", True),
    (b"#f\r\n", False),
    (b",1.5\r\n", 1.5),
    (b"(12345678901234567890\r\n", 12345678901234567890),
    (b"%1\r\n+k\r\n:1\r\n", {b"k": 1}),
    (b"~2\r\n:1\r\n:2\r\n", [1, 2]),
    (b"=7\r\ntxt:abc\r\n", b"abc"),
    (b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n:9\r\n", 9),   # a push frame before the reply is skipped
    (b"$4\r\na\r\nb\r\n", b"a\r\nb"),          # CRLF inside a bulk string
]


@pytest.mark.parametrize(("wire", "expected"), CASES)
def test_complete_replies(wire: bytes, expected: object) -> None:
    value, end = parse(bytearray(wire), 0)
    assert value == expected and end == len(wire)


@pytest.mark.parametrize(("wire", "_expected"), CASES)
def test_every_proper_prefix_is_incomplete(wire: bytes, _expected: object) -> None:
    for cut in range(len(wire)):
        assert parse(bytearray(wire[:cut]), 0) is INCOMPLETE, (wire, cut)


def test_errors_are_returned_as_redis_py_exceptions() -> None:
    noscript, _ = parse(bytearray(b"-NOSCRIPT No matching script.\r\n"), 0)
    loading, _ = parse(bytearray(b"-LOADING Redis is loading\r\n"), 0)
    other, _ = parse(bytearray(b"-ERR wrong number of arguments\r\n"), 0)
    blob, _ = parse(bytearray(b"!8\r\nERR oops\r\n"), 0)
    assert isinstance(noscript, NoScriptError)
    assert isinstance(loading, BusyLoadingError)
    assert type(other) is ResponseError and "wrong number" in str(other)
    assert isinstance(blob, ResponseError) and "oops" in str(blob)


def expected_of(factory: object, wire: bytes, expected: object) -> object:
    return HIREDIS_ANSWERS.get(wire, expected) if factory is resp.hiredis_reader else expected


@pytest.mark.parametrize("factory", READERS)
@pytest.mark.parametrize(("wire", "expected"), CASES)
def test_readers_give_every_reply_once_it_is_whole(factory, wire: bytes, expected: object) -> None:
    reader = factory()
    for byte in range(len(wire) - 1):  # fed a byte at a time: incomplete until the last byte
        reader.feed(wire[byte:byte + 1])
        assert next_reply(reader) is INCOMPLETE, (wire, byte)
    reader.feed(wire[-1:])
    assert next_reply(reader) == expected_of(factory, wire, expected)
    assert next_reply(reader) is INCOMPLETE
    assert not reader.has_data()


@pytest.mark.parametrize("factory", READERS)
def test_readers_return_errors_as_redis_py_exceptions_nested_too(factory) -> None:
    reader = factory()
    reader.feed(b"-NOSCRIPT No matching script.\r\n-LOADING Redis is loading\r\n"
                b"-ERR wrong number of arguments\r\n*2\r\n-NOSCRIPT x\r\n:1\r\n")
    noscript, loading, other, nested = (next_reply(reader) for _ in range(4))
    assert isinstance(noscript, NoScriptError) and str(noscript) == "No matching script."
    assert isinstance(loading, BusyLoadingError)
    assert type(other) is ResponseError and str(other) == "wrong number of arguments"
    assert isinstance(nested[0], NoScriptError) and nested[1] == 1


@pytest.mark.parametrize("factory", READERS)
def test_readers_refuse_what_is_not_resp(factory) -> None:
    reader = factory()
    reader.feed(b"?garbage\r\n")
    with pytest.raises(RedisConnectionError):
        next_reply(reader)


@pytest.mark.skipif(hiredis is None, reason="hiredis is not installed")
def test_hiredis_is_the_parser_when_it_is_installed() -> None:
    assert resp.PARSER == "hiredis" and resp.new_reader is resp.hiredis_reader


def test_pure_python_reader_only_when_hiredis_is_missing() -> None:
    code = ("import sys; sys.modules['hiredis'] = None\n"  # makes `import hiredis` raise ImportError
            "from majorityredis import resp\n"
            "assert resp.PARSER == 'python' and resp.new_reader is resp.PythonReader, resp.PARSER\n"
            "r = resp.new_reader(); r.feed(b'*2\\r\\n:1\\r\\n-NOSCRIPT x\\r\\n')\n"
            "value = resp.next_reply(r)\n"
            "from redis.exceptions import NoScriptError\n"
            "assert value[0] == 1 and isinstance(value[1], NoScriptError), value\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_two_replies_in_one_buffer_are_read_one_at_a_time() -> None:
    buf = bytearray(b":1\r\n+OK\r\n")
    first, end = parse(buf, 0)
    second, end2 = parse(buf, end)
    assert (first, second, end2) == (1, b"OK", len(buf))


class _Conn:
    """The one attribute of a redis-py connection that the reader uses."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock


@pytest.mark.parametrize("factory", READERS)
def test_pipelined_replies_from_one_read_come_out_of_the_buffer_in_order(factory, monkeypatch) -> None:
    monkeypatch.setattr(resp, "new_reader", factory)
    ours, server = socket.socketpair()
    try:
        conn = _Conn(ours)
        reset(conn)
        assert buffered_reply(conn) is INCOMPLETE  # nothing read yet
        server.sendall(b":1\r\n$-1\r\n+OK\r\n$5\r\nhel")
        assert read_reply(conn) == 1  # one read took all of it; the first reply comes out
        assert buffered_reply(conn) is None
        assert buffered_reply(conn) == b"OK"
        assert buffered_reply(conn) is INCOMPLETE  # half a reply stays buffered ...
        server.sendall(b"lo\r\n")
        assert read_reply(conn) == b"hello"  # ... until the rest is read
        assert buffered_reply(conn) is INCOMPLETE
        server.sendall(b"$3\r\nab")
        assert read_reply(conn) is INCOMPLETE
        reset(conn)  # a half-read reply is forgotten with the reader
        assert buffered_reply(conn) is INCOMPLETE
        server.sendall(b":5\r\n")
        assert read_reply(conn) == 5
    finally:
        ours.close()
        server.close()


values = st.recursive(
    st.one_of(st.none(), st.integers(-2**63, 2**63), st.binary(max_size=40)),
    lambda inner: st.lists(inner, max_size=5), max_leaves=20)


def encode(value: object) -> bytes:
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    assert isinstance(value, list)
    return b"*%d\r\n" % len(value) + b"".join(encode(v) for v in value)


@given(values)
def test_round_trip_of_any_resp2_value(value: object) -> None:
    wire = encode(value)
    assert parse(bytearray(wire), 0) == (value, len(wire))
    assert parse(bytearray(wire[:-1]), 0) is INCOMPLETE


# Redis integers are signed 64-bit; hiredis refuses 2**63 (the pure parser takes any)
int64_values = st.recursive(
    st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.binary(max_size=40)),
    lambda inner: st.lists(inner, max_size=5), max_leaves=20)


@pytest.mark.skipif(hiredis is None, reason="hiredis is not installed")
@given(st.lists(int64_values, min_size=1, max_size=4), st.integers(1, 64))
def test_hiredis_and_python_readers_agree_on_any_resp2_stream(replies: list[object], step: int) -> None:
    wire = b"".join(encode(value) for value in replies)
    outputs = []
    for factory in (resp.PythonReader, resp.hiredis_reader):
        reader, got = factory(), []
        for start in range(0, len(wire), step):  # arbitrary cuts between reads
            reader.feed(wire[start:start + step])
            value = next_reply(reader)
            while value is not INCOMPLETE:
                got.append(value)
                value = next_reply(reader)
        outputs.append(got)
    assert outputs[0] == outputs[1] == replies
