"""A client under test in a worker process of its own venv, spoken to over JSON lines.

`WorkerClient` starts `<venv>/bin/python harness/clients/adapters/<module>.py` (protocol:
harness/clients/adapters/protocol.py) from the calling thread and keeps it for the
client slot's life. Every call has a deadline; what goes wrong becomes an "unknown"
Attempt with a message that says what happened, never an exception:

- the worker exits (a crash) -> "worker of client X exited with code N: <its last stderr line>";
- no reply within the deadline (hung) -> "... did not answer within Ns; killed";
- a reply that is not the protocol -> "... broke the protocol: ...".
In each case the worker's process group is killed and the next call starts a fresh
worker (new connections), as a restarted client would.

No orphan: the worker is started with PR_SET_PDEATHSIG(SIGKILL) in its own process
group (as the cluster's servers are, harness/cluster/processes.py), registered for the
atexit/SIGTERM cleanup, and killed by `close()`. The kernel fires the death signal when
the *spawning thread* exits, so start it from the thread that uses it (the workload's
client thread does). `pause()`/`resume()` SIGSTOP/SIGCONT the whole group: a real
stop-the-world pause of the client, its background renewal threads included.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from harness.clients.base import Attempt, LockClient
from harness.clients.specs import ClientSpec
from harness.cluster.processes import REGISTRY, _die_with_parent

log = logging.getLogger("harness.clients")

ADAPTERS_DIR = Path(__file__).resolve().parent / "adapters"
START_TIMEOUT = 60.0  # importing a library on a loaded machine can take a while
STDERR_LINES = 20


class WorkerFailure(Exception):
    """The worker crashed, hung or broke the protocol (the message says which)."""


def call_deadline(nodes: int, socket_timeout: float) -> float:
    """How long one call may take before the worker counts as hung: the slowest library
    talks to the nodes one after the other, a few commands each, every one bounded by
    the socket timeout (connect + reply)."""
    return 2.0 + 4.0 * nodes * socket_timeout


class WorkerClient(LockClient):
    """A LockClient whose library runs in a worker process (see the module docstring)."""

    def __init__(self, spec: ClientSpec, urls: list[str], socket_timeout: float, *, python: str | Path,
                 deadline: float | None = None, start_timeout: float = START_TIMEOUT,
                 adapter: Path | None = None) -> None:
        if spec.adapter is None:
            raise ValueError(f"client {spec.name} runs in-process, not in a worker")
        self.spec = spec
        self.urls = list(urls)
        self.socket_timeout = socket_timeout
        self.python = str(python)
        self.adapter = adapter or ADAPTERS_DIR / spec.adapter
        self.deadline = deadline if deadline is not None else call_deadline(len(urls), socket_timeout)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}  # the ready line of the running worker ({} before it)
        self.version: str | None = None
        self.restarts = 0
        self._replies: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._next_id = 0
        self._paused = False

    # -- the LockClient interface ------------------------------------------------
    def acquire(self, name: str, ttl: float) -> Attempt:
        return self._call({"op": "acquire", "name": name, "ttl": ttl})

    def extend(self, name: str, ttl: float) -> Attempt:
        if not self.spec.extend:
            return Attempt("unsupported")
        return self._call({"op": "extend", "name": name, "ttl": ttl})

    def release(self, name: str) -> Attempt:
        return self._call({"op": "release", "name": name})

    def connect(self) -> None:
        try:
            if self.proc is None:
                self.launch()
            if not self.ready:
                self.wait_ready()
        except WorkerFailure:
            pass  # the first op starts it again and reports the failure

    def pause(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGSTOP)
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._signal(signal.SIGCONT)
            self._paused = False

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        if self.version:
            described["version"] = self.version  # what the worker really imported
        if self.restarts:
            described["worker_restarts"] = self.restarts
        return described

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        self.resume()
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # EOF: the worker closes its library and exits
            proc.wait(timeout=2.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._kill(proc)

    # -- the process ---------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Start the worker and wait for its ready line; WorkerFailure otherwise."""
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Spawn the worker and send its config, without waiting (several start at once).
        Spawned from the calling thread: the worker dies when that thread ends."""
        self._replies = queue.Queue()
        self._stderr.clear()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen([self.python, str(self.adapter)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     preexec_fn=_die_with_parent)
        REGISTRY.add(self.proc)
        name = f"{self.spec.name}-worker-{self.proc.pid}"
        threading.Thread(target=self._read_stdout, args=(self.proc, self._replies), daemon=True,
                         name=f"{name}-out").start()
        threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True,
                         name=f"{name}-err").start()
        self._send({"urls": self.urls, "socket_timeout": self.socket_timeout})

    def wait_ready(self) -> dict[str, Any]:
        """Wait for the launched worker's ready line; WorkerFailure otherwise."""
        assert self.proc is not None
        message = self._receive(self.start_timeout, "start")
        if "ready" not in message:
            raise self._fail(f"did not start: {message.get('fatal', message)}")
        self.ready = dict(message["ready"])
        self.version = self.ready.get("version")
        log.info("client %s: worker pid %d ready (%s %s)", self.spec.name, self.proc.pid,
                 self.ready.get("package"), self.ready.get("version"))
        return self.ready

    def _call(self, request: dict[str, Any]) -> Attempt:
        try:
            if self.proc is None:
                if self.version is not None:
                    self.restarts += 1
                self.start()
            self._next_id += 1
            self._send({"id": self._next_id, **request})
            message = self._receive(self.deadline, request["op"])
            if message.get("id") != self._next_id or message.get("outcome") not in (
                    "ok", "refused", "unknown", "unsupported"):
                raise self._fail(f"broke the protocol: unexpected reply {json.dumps(message)[:200]}")
        except WorkerFailure as failure:
            return Attempt("unknown", error=str(failure))
        token = message.get("token")
        valid_until = message.get("valid_until")
        return Attempt(message["outcome"], token=int(token) if token is not None else None,
                       valid_until=float(valid_until) if valid_until is not None else None,
                       error=message.get("error"))

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._crashed() from None

    def _receive(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise self._fail(f"did not answer {what} within {timeout:g}s; killed") from None
        if line is None:
            raise self._crashed()
        try:
            message = json.loads(line)
        except ValueError:
            raise self._fail(f"broke the protocol: {line[:200]!r}") from None
        if not isinstance(message, dict):
            raise self._fail(f"broke the protocol: {line[:200]!r}")
        return message

    def _crashed(self) -> WorkerFailure:
        proc = self.proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                pass
        return self._fail(f"exited with code {code}" if code is not None else "closed its output")

    def _fail(self, what: str) -> WorkerFailure:
        """Kill the worker and describe what happened (with its last stderr line)."""
        proc, self.proc = self.proc, None
        self._paused = False
        self.ready = {}
        pid = proc.pid if proc is not None else None
        if proc is not None:
            self._kill(proc)
        time.sleep(0.05)  # let the stderr reader catch the last words
        last = next((line for line in reversed(self._stderr) if line.strip()), "")
        message = f"worker of client {self.spec.name} (pid {pid}) {what}" + (f": {last}" if last else "")
        log.warning("%s", message)
        return WorkerFailure(message[:500])

    def _signal(self, signum: int) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                pass

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        REGISTRY.discard(proc)

    @staticmethod
    def _read_stdout(proc: subprocess.Popen[bytes], replies: "queue.Queue[bytes | None]") -> None:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                replies.put(line)
        except (OSError, ValueError):
            pass
        replies.put(None)

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                self._stderr.append(line)
                log.debug("client %s worker %d: %s", self.spec.name, proc.pid, line)
        except (OSError, ValueError):
            pass
