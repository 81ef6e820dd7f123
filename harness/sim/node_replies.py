"""Reply values of the simulated node, and the argument parsing rules Redis applies (util.c).

A command returns `bytes` (bulk string), `int` (integer), `None` (null),
`list` (array) or `Status` (simple string such as +OK); it raises
`CommandError` for an error reply. The Lua bridge and the RESP view (what
`majorityredis.resp` would parse) are built from these.
"""

from __future__ import annotations

import math
import re

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class Status(bytes):
    """A simple-string reply (+OK, +PONG, +string from TYPE)."""


OK = Status(b"OK")


class CommandError(Exception):
    """An error reply; `message` is the line without the leading '-' (e.g. b'ERR syntax error')."""

    def __init__(self, message: str | bytes) -> None:
        self.message = message.encode() if isinstance(message, str) else message
        super().__init__(self.message)


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
SYNTAX = "ERR syntax error"
OVERFLOW = "ERR increment or decrement would overflow"

_INT = re.compile(rb"-?[1-9][0-9]*|0")
_C_SPACE = b" \t\n\v\f\r"
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?")
_INF = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)
_NAN = re.compile(rb"[+-]?nan(?:\([0-9A-Za-z_]*\))?", re.IGNORECASE)


def parse_int(raw: bytes) -> int | None:
    """Redis string2ll: a canonical decimal int64 ('-0', '+1', ' 1', '01' are not), else None."""
    if len(raw) > 20 or not _INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if INT64_MIN <= value <= INT64_MAX else None


def int_arg(raw: bytes) -> int:
    value = parse_int(raw)
    if value is None:
        raise CommandError(NOT_INTEGER)
    return value


def _strtod(text: bytes) -> tuple[float, bool] | None:
    """C strtod over the whole of `text`: (value, out of range) or None when not all of it parses."""
    if _DECIMAL.fullmatch(text):
        value = float(text)
        if math.isinf(value):
            return value, True
        mantissa = text.split(b"e")[0].split(b"E")[0]
        if value == 0.0 and mantissa.strip(b"+-.0"):
            return value, True  # underflow to zero
        return value, abs(value) < 2.2250738585072014e-308 and value != 0.0
    if _HEX.fullmatch(text):
        sign = -1.0 if text[:1] == b"-" else 1.0
        body = text.lstrip(b"+-")
        body = body if b"p" in body.lower() else body + b"p0"
        try:
            return sign * float.fromhex(body.decode()), False
        except OverflowError:
            return sign * math.inf, True
    if _INF.fullmatch(text):
        return (-math.inf if text[:1] == b"-" else math.inf), False
    if _NAN.fullmatch(text):
        return math.nan, False
    return None


def parse_float(raw: bytes) -> float | None:
    """Redis string2d (ZADD scores, ZINCRBY): a double, not NaN, no spaces, no overflow, else None."""
    if not raw or raw[0] in _C_SPACE:
        return None
    parsed = _strtod(raw)
    if parsed is None:
        return None
    value, out_of_range = parsed
    if math.isnan(value) or (out_of_range and (math.isinf(value) or value == 0.0)):
        return None
    return value


def float_arg(raw: bytes) -> float:
    value = parse_float(raw)
    if value is None:
        raise CommandError(NOT_FLOAT)
    return value


def parse_range_float(raw: bytes) -> float | None:
    """A score range bound as zslParseRange reads it: strtod (leading spaces, '' = 0), not NaN."""
    text = raw.lstrip(_C_SPACE)
    if not text:
        return 0.0 if not raw else None
    parsed = _strtod(text)
    if parsed is None or math.isnan(parsed[0]):
        return None
    return parsed[0]


def format_double(value: float) -> bytes:
    """A double as Redis 7.0 replies it over RESP2 (`%.17g`, inf/-inf)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value


def lua_number_arg(value: float) -> bytes:
    """A Lua number passed to redis.call, as Redis 7.0 turns it into an argument (`%.17g`)."""
    return b"%.17g" % value
