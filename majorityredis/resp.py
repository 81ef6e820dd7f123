"""Reading Redis replies straight off a connection's socket, without blocking on a partial reply.

The fan-out reads a reply only when `poll` says bytes are there, and must
never wait inside one node's half-arrived reply while the others' replies
are ready. So it keeps a byte buffer per connection and parses RESP2/RESP3
here: `read_reply(conn)` takes what the socket has, and returns the reply
once it is complete, or INCOMPLETE. Error replies are returned (not raised)
as the exception redis-py would raise (NoScriptError, BusyLoadingError, ...).
Values are raw (bytes, int, list, None), as redis-py gives them with
`disable_decoding=True`.

Connection set-up (TCP, TLS, AUTH, HELLO) stays redis-py's; only the
request/reply traffic of the fan-out goes through here. One read can bring
several replies when requests were pipelined: `buffered_reply` takes the
next one from the buffer. A connection that owes no reply has an empty
buffer, so one handed back to redis-py is in step.

`send` writes a request. On plain (non-TLS) sockets both directions use
`os.write`/`os.read` on the descriptor: a Python socket with a timeout polls
before every `send`/`recv`, a system call the fan-out has already made (it
reads only what `poll` reported) or does not need (a request fits the empty
send buffer).
"""

from __future__ import annotations

import os
import socket
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

try:  # redis-py maps error prefixes (NOSCRIPT, LOADING, ...) to its exception classes
    from redis._parsers.base import BaseParser as _ErrorMapper
except ImportError:  # pragma: no cover - older layouts
    _ErrorMapper = None

INCOMPLETE: Any = object()
"""Returned while a reply has not fully arrived."""

_BUFFER = "_majorityredis_buffer"
_RECV_SIZE = 65536


def reset(conn: Any) -> None:
    """Forget buffered bytes (a connection that was disconnected or freshly checked out)."""
    setattr(conn, _BUFFER, bytearray())


def read_reply(conn: Any) -> Any:
    """Read what the socket has and return one complete reply, or INCOMPLETE.

    Call it only when the socket is readable (or TLS has pending bytes), so
    the recv does not wait. Raises redis ConnectionError when the server
    closed the connection, OSError/TimeoutError from the socket as they come.
    """
    sock = conn._sock
    if sock is None:
        raise RedisConnectionError("connection closed")
    buffer: bytearray | None = getattr(conn, _BUFFER, None)
    if buffer is None:
        buffer = bytearray()
        setattr(conn, _BUFFER, buffer)
    if sock.__class__ is socket.socket:
        try:
            chunk = os.read(sock.fileno(), _RECV_SIZE)
        except BlockingIOError:
            return INCOMPLETE  # readable was a false alarm: nothing arrived after all
    else:
        chunk = sock.recv(_RECV_SIZE)
    if not chunk:
        raise RedisConnectionError("Connection closed by server.")
    buffer += chunk
    return _take(buffer)


def buffered_reply(conn: Any) -> Any:
    """The next complete reply already in the connection's buffer (no socket read), or INCOMPLETE.

    After a read, the buffer can hold more than one reply (pipelined requests);
    `poll` does not see those bytes, so read them from here.
    """
    buffer: bytearray | None = getattr(conn, _BUFFER, None)
    if not buffer:
        return INCOMPLETE
    return _take(buffer)


def _take(buffer: bytearray) -> Any:
    parsed = parse(buffer, 0)
    if parsed is INCOMPLETE:
        return INCOMPLETE
    value, end = parsed
    del buffer[:end]
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
        return _error(line), nxt
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
            return _error(data), nxt + size + 2
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


def _error(message: bytes) -> ResponseError:
    text = message.decode("utf-8", errors="replace")
    if _ErrorMapper is not None:
        return _ErrorMapper.parse_error(text)
    return ResponseError(text)  # pragma: no cover
