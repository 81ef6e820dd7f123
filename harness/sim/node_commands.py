"""Redis 7.0 data commands over a `Keyspace`: strings, keys/expiry, hashes, sorted sets, lists, sets.

Each handler takes the keyspace and the arguments after the command name
(bytes) and returns a reply (see node_replies) or raises CommandError, with
the wording and the order of checks of redis-server 7.0 (arguments are
parsed before the key is looked up, as there). `COMMANDS` maps the upper-case
name to (arity, handler) with Redis's arity convention (counting the name;
negative = at least).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from harness.sim.node_keyspace import Keyspace, ZSet
from harness.sim.node_replies import (
    INT64_MAX,
    INT64_MIN,
    NOT_INTEGER,
    OK,
    OVERFLOW,
    SYNTAX,
    WRONGTYPE,
    CommandError,
    Status,
    float_arg,
    format_double,
    int_arg,
    parse_int,
    parse_range_float,
)

Handler = Callable[[Keyspace, list[bytes]], Any]
COMMANDS: dict[str, tuple[int, Handler]] = {}

_TYPE_NAMES = {bytes: b"string", dict: b"hash", ZSet: b"zset", list: b"list", set: b"set"}


def command(name: str, arity: int) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (arity, handler)
        return handler
    return register


def _typed(ks: Keyspace, key: bytes, kind: type) -> Any:
    value = ks.lookup(key)
    if value is not None and type(value) is not kind:
        raise CommandError(WRONGTYPE)
    return value


def _expire_error(name: str) -> CommandError:
    return CommandError(f"ERR invalid expire time in '{name}' command")


# -- keys and expiry -----------------------------------------------------------------------------
@command("DEL", -2)
def _del(ks: Keyspace, argv: list[bytes]) -> int:
    return sum(1 for key in argv if ks.lookup(key) is not None and ks.delete(key))


COMMANDS["UNLINK"] = (-2, _del)


@command("EXISTS", -2)
def _exists(ks: Keyspace, argv: list[bytes]) -> int:
    return sum(1 for key in argv if ks.lookup(key) is not None)


@command("TYPE", 2)
def _type(ks: Keyspace, argv: list[bytes]) -> Status:
    value = ks.lookup(argv[0])
    return Status(b"none" if value is None else _TYPE_NAMES[type(value)])


def _expire_generic(ks: Keyspace, argv: list[bytes], name: str, unit_ms: int, absolute: bool) -> int:
    key = argv[0]
    nx = xx = gt = lt = False
    for raw in argv[2:]:
        opt = raw.upper()
        if opt == b"NX":
            nx = True
        elif opt == b"XX":
            xx = True
        elif opt == b"GT":
            gt = True
        elif opt == b"LT":
            lt = True
        else:
            raise CommandError(b"ERR Unsupported option " + raw)
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    when = int_arg(argv[1])
    if unit_ms == 1000:
        if when > INT64_MAX // 1000 or when < -(INT64_MAX // 1000):
            raise _expire_error(name)
        when *= 1000
    base = 0 if absolute else ks.now
    if when > INT64_MAX - base:
        raise _expire_error(name)
    when += base
    if ks.lookup(key) is None:
        return 0
    current = ks.expires.get(key)
    if nx and current is not None:
        return 0
    if xx and current is None:
        return 0
    if gt and (current is None or when <= current):
        return 0
    if lt and current is not None and when >= current:
        return 0
    if when <= ks.now:
        ks.delete(key)
    else:
        ks.set_expire(key, when)
    return 1


@command("EXPIRE", -3)
def _expire(ks: Keyspace, argv: list[bytes]) -> int:
    return _expire_generic(ks, argv, "expire", 1000, False)


@command("PEXPIRE", -3)
def _pexpire(ks: Keyspace, argv: list[bytes]) -> int:
    return _expire_generic(ks, argv, "pexpire", 1, False)


@command("EXPIREAT", -3)
def _expireat(ks: Keyspace, argv: list[bytes]) -> int:
    return _expire_generic(ks, argv, "expireat", 1000, True)


@command("PEXPIREAT", -3)
def _pexpireat(ks: Keyspace, argv: list[bytes]) -> int:
    return _expire_generic(ks, argv, "pexpireat", 1, True)


def _ttl_generic(ks: Keyspace, key: bytes, millis: bool, absolute: bool) -> int:
    if ks.lookup(key) is None:
        return -2
    when = ks.expires.get(key)
    if when is None:
        return -1
    if absolute:
        return when if millis else (when + 500) // 1000
    left = max(0, when - ks.now)
    return left if millis else (left + 500) // 1000


@command("TTL", 2)
def _ttl(ks: Keyspace, argv: list[bytes]) -> int:
    return _ttl_generic(ks, argv[0], False, False)


@command("PTTL", 2)
def _pttl(ks: Keyspace, argv: list[bytes]) -> int:
    return _ttl_generic(ks, argv[0], True, False)


@command("EXPIRETIME", 2)
def _expiretime(ks: Keyspace, argv: list[bytes]) -> int:
    return _ttl_generic(ks, argv[0], False, True)


@command("PEXPIRETIME", 2)
def _pexpiretime(ks: Keyspace, argv: list[bytes]) -> int:
    return _ttl_generic(ks, argv[0], True, True)


@command("PERSIST", 2)
def _persist(ks: Keyspace, argv: list[bytes]) -> int:
    key = argv[0]
    if ks.lookup(key) is None or key not in ks.expires:
        return 0
    ks.set_expire(key, None)
    return 1


@command("DBSIZE", 1)
def _dbsize(ks: Keyspace, argv: list[bytes]) -> int:
    return len(ks.live_items())


# -- strings -------------------------------------------------------------------------------------
def _get_string(ks: Keyspace, key: bytes) -> bytes | None:
    return _typed(ks, key, bytes)


@command("GET", 2)
def _get(ks: Keyspace, argv: list[bytes]) -> bytes | None:
    return _get_string(ks, argv[0])


def _set_expire_ms(ks: Keyspace, raw: bytes, unit_ms: int, absolute: bool, name: str) -> int:
    value = int_arg(raw)
    if value <= 0 or (unit_ms == 1000 and value > INT64_MAX // 1000):
        raise _expire_error(name)
    value *= unit_ms
    if not absolute:
        value += ks.now
        if value > INT64_MAX:  # C signed overflow wraps negative: refused below
            value -= 2 ** 64
    if value <= 0:
        raise _expire_error(name)
    return value


@command("SET", -3)
def _set(ks: Keyspace, argv: list[bytes]) -> Any:
    key, value = argv[0], argv[1]
    nx = xx = get = keepttl = False
    expire_kind: bytes | None = None
    expire_raw = b""
    i, n = 2, len(argv)
    while i < n:
        opt = argv[i].upper()
        has_next = i + 1 < n
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get = True
        elif opt == b"KEEPTTL" and expire_kind is None:
            keepttl = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and not keepttl \
                and expire_kind in (None, opt) and has_next:
            expire_kind = opt
            i += 1
            expire_raw = argv[i]
        else:
            raise CommandError(SYNTAX)
        i += 1
    expire: int | None = None
    if expire_kind is not None:
        unit = 1000 if expire_kind in (b"EX", b"EXAT") else 1
        expire = _set_expire_ms(ks, expire_raw, unit, expire_kind.endswith(b"AT"), "set")
    old = _get_string(ks, key) if get else None
    found = ks.lookup(key) is not None
    if (nx and found) or (xx and not found):
        return old if get else None
    if keepttl and found:
        expire = ks.expires.get(key)
    ks.store(key, value, expire)
    return old if get else OK


@command("SETNX", 3)
def _setnx(ks: Keyspace, argv: list[bytes]) -> int:
    if ks.lookup(argv[0]) is not None:
        return 0
    ks.store(argv[0], argv[1], None)
    return 1


def _setex_generic(ks: Keyspace, argv: list[bytes], unit: int, name: str) -> Status:
    expire = _set_expire_ms(ks, argv[1], unit, False, name)
    ks.store(argv[0], argv[2], expire)
    return OK


@command("SETEX", 4)
def _setex(ks: Keyspace, argv: list[bytes]) -> Status:
    return _setex_generic(ks, argv, 1000, "setex")


@command("PSETEX", 4)
def _psetex(ks: Keyspace, argv: list[bytes]) -> Status:
    return _setex_generic(ks, argv, 1, "psetex")


@command("GETSET", 3)
def _getset(ks: Keyspace, argv: list[bytes]) -> bytes | None:
    old = _get_string(ks, argv[0])
    ks.store(argv[0], argv[1], None)
    return old


@command("GETDEL", 2)
def _getdel(ks: Keyspace, argv: list[bytes]) -> bytes | None:
    old = _get_string(ks, argv[0])
    if old is not None:
        ks.delete(argv[0])
    return old


@command("MGET", -2)
def _mget(ks: Keyspace, argv: list[bytes]) -> list[bytes | None]:
    out = []
    for key in argv:
        value = ks.lookup(key)
        out.append(value if type(value) is bytes else None)
    return out


@command("MSET", -3)
def _mset(ks: Keyspace, argv: list[bytes]) -> Status:
    if len(argv) % 2:
        raise CommandError("ERR wrong number of arguments for 'mset' command")
    for i in range(0, len(argv), 2):
        ks.store(argv[i], argv[i + 1], None)
    return OK


@command("STRLEN", 2)
def _strlen(ks: Keyspace, argv: list[bytes]) -> int:
    value = _get_string(ks, argv[0])
    return 0 if value is None else len(value)


@command("APPEND", 3)
def _append(ks: Keyspace, argv: list[bytes]) -> int:
    key = argv[0]
    old = _get_string(ks, key)
    new = (old or b"") + argv[1]
    ks.store(key, new, ks.expires.get(key) if old is not None else None)
    return len(new)


def _incr_generic(ks: Keyspace, key: bytes, delta: int) -> int:
    old = _get_string(ks, key)
    current = 0 if old is None else parse_int(old)
    if current is None:
        raise CommandError(NOT_INTEGER)
    new = current + delta
    if not INT64_MIN <= new <= INT64_MAX:
        raise CommandError(OVERFLOW)
    ks.store(key, str(new).encode(), ks.expires.get(key) if old is not None else None)
    return new


@command("INCR", 2)
def _incr(ks: Keyspace, argv: list[bytes]) -> int:
    return _incr_generic(ks, argv[0], 1)


@command("DECR", 2)
def _decr(ks: Keyspace, argv: list[bytes]) -> int:
    return _incr_generic(ks, argv[0], -1)


@command("INCRBY", 3)
def _incrby(ks: Keyspace, argv: list[bytes]) -> int:
    return _incr_generic(ks, argv[0], int_arg(argv[1]))


@command("DECRBY", 3)
def _decrby(ks: Keyspace, argv: list[bytes]) -> int:
    delta = int_arg(argv[1])
    if delta == INT64_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr_generic(ks, argv[0], -delta)


# -- hashes --------------------------------------------------------------------------------------
def _hash(ks: Keyspace, key: bytes) -> dict[bytes, bytes] | None:
    return _typed(ks, key, dict)


def _hash_for_write(ks: Keyspace, key: bytes) -> dict[bytes, bytes]:
    hash_ = _hash(ks, key)
    if hash_ is None:
        hash_ = {}
        ks.store(key, hash_, None)
    return hash_


def _hset_pairs(ks: Keyspace, argv: list[bytes], name: str) -> int:
    if len(argv) % 2 == 0:
        raise CommandError(f"ERR wrong number of arguments for '{name}' command")
    key = argv[0]
    hash_ = _hash_for_write(ks, key)
    added = 0
    for i in range(1, len(argv), 2):
        added += argv[i] not in hash_
        ks.hash_set(key, hash_, argv[i], argv[i + 1])
    return added


@command("HSET", -4)
def _hset(ks: Keyspace, argv: list[bytes]) -> int:
    return _hset_pairs(ks, argv, "hset")


@command("HMSET", -4)
def _hmset(ks: Keyspace, argv: list[bytes]) -> Status:
    _hset_pairs(ks, argv, "hmset")
    return OK


@command("HSETNX", 4)
def _hsetnx(ks: Keyspace, argv: list[bytes]) -> int:
    key, field = argv[0], argv[1]
    hash_ = _hash_for_write(ks, key)
    if field in hash_:
        return 0
    ks.hash_set(key, hash_, field, argv[2])
    return 1


@command("HGET", 3)
def _hget(ks: Keyspace, argv: list[bytes]) -> bytes | None:
    hash_ = _hash(ks, argv[0])
    return None if hash_ is None else hash_.get(argv[1])


@command("HMGET", -3)
def _hmget(ks: Keyspace, argv: list[bytes]) -> list[bytes | None]:
    hash_ = _hash(ks, argv[0]) or {}
    return [hash_.get(field) for field in argv[1:]]


@command("HGETALL", 2)
def _hgetall(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    hash_ = _hash(ks, argv[0]) or {}
    return [item for pair in hash_.items() for item in pair]


@command("HKEYS", 2)
def _hkeys(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    return list(_hash(ks, argv[0]) or {})


@command("HVALS", 2)
def _hvals(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    return list((_hash(ks, argv[0]) or {}).values())


@command("HLEN", 2)
def _hlen(ks: Keyspace, argv: list[bytes]) -> int:
    return len(_hash(ks, argv[0]) or {})


@command("HSTRLEN", 3)
def _hstrlen(ks: Keyspace, argv: list[bytes]) -> int:
    return len((_hash(ks, argv[0]) or {}).get(argv[1], b""))


@command("HEXISTS", 3)
def _hexists(ks: Keyspace, argv: list[bytes]) -> int:
    return int(argv[1] in (_hash(ks, argv[0]) or {}))


@command("HDEL", -3)
def _hdel(ks: Keyspace, argv: list[bytes]) -> int:
    key = argv[0]
    hash_ = _hash(ks, key)
    deleted = 0
    for field in argv[1:]:
        if hash_ and field in hash_:
            ks.hash_delete(key, hash_, field)
            deleted += 1
    return deleted


@command("HINCRBY", 4)
def _hincrby(ks: Keyspace, argv: list[bytes]) -> int:
    key, field = argv[0], argv[1]
    delta = int_arg(argv[2])
    hash_ = _hash(ks, key)
    old = None if hash_ is None else hash_.get(field)
    current = 0 if old is None else parse_int(old)
    if current is None:
        raise CommandError("ERR hash value is not an integer")
    new = current + delta
    if not INT64_MIN <= new <= INT64_MAX:
        raise CommandError(OVERFLOW)
    ks.hash_set(key, _hash_for_write(ks, key), field, str(new).encode())
    return new


# -- sorted sets ---------------------------------------------------------------------------------
def _zset(ks: Keyspace, key: bytes) -> ZSet | None:
    return _typed(ks, key, ZSet)


@command("ZADD", -4)
def _zadd(ks: Keyspace, argv: list[bytes]) -> Any:
    key = argv[0]
    flags = {b"NX": False, b"XX": False, b"CH": False, b"INCR": False, b"GT": False, b"LT": False}
    i = 1
    while i < len(argv) and argv[i].upper() in flags:
        flags[argv[i].upper()] = True
        i += 1
    nx, xx, ch, incr, gt, lt = (flags[f] for f in (b"NX", b"XX", b"CH", b"INCR", b"GT", b"LT"))
    elements = len(argv) - i
    if elements % 2 or not elements:
        raise CommandError(SYNTAX)
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    pairs = [(float_arg(argv[j]), argv[j + 1]) for j in range(i, len(argv), 2)]
    zset = _zset(ks, key)
    added = updated = processed = 0
    score: float | None = None
    if zset is None:
        if xx:
            return None if incr else 0
        zset = ZSet()
        ks.store(key, zset, None)
    for score, member in pairs:
        current = zset.scores.get(member)
        if current is not None:
            if nx:
                continue
            new = current + score if incr else score
            if math.isnan(new):
                raise CommandError("ERR resulting score is not a number (NaN)")
            if (lt and new >= current) or (gt and new <= current):
                continue
            score = new
            processed += 1
            if new != current:
                ks.zset_put(key, zset, member, new)
                updated += 1
        elif not xx:
            ks.zset_put(key, zset, member, score)
            added += 1
            processed += 1
    if incr:
        return format_double(score) if processed else None  # type: ignore[arg-type]
    return added + updated if ch else added


@command("ZINCRBY", 4)
def _zincrby(ks: Keyspace, argv: list[bytes]) -> Any:
    return _zadd(ks, [argv[0], b"INCR", argv[1], argv[2]])


@command("ZREM", -3)
def _zrem(ks: Keyspace, argv: list[bytes]) -> int:
    key = argv[0]
    zset = _zset(ks, key)
    removed = 0
    for member in argv[1:]:
        if zset and member in zset.scores:
            ks.zset_remove(key, zset, member)
            removed += 1
    return removed


@command("ZSCORE", 3)
def _zscore(ks: Keyspace, argv: list[bytes]) -> bytes | None:
    zset = _zset(ks, argv[0])
    score = None if zset is None else zset.scores.get(argv[1])
    return None if score is None else format_double(score)


@command("ZMSCORE", -3)
def _zmscore(ks: Keyspace, argv: list[bytes]) -> list[bytes | None]:
    zset = _zset(ks, argv[0])
    scores = {} if zset is None else zset.scores
    return [None if m not in scores else format_double(scores[m]) for m in argv[1:]]


@command("ZCARD", 2)
def _zcard(ks: Keyspace, argv: list[bytes]) -> int:
    zset = _zset(ks, argv[0])
    return 0 if zset is None else len(zset)


def _rank(ks: Keyspace, argv: list[bytes], reverse: bool) -> Any:
    zset = _zset(ks, argv[0])
    if zset is None or argv[1] not in zset.scores:
        return None
    order = zset.order()
    score = zset.scores[argv[1]]
    rank = order.index((score, argv[1]))
    if reverse:
        rank = len(order) - 1 - rank
    return rank


@command("ZRANK", 3)
def _zrank(ks: Keyspace, argv: list[bytes]) -> Any:
    return _rank(ks, argv, False)


@command("ZREVRANK", 3)
def _zrevrank(ks: Keyspace, argv: list[bytes]) -> Any:
    return _rank(ks, argv, True)


def _score_bound(raw: bytes) -> tuple[float, bool]:
    open_ = raw[:1] == b"("
    value = parse_range_float(raw[1:] if open_ else raw)
    if value is None:
        raise CommandError("ERR min or max is not a float")
    return value, open_


def _lex_bound(raw: bytes) -> tuple[bytes | None, bool, int]:
    """(value, open, infinity: -1 for '-', 1 for '+', 0 otherwise)."""
    if raw == b"-":
        return None, False, -1
    if raw == b"+":
        return None, False, 1
    if raw[:1] in (b"[", b"("):
        return raw[1:], raw[:1] == b"(", 0
    raise CommandError("ERR min or max not valid string range item")


def _gte_min(member: bytes, low: tuple[bytes | None, bool, int]) -> bool:
    value, open_, inf = low
    if inf:
        return inf < 0
    return member > value if open_ else member >= value  # type: ignore[operator]


def _lte_max(member: bytes, high: tuple[bytes | None, bool, int]) -> bool:
    value, open_, inf = high
    if inf:
        return inf > 0
    return member < value if open_ else member <= value  # type: ignore[operator]


def _lex_empty(low: tuple[bytes | None, bool, int], high: tuple[bytes | None, bool, int]) -> bool:
    """A range that is always empty (min above max, or equal with an open end), as sdscmplex sees it."""
    (lv, lo, linf), (hv, ho, hinf) = low, high
    if linf or hinf:
        if linf == hinf:
            cmp = 0
        elif linf == -1 or hinf == 1:
            cmp = -1
        else:
            cmp = 1
    else:
        cmp = (lv > hv) - (lv < hv)  # type: ignore[operator]
    return cmp > 0 or (cmp == 0 and (lo or ho))


def _lex_walk(order: list[tuple[float, bytes]], low: tuple[bytes | None, bool, int],
              high: tuple[bytes | None, bool, int], reverse: bool, offset: int,
              count: int) -> list[tuple[float, bytes]]:
    """A lex range as Redis walks it (members are meant to share one score; when they do not,
    Redis starts at the first member past the near bound and stops at the first one past the far
    bound, skipping `offset` members unchecked — reproduced here)."""
    n = len(order)
    if _lex_empty(low, high) or not n or not _gte_min(order[-1][1], low) \
            or not _lte_max(order[0][1], high):
        return []  # zzlIsInLexRange: the last member must reach min, the first must not pass max
    if reverse:
        start = next((i for i in range(n - 1, -1, -1) if _lte_max(order[i][1], high)), None)
        if start is None or not _gte_min(order[start][1], low):
            return []
        walk = order[start::-1]
        inside: Callable[[bytes], bool] = lambda m: _gte_min(m, low)  # noqa: E731 - one of two bounds
    else:
        start = next((i for i in range(n) if _gte_min(order[i][1], low)), None)
        if start is None or not _lte_max(order[start][1], high):
            return []
        walk = order[start:]
        inside = lambda m: _lte_max(m, high)  # noqa: E731 - one of two bounds
    if offset < 0:
        return []
    out = []
    for item in walk[offset:]:
        if count == 0 or not inside(item[1]):
            break
        out.append(item)
        count -= 1
    return out


def _range_reply(picked: list[tuple[float, bytes]], withscores: bool) -> list[bytes]:
    if not withscores:
        return [member for _, member in picked]
    out: list[bytes] = []
    for score, member in picked:
        out.append(member)
        out.append(format_double(score))
    return out


def _limit(items: list[Any], offset: int, count: int) -> list[Any]:
    if offset < 0:
        return []
    return items[offset:] if count < 0 else items[offset:offset + count]


def _zrange_generic(ks: Keyspace, key: bytes, first: bytes, second: bytes, options: list[bytes],
                    by: str, reverse: bool | None) -> list[bytes]:
    """ZRANGE and its older forms; `by` "auto" and `reverse` None leave them to the options (ZRANGE)."""
    withscores = False
    limit: tuple[int, int] | None = None
    i = 0
    while i < len(options):
        opt = options[i].upper()
        if opt == b"WITHSCORES":
            withscores = True
        elif opt == b"LIMIT" and len(options) - i - 1 >= 2:
            limit = (int_arg(options[i + 1]), int_arg(options[i + 2]))
            i += 2
        elif opt == b"REV" and reverse is None:
            reverse = True
        elif opt == b"BYLEX" and by == "auto":
            by = "lex"
        elif opt == b"BYSCORE" and by == "auto":
            by = "score"
        else:
            raise CommandError(SYNTAX)
        i += 1
    reverse = bool(reverse)
    by = "rank" if by == "auto" else by
    if limit is not None and limit[1] != -1 and by == "rank":  # Redis stores "no limit" as count -1
        raise CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and by == "lex":
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    if reverse and by != "rank":
        first, second = second, first  # REV takes max before min
    if by == "rank":
        start, stop = int_arg(first), int_arg(second)
        zset = _zset(ks, key)
        if zset is None:
            return []
        order = zset.order()
        n = len(order)
        if start < 0:
            start += n
        if stop < 0:
            stop += n
        start = max(start, 0)
        if start > stop or start >= n:
            return []
        stop = min(stop, n - 1)
        if reverse:
            picked = [order[n - 1 - r] for r in range(start, stop + 1)]
        else:
            picked = order[start:stop + 1]
        return _range_reply(picked, withscores)
    if by == "score":
        low, high = _score_bound(first), _score_bound(second)
        zset = _zset(ks, key)
        if zset is None:
            return []
        begin, end = zset.rank_range_by_score(low[0], low[1], high[0], high[1])
        picked = zset.order()[begin:end]
    else:
        lowl, highl = _lex_bound(first), _lex_bound(second)
        zset = _zset(ks, key)
        if zset is None:
            return []
        offset, count = limit if limit is not None else (0, -1)
        return _range_reply(_lex_walk(zset.order(), lowl, highl, reverse, offset, count), False)
    if reverse:
        picked = picked[::-1]
    if limit is not None:
        picked = _limit(picked, *limit)
    return _range_reply(picked, withscores)


@command("ZRANGE", -4)
def _zrange(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    return _zrange_generic(ks, argv[0], argv[1], argv[2], argv[3:], "auto", None)


@command("ZREVRANGE", -4)
def _zrevrange(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    return _zrange_generic(ks, argv[0], argv[1], argv[2], argv[3:], "rank", True)


@command("ZRANGEBYSCORE", -4)
def _zrangebyscore(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    return _zrange_generic(ks, argv[0], argv[1], argv[2], argv[3:], "score", False)


@command("ZREVRANGEBYSCORE", -4)
def _zrevrangebyscore(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    # the range is given max-first; _zrange_generic swaps for reverse
    return _zrange_generic(ks, argv[0], argv[1], argv[2], argv[3:], "score", True)


@command("ZRANGEBYLEX", -4)
def _zrangebylex(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    return _zrange_generic(ks, argv[0], argv[1], argv[2], argv[3:], "lex", False)


@command("ZREVRANGEBYLEX", -4)
def _zrevrangebylex(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    return _zrange_generic(ks, argv[0], argv[1], argv[2], argv[3:], "lex", True)


@command("ZCOUNT", 4)
def _zcount(ks: Keyspace, argv: list[bytes]) -> int:
    low, high = _score_bound(argv[1]), _score_bound(argv[2])
    zset = _zset(ks, argv[0])
    if zset is None:
        return 0
    begin, end = zset.rank_range_by_score(low[0], low[1], high[0], high[1])
    return end - begin


@command("ZLEXCOUNT", 4)
def _zlexcount(ks: Keyspace, argv: list[bytes]) -> int:
    low, high = _lex_bound(argv[1]), _lex_bound(argv[2])
    zset = _zset(ks, argv[0])
    if zset is None:
        return 0
    return len(_lex_walk(zset.order(), low, high, False, 0, -1))


def _zrem_picked(ks: Keyspace, key: bytes, zset: ZSet, picked: list[tuple[float, bytes]]) -> int:
    for _, member in picked:
        if key in ks.values:
            ks.zset_remove(key, zset, member)
    return len(picked)


@command("ZREMRANGEBYSCORE", 4)
def _zremrangebyscore(ks: Keyspace, argv: list[bytes]) -> int:
    low, high = _score_bound(argv[1]), _score_bound(argv[2])
    zset = _zset(ks, argv[0])
    if zset is None:
        return 0
    begin, end = zset.rank_range_by_score(low[0], low[1], high[0], high[1])
    return _zrem_picked(ks, argv[0], zset, list(zset.order()[begin:end]))


@command("ZREMRANGEBYRANK", 4)
def _zremrangebyrank(ks: Keyspace, argv: list[bytes]) -> int:
    start, stop = int_arg(argv[1]), int_arg(argv[2])
    zset = _zset(ks, argv[0])
    if zset is None:
        return 0
    n = len(zset)
    start, stop = (start + n if start < 0 else start), (stop + n if stop < 0 else stop)
    start = max(start, 0)
    if start > stop or start >= n:
        return 0
    return _zrem_picked(ks, argv[0], zset, list(zset.order()[start:min(stop, n - 1) + 1]))


# -- lists and sets (not used by the library's scripts today; kept small) ------------------------
def _list(ks: Keyspace, key: bytes) -> list[bytes] | None:
    return _typed(ks, key, list)


def _push(ks: Keyspace, argv: list[bytes], left: bool) -> int:
    key = argv[0]
    items = _list(ks, key)
    if items is None:
        items = []
        ks.store(key, items, None)
    else:
        ks.replace_container(key, items)
    for value in argv[1:]:
        if left:
            items.insert(0, value)
        else:
            items.append(value)
    return len(items)


@command("LPUSH", -3)
def _lpush(ks: Keyspace, argv: list[bytes]) -> int:
    return _push(ks, argv, True)


@command("RPUSH", -3)
def _rpush(ks: Keyspace, argv: list[bytes]) -> int:
    return _push(ks, argv, False)


def _pop(ks: Keyspace, argv: list[bytes], left: bool) -> Any:
    if len(argv) > 2:
        raise CommandError(SYNTAX)
    count = None
    if len(argv) == 2:
        count = parse_int(argv[1])
        if count is None or count < 0:
            raise CommandError("ERR value is out of range, must be positive")
    key = argv[0]
    items = _list(ks, key)
    if items is None:
        return None
    ks.replace_container(key, items)
    take = 1 if count is None else count
    popped = []
    for _ in range(min(take, len(items))):
        popped.append(items.pop(0) if left else items.pop())
    if not items:
        ks.delete(key)
    return popped[0] if count is None else popped


@command("LPOP", -2)
def _lpop(ks: Keyspace, argv: list[bytes]) -> Any:
    return _pop(ks, argv, True)


@command("RPOP", -2)
def _rpop(ks: Keyspace, argv: list[bytes]) -> Any:
    return _pop(ks, argv, False)


@command("LLEN", 2)
def _llen(ks: Keyspace, argv: list[bytes]) -> int:
    return len(_list(ks, argv[0]) or [])


@command("LRANGE", 4)
def _lrange(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    start, stop = int_arg(argv[1]), int_arg(argv[2])
    items = _list(ks, argv[0]) or []
    n = len(items)
    start, stop = (start + n if start < 0 else start), (stop + n if stop < 0 else stop)
    start = max(start, 0)
    if start > stop or start >= n:
        return []
    return items[start:min(stop, n - 1) + 1]


def _members(ks: Keyspace, key: bytes) -> set[bytes] | None:
    return _typed(ks, key, set)


@command("SADD", -3)
def _sadd(ks: Keyspace, argv: list[bytes]) -> int:
    key = argv[0]
    members = _members(ks, key)
    if members is None:
        members = set()
        ks.store(key, members, None)
    else:
        ks.replace_container(key, members)
    before = len(members)
    members.update(argv[1:])
    return len(members) - before


@command("SREM", -3)
def _srem(ks: Keyspace, argv: list[bytes]) -> int:
    key = argv[0]
    members = _members(ks, key)
    if members is None:
        return 0
    ks.replace_container(key, members)
    removed = sum(1 for m in set(argv[1:]) if m in members)
    members.difference_update(argv[1:])
    if not members:
        ks.delete(key)
    return removed


@command("SISMEMBER", 3)
def _sismember(ks: Keyspace, argv: list[bytes]) -> int:
    return int(argv[1] in (_members(ks, argv[0]) or ()))


@command("SCARD", 2)
def _scard(ks: Keyspace, argv: list[bytes]) -> int:
    return len(_members(ks, argv[0]) or ())


@command("SMEMBERS", 2)
def _smembers(ks: Keyspace, argv: list[bytes]) -> list[bytes]:
    return sorted(_members(ks, argv[0]) or ())  # Redis order is unspecified; sorted is deterministic
