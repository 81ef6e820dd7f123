"""The RESP reader of the fan-out: every reply type, and INCOMPLETE at every cut of the bytes."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.exceptions import BusyLoadingError, NoScriptError, ResponseError

from majorityredis.resp import INCOMPLETE, buffered_reply, parse, read_reply, reset

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


def test_two_replies_in_one_buffer_are_read_one_at_a_time() -> None:
    buf = bytearray(b":1\r\n+OK\r\n")
    first, end = parse(buf, 0)
    second, end2 = parse(buf, end)
    assert (first, second, end2) == (1, b"OK", len(buf))


class _Conn:
    """The one attribute of a redis-py connection that the reader uses."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock


def test_pipelined_replies_from_one_read_come_out_of_the_buffer_in_order() -> None:
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
