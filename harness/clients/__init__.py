"""Clients under test of the lock workload: our majorityredis and other Redis lock libraries.

- specs.py: CLIENTS, one ClientSpec per library (pins, adapter, what it promises);
- base.py: the LockClient interface the workload drives (acquire / extend / release);
- inprocess.py: our majorityredis, in the harness's interpreter;
- worker.py + adapters/: any other library in a worker process of its own venv (venvs.py),
  over the JSON-lines protocol of adapters/protocol.py;
- promises.py: what a client promises under a scenario's faults (the comparison page).

A new client under test is one ClientSpec plus one adapter module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.clients.base import Attempt, LockClient
from harness.clients.specs import CLIENTS, DEFAULT_CLIENT, ClientSpec, client_names, get_client

__all__ = ["Attempt", "CLIENTS", "DEFAULT_CLIENT", "ClientSpec", "LockClient", "client_names",
           "get_client", "open_lock_client", "prepare_client"]


def prepare_client(name: str) -> Path:
    """Make sure client `name` can run (its venv exists); the python it runs with.
    EnvironmentFailure (exit 4) when its venv cannot be built."""
    from harness.clients.venvs import ensure_venv

    return ensure_venv(get_client(name))


def open_lock_client(name: str, urls: list[str], *, socket_timeout: float, mr: Any = None,
                     connect: bool = True, lock_options: dict[str, Any] | None = None) -> LockClient:
    """The LockClient of client `name` for one client slot (`mr`: the slot's own
    MajorityRedis, used by the in-process client with `lock_options` for its locks, e.g.
    drift_factor), connected (its worker started) unless `connect` is False (then the first
    call starts it)."""
    client = _make_client(name, urls, socket_timeout=socket_timeout, mr=mr, lock_options=lock_options or {})
    if connect:
        client.connect()
    return client


def _make_client(name: str, urls: list[str], *, socket_timeout: float, mr: Any,
                 lock_options: dict[str, Any]) -> LockClient:
    spec = get_client(name)
    if spec.in_process:
        from harness.clients.inprocess import InProcessMajorityRedis

        if mr is None:
            from majorityredis import MajorityRedis

            mr = MajorityRedis.from_urls(urls, socket_timeout=socket_timeout)
        return InProcessMajorityRedis(spec, mr, lock_options)
    from harness.clients.venvs import ensure_venv
    from harness.clients.worker import WorkerClient

    return WorkerClient(spec, urls, socket_timeout, python=ensure_venv(spec))
