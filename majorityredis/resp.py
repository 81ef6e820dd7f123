"""Reading Redis replies straight off a connection's socket, without blocking on a partial reply.

The fan-out reads a reply only when `poll` says bytes are there, and must
never wait inside one node's half-arrived reply while the others' replies
are ready. So it keeps a reader per connection — the bytes received and
not yet parsed — and `read_reply(conn)` takes what the socket has and
returns the reply once it is complete, or INCOMPLETE. Error replies are
returned (not raised) as the exception redis-py would raise (NoScriptError,
BusyLoadingError, ...), nested ones too. Values are raw (bytes, int, list,
None), as redis-py gives them with `disable_decoding=True`.

The reader is `hiredis.Reader` (the C parser redis-py itself uses when it is
installed; `benchmarks/resp.py` measures it against the parser here) and,
only when hiredis is missing (or older than 3.0), `PythonReader`, which
parses RESP2/RESP3 in pure Python with the same interface. `PARSER` says
which one is in use. Both map error replies through redis-py's own table and
skip RESP3 push frames. They differ only on what Redis does not send to the
fan-out's commands: a RESP3 big number is bytes under hiredis (an int here),
and a RESP3 blob error (`!`) is a protocol error under hiredis.

Connection set-up (TCP, TLS, AUTH, HELLO) stays redis-py's; only the
request/reply traffic of the fan-out goes through here. One read can bring
several replies when requests were pipelined: `buffered_reply` takes the
next one from the reader. A connection that owes no reply has an empty
reader, so one handed back to redis-py is in step.

`send` writes a request. On plain (non-TLS) sockets both directions use
`os.write`/`os.read` on the descriptor: a Python socket with a timeout polls
before every `send`/`recv`, a system call the fan-out has already made (it
reads only what `poll` reported) or does not need (a request fits the empty
send buffer).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

try:  # redis-py maps error prefixes (NOSCRIPT, LOADING, ...) to its exception classes
    from redis._parsers.base import BaseParser
    _parse_error: Callable[[str], ResponseError] = BaseParser.parse_error
except ImportError:  # pragma: no cover - older layouts
    _parse_error = ResponseError

try:
    import hiredis
except ImportError:  # the pure-Python reader below takes over
    hiredis = None  # type: ignore[assignment]

INCOMPLETE: Any = object()
"""Returned while a reply has not fully arrived."""

_READER = "_majorityredis_reader"
_RECV_SIZE = 65536


class Reader(Protocol):
    """What the fan-out needs of a reply reader (hiredis.Reader has exactly this)."""

    def feed(self, data: bytes, /) -> None: ...
    def gets(self) -> Any: ...
    def has_data(self) -> bool: ...


class PythonReader:
    """A reply reader in pure Python over a bytearray: `feed` bytes, `gets` one reply or INCOMPLETE."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes, /) -> None:
        self._buffer += data

    def gets(self) -> Any:
        buffer = self._buffer
        if not buffer:
            return INCOMPLETE
        parsed = parse(buffer, 0)
        if parsed is INCOMPLETE:
            return INCOMPLETE
        value, end = parsed
        del buffer[:end]
        return value

    def has_data(self) -> bool:
        return bool(self._buffer)


def _error(message: str) -> ResponseError:
    """An error reply as the exception redis-py raises for it (NoScriptError, BusyLoadingError, ...)."""
    return _parse_error(message)


def hiredis_reader() -> Reader:
    """A hiredis.Reader that answers like PythonReader: raw bytes, errors mapped, INCOMPLETE."""
    return hiredis.Reader(protocolError=RedisConnectionError, replyError=_error, notEnoughData=INCOMPLETE)


if hiredis is not None and hasattr(hiredis, "PushNotification"):  # >= 3.0: push frames are told apart
    PARSER = "hiredis"
    new_reader: Callable[[], Reader] = hiredis_reader
    _PUSH: type = hiredis.PushNotification
else:
    PARSER = "python"
    new_reader = PythonReader
    _PUSH = type("_NoPush", (), {})  # the pure parser skips push frames itself


def reset(conn: Any) -> None:
    """Forget buffered bytes (a connection that was disconnected or freshly checked out).

    The reader goes with them; the next `read_reply` makes a new one (a hiredis.Reader
    costs more to make than to parse a small reply with, so none is made in advance).
    """
    setattr(conn, _READER, None)


def read_reply(conn: Any) -> Any:
    """Read what the socket has and return one complete reply, or INCOMPLETE.

    Call it only when the socket is readable (or TLS has pending bytes), so
    the recv does not wait. Raises redis ConnectionError when the server
    closed the connection or sent what is not RESP, OSError/TimeoutError from
    the socket as they come.
    """
    sock = conn._sock
    if sock is None:
        raise RedisConnectionError("connection closed")
    reader: Reader | None = getattr(conn, _READER, None)
    if reader is None:
        reader = new_reader()
        setattr(conn, _READER, reader)
    if sock.__class__ is socket.socket:
        try:
            chunk = os.read(sock.fileno(), _RECV_SIZE)
        except BlockingIOError:
            return INCOMPLETE  # readable was a false alarm: nothing arrived after all
    else:
        chunk = sock.recv(_RECV_SIZE)
    if not chunk:
        raise RedisConnectionError("Connection closed by server.")
    reader.feed(chunk)
    return next_reply(reader)


def buffered_reply(conn: Any) -> Any:
    """The next complete reply already in the connection's reader (no socket read), or INCOMPLETE.

    After a read, the reader can hold more than one reply (pipelined requests);
    `poll` does not see those bytes, so read them from here.
    """
    reader: Reader | None = getattr(conn, _READER, None)
    if reader is None:
        return INCOMPLETE
    return next_reply(reader)


def next_reply(reader: Reader) -> Any:
    """The reader's next reply, RESP3 push frames (out of band) skipped; or INCOMPLETE."""
    value = reader.gets()
    while value.__class__ is _PUSH:
        value = reader.gets()
    return value


def send(conn: Any, wire: bytes) -> None:
    """Write one packed request to the connection's socket, all of it (blocking on a full buffer)."""
    sock = conn._sock
    if sock is None:
        raise RedisConnectionError("connection closed")
    if sock.__class__ is socket.socket:
        try:
            written = os.write(sock.fileno(), wire)
        except BlockingIOError:
            written = 0
        if written == len(wire):
            return
        wire = wire[written:]
    sock.sendall(wire)  # the rest waits for room, within the socket's timeout


def parse(buf: bytearray | bytes, pos: int) -> Any:
    """Parse one RESP value at `pos`: (value, next position), or INCOMPLETE. Push frames are skipped."""
    while True:
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return INCOMPLETE
        kind = buf[pos]
        line = bytes(buf[pos + 1:end])
        nxt = end + 2
        if kind != 0x3E:  # '>' push (RESP3, out of band): skip it, read the reply after it
            break
        skipped = _aggregate(buf, nxt, int(line))
        if skipped is INCOMPLETE:
            return INCOMPLETE
        pos = skipped[1]
    if kind == 0x2B:  # '+' simple string
        return line, nxt
    if kind == 0x2D:  # '-' error
        return _error(line.decode("utf-8", errors="replace")), nxt
    if kind == 0x3A or kind == 0x28:  # ':' integer, '(' big number
        return int(line), nxt
    if kind == 0x24 or kind == 0x21 or kind == 0x3D:  # '$' bulk, '!' bulk error, '=' verbatim
        size = int(line)
        if size < 0:
            return None, nxt
        if len(buf) < nxt + size + 2:
            return INCOMPLETE
        data = bytes(buf[nxt:nxt + size])
        if kind == 0x21:
            return _error(data.decode("utf-8", errors="replace")), nxt + size + 2
        return (data[4:] if kind == 0x3D else data), nxt + size + 2
    if kind == 0x2A or kind == 0x7E:  # '*' array, '~' set
        return _aggregate(buf, nxt, int(line))
    if kind == 0x25:  # '%' map
        items = _aggregate(buf, nxt, 2 * int(line))
        if items is INCOMPLETE:
            return INCOMPLETE
        flat, after = items
        return dict(zip(flat[::2], flat[1::2])), after
    if kind == 0x5F:  # '_' null
        return None, nxt
    if kind == 0x23:  # '#' boolean
        return line == b"t", nxt
    if kind == 0x2C:  # ',' double
        return float(line), nxt
    raise RedisConnectionError(f"unexpected reply type {chr(kind)!r}: the connection is out of step")


def _aggregate(buf: bytearray | bytes, pos: int, count: int) -> Any:
    if count < 0:
        return None, pos
    items = []
    for _ in range(count):
        parsed = parse(buf, pos)
        if parsed is INCOMPLETE:
            return INCOMPLETE
        value, pos = parsed
        items.append(value)
    return items, pos
