"""The clients under test: one `ClientSpec` per Redis lock library the lock workload can drive.

A spec is data: the name scenarios use (`workload: {type: lock, client: NAME}`), the
pinned packages of its virtualenv under `.venv-clients/<name>/`, the adapter module that
runs inside that venv (harness/clients/adapters/), and what the library promises:

- `scope`: "majority" (a quorum of the N nodes) or "single-node" (n1 only: the library
  talks to one Redis server, so a fault of that node can lose the lock);
- `fencing_tokens`: the library hands out a number that grows with every grant (only
  then can a resource reject a stale holder);
- `reports_validity`: the library says how long the hold is still valid; otherwise
  the checker judges a hold by the ttl it was asked for, counted from the invocation;
- `extend`: the library can extend a hold it still owns.

`majorityredis` (this repository) has no venv: it runs in-process with the harness's own
interpreter, through the same interface (harness/clients/base.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DEFAULT_CLIENT = "majorityredis"

Scope = Literal["majority", "single-node"]


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One client under test (see the module docstring)."""

    name: str
    package: str                 # the PyPI distribution whose version results.json records
    version: str                 # its pinned version
    shape: str                   # one line: how it locks
    scope: Scope
    fencing_tokens: bool
    reports_validity: bool
    extend: bool
    adapter: str | None = None   # module file in harness/clients/adapters/ (None: in-process)
    requirements: tuple[str, ...] = ()        # pip install (with dependencies)
    no_deps: tuple[str, ...] = ()             # pip install --no-deps (installed first)
    notes: tuple[str, ...] = field(default=())  # caveats the comparison page shows

    @property
    def in_process(self) -> bool:
        return self.adapter is None


CLIENTS: dict[str, ClientSpec] = {spec.name: spec for spec in (
    ClientSpec(
        name="majorityredis", package="majorityredis", version="(this repository)",
        shape="majority of N, fencing tokens, validity from a monotonic clock",
        scope="majority", fencing_tokens=True, reports_validity=True, extend=True),
    ClientSpec(
        name="majorityredis-0.1", package="majorityredis", version="0.1",
        shape="the 2015 original: majority of N, EXPIREAT on the client's wall clock (whole seconds)",
        scope="majority", fencing_tokens=False, reports_validity=True, extend=True,
        adapter="majorityredis_01.py", no_deps=("majorityredis==0.1",),
        requirements=("redis==8.1.0", "colorlog==6.12.0"),
        notes=("installed with --no-deps (it asks for a Python 2 `futures` backport and nose)",
               "one instance per client with threadsafe=True; background extension off")),
    ClientSpec(
        name="pottery", package="pottery", version="3.0.1",
        shape="Redlock: majority of N, concurrent, monotonic clock",
        scope="majority", fencing_tokens=False, reports_validity=False, extend=True,
        adapter="pottery_redlock.py", requirements=("pottery==3.0.1", "redis==8.1.0"),
        notes=("acquire does not report validity: holds judged by the requested ttl",)),
    ClientSpec(
        name="redlock-py", package="redlock-py", version="1.0.8",
        shape="Redlock: majority of N, sequential, wall clock",
        scope="majority", fencing_tokens=False, reports_validity=True, extend=False,
        adapter="redlock_py.py", requirements=("redlock-py==1.0.8", "redis==8.1.0"),
        notes=("raises without releasing when a server errors after quorum: recorded as unknown",)),
    ClientSpec(
        name="redlock-ng", package="redlock-ng", version="2.0.4",
        shape="Redlock: majority of N, sequential, validity reported",
        scope="majority", fencing_tokens=False, reports_validity=True, extend=True,
        adapter="redlock_ng.py", requirements=("redlock-ng==2.0.4",),
        notes=("pins redis<6", "extend replaces the TTL and reports no validity: judged by the ttl")),
    ClientSpec(
        name="aioredlock", package="aioredlock", version="0.7.3",
        shape="Redlock on asyncio (aioredis 1.x): majority of N, auto-extend",
        scope="majority", fencing_tokens=False, reports_validity=False, extend=True,
        adapter="aioredlock_adapter.py", requirements=("aioredlock==0.7.3",),
        notes=("auto-extends in the background (a client pause stops it too)",
               "aioredis 1.3.1 has no command timeout: one stalled node stalls every call, "
               "which ends at the adapter's deadline as unknown")),
    ClientSpec(
        name="redis-py", package="redis", version="8.1.0",
        shape="redis.lock.Lock: one node (n1)",
        scope="single-node", fencing_tokens=False, reports_validity=False, extend=True,
        adapter="redis_py.py", requirements=("redis==8.1.0",)),
    ClientSpec(
        name="python-redis-lock", package="python-redis-lock", version="4.0.1",
        shape="redis_lock.Lock: one node (n1), auto-renewal",
        scope="single-node", fencing_tokens=False, reports_validity=False, extend=True,
        adapter="python_redis_lock.py", requirements=("python-redis-lock==4.0.1", "redis==8.1.0"),
        notes=("whole-second expiry: the ttl is cut to int(ttl)",
               "auto-renewal thread (a client pause stops it too)")),
)}


def client_names() -> list[str]:
    return list(CLIENTS)


def get_client(name: str) -> ClientSpec:
    """The spec of `name`; ValueError naming the known clients otherwise."""
    try:
        return CLIENTS[name]
    except KeyError:
        raise ValueError(f"unknown client {name!r}; known: {', '.join(CLIENTS)}") from None
