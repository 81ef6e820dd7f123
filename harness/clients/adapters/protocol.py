"""The JSON-lines protocol between the harness and a client worker (standard library only).

The harness starts `<venv>/bin/python harness/clients/adapters/<module>.py` and writes
one JSON object per line on the worker's stdin; the worker answers one line per
request on stdout, in order (one request in flight at a time):

    harness -> worker   {"urls": [...], "socket_timeout": 0.3}            (first line: config)
    worker  -> harness  {"ready": {"package": "pottery", "version": "3.0.1"}}
                        or {"fatal": "ImportError: ..."} and exit 1
    harness -> worker   {"id": 7, "op": "acquire", "name": "lock0", "ttl": 2.0}
                        {"id": 8, "op": "extend", "name": "lock0", "ttl": 2.0}
                        {"id": 9, "op": "release", "name": "lock0"}
    worker  -> harness  {"id": 7, "outcome": "ok", "token": null, "validity": 1.93,
                         "valid_until": 81234.56, "error": null}

`outcome`: "ok" (held / extended / released), "refused" (certainly not: someone else
holds it, or we no longer own it), "unknown" (an error: the lock may be held, or not),
"unsupported" (the library cannot do this op). `validity`: seconds the library says the
hold is still valid when the call returned (null: it does not say); the server adds
`valid_until` = time.monotonic() + validity (CLOCK_MONOTONIC: the same clock in the
harness process). `token`: a fencing
token (null: none). Closing stdin ends the worker.

The library may print: the worker moves fd 1 to stderr first and speaks the protocol on
a private copy of the original stdout, so stray output never corrupts a reply.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import time
import traceback
from typing import Any, Callable
from urllib.parse import unquote, urlparse

OUTCOMES = ("ok", "refused", "unknown", "unsupported")


def reply(outcome: str, *, token: int | None = None, validity: float | None = None,
          error: str | None = None) -> dict[str, Any]:
    """One reply body (the server adds the request id)."""
    assert outcome in OUTCOMES, outcome
    return {"outcome": outcome, "token": token, "validity": validity, "error": error}


def error_text(error: BaseException) -> str:
    """One line naming the exception (the harness records it in `info` events)."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


def unknown(error: BaseException) -> dict[str, Any]:
    """An exception from the library: the outcome is unknown (the lock may be held)."""
    return reply("unknown", error=error_text(error))


def parse_url(url: str) -> dict[str, Any]:
    """redis://[:password@]host:port[/db] -> {"host", "port", "password", "db"}."""
    parsed = urlparse(url)
    db = parsed.path.lstrip("/")
    return {"host": parsed.hostname or "127.0.0.1", "port": parsed.port or 6379,
            "password": unquote(parsed.password) if parsed.password else None,
            "db": int(db) if db else 0}


def version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def serve(package: str, make_adapter: Callable[[list[str], float], Any]) -> None:
    """Run the worker: read the config, build the adapter, answer requests until EOF.

    The adapter has acquire(name, ttl), extend(name, ttl), release(name) -> reply dicts
    and close(). An exception escaping an op becomes an "unknown" reply.
    """
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # the library's prints go to stderr
    sys.stdout = sys.stderr

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    first = sys.stdin.readline()
    if not first:
        return
    try:
        config = json.loads(first)
        adapter = make_adapter(list(config["urls"]), float(config["socket_timeout"]))
    except Exception as error:  # noqa: BLE001 - reported to the harness, then exit 1
        traceback.print_exc()
        send({"fatal": error_text(error)})
        sys.exit(1)
    send({"ready": {"package": package, "version": version_of(package),
                    "python": sys.version.split()[0]}})
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            answer = _dispatch(adapter, request)
            if answer.get("validity") is not None:
                answer["valid_until"] = time.monotonic() + float(answer["validity"])
            send({"id": request.get("id"), **answer})
    finally:
        try:
            adapter.close()
        except Exception:  # noqa: BLE001 - closing must not hide anything
            traceback.print_exc()


def _dispatch(adapter: Any, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    try:
        if op == "acquire":
            return adapter.acquire(request["name"], float(request["ttl"]))
        if op == "extend":
            return adapter.extend(request["name"], float(request["ttl"]))
        if op == "release":
            return adapter.release(request["name"])
        return reply("unknown", error=f"unknown op {op!r}")
    except Exception as error:  # noqa: BLE001 - an exception can mean the lock is held
        traceback.print_exc()
        return unknown(error)
