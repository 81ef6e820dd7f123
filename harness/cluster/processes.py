"""Real `redis-server` and `toxiproxy-server` processes on free loopback ports.

Contract: every process started here is killed by `stop()`, by the registry's
atexit/signal cleanup, and — if this Python process dies without running
either (SIGKILL, crash) — by the kernel, because each child is started with
PR_SET_PDEATHSIG(SIGKILL). Spawn them from a thread that lives as long as the
processes should (the kernel fires the death signal when the spawning *thread*
exits): the main thread, or a `SpawnerThread` — a dedicated thread that lives
until it is closed, through which a cluster starts *and restarts* its servers
so that a restart requested by a short-lived thread (the nemesis) does not
leave a server that dies when that thread ends.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import Callable, Sequence, TypeVar

from harness.cluster.clock import ClockControl, clock_library, is_attached
from harness.errors import EnvironmentFailure

REPO_ROOT = Path(__file__).resolve().parents[2]
PERSISTENCE_MODES = ("none", "appendonly everysec", "appendonly always")

_PR_SET_PDEATHSIG = 1
T = TypeVar("T")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C in the terminal reaches us, not the servers: we stop them in order


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (callers retry on a bind race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_executable(name: str, env_var: str) -> str:
    """Locate `name`: $env_var, then ./bin of the repository, then PATH.

    Raises EnvironmentFailure (exit 4) with what to do when it is missing.
    """
    candidates = [os.environ.get(env_var, ""), str(REPO_ROOT / "bin" / name), shutil.which(name) or ""]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise EnvironmentFailure(
        f"{name} not found (looked at ${env_var}, {REPO_ROOT / 'bin'}, PATH); "
        "run `make setup` (scripts/setup.sh) to install it")


class _Registry:
    """Every live child process, so an interpreter exit or SIGTERM still kills them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        atexit.register(self.kill_all)

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
            self._procs.clear()
        for proc in procs:
            _kill(proc)


REGISTRY = _Registry()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGCONT)  # a paused process must be able to die
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
        pass


def _spawn(argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    REGISTRY.add(proc)
    return proc


class SpawnerThread:
    """A dedicated long-lived thread that runs process starts (and anything else) on request.

    Why: children are started with PR_SET_PDEATHSIG, which the kernel fires when
    the *thread* that forked them exits. A fault's restart runs on the nemesis
    thread, which ends before the run does; a server forked there would be
    SIGKILLed when the nemesis ends. Spawning every server of a cluster here
    ties their life to this thread, which lives until `close()` (and closing it
    kills whatever is still running — a last line of defence after `stop()`).

    `call(fn, *args)` runs fn on the spawner thread and returns its result (or
    raises its exception); called from the spawner thread itself it runs inline.
    """

    def __init__(self, name: str = "process-spawner") -> None:
        self._queue: SimpleQueue[tuple[Callable[[], object], Future[object]] | None] = SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

    def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        if self._closed:
            raise RuntimeError("the spawner thread is closed (the cluster was stopped)")
        future: Future[object] = Future()
        self._queue.put((lambda: fn(*args, **kwargs), future))
        return future.result()  # type: ignore[return-value]

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """End the thread (idempotent); children it spawned that still run get SIGKILL."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files of a TLS-only server: its certificate chain and key, and the CA clients trust."""

    cert: Path
    key: Path
    ca: Path


class RedisServer:
    """One `redis-server` on 127.0.0.1 with its own data directory.

    The port is chosen at the first `start()` and kept across restarts (proxies
    point at it). `persistence` is one of PERSISTENCE_MODES. With `tls` the
    server speaks only TLS on that port (clients are not asked for
    certificates) and `url` is a `rediss://` URL. With `clock` (a
    harness.cluster.clock.ClockControl) the server runs with the clock library
    preloaded, its wall clock driven by that control file (across restarts too);
    `start()` checks that the server really mapped the file.
    """

    def __init__(self, name: str, data_dir: str | Path, *, persistence: str = "none",
                 password: str | None = None, port: int | None = None,
                 start_timeout: float = 10.0, tls: TlsFiles | None = None,
                 clock: ClockControl | None = None) -> None:
        if persistence not in PERSISTENCE_MODES:
            raise ValueError(f"persistence must be one of {PERSISTENCE_MODES}, not {persistence!r}")
        self.name = name
        self.data_dir = Path(data_dir)
        self.persistence = persistence
        self.password = password
        self.port = port
        self.start_timeout = start_timeout
        self.tls = tls
        self.clock = clock
        self._fixed_port = port is not None
        self._proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    # -- addresses ---------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{auth}{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -----------------------------------------------------------
    def _argv(self, executable: str) -> list[str]:
        argv = [executable, "--bind", "127.0.0.1",
                "--dir", str(self.data_dir), "--daemonize", "no", "--protected-mode", "no",
                "--save", "", "--logfile", "", "--databases", "1"]
        if self.tls:
            argv += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls.cert),
                     "--tls-key-file", str(self.tls.key), "--tls-ca-cert-file", str(self.tls.ca),
                     "--tls-auth-clients", "no"]
        else:
            argv += ["--port", str(self.port)]
        if self.persistence == "none":
            argv += ["--appendonly", "no"]
        else:
            argv += ["--appendonly", "yes", "--appendfsync", self.persistence.split()[1]]
        if self.password:
            argv += ["--requirepass", self.password]
        return argv

    def start(self, *, empty: bool = False) -> None:
        """Start the server and wait until it answers PING; `empty` wipes its data first."""
        if self.is_running():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        executable = find_executable("redis-server", "REDIS_SERVER")
        env = self.clock.environment(clock_library()) if self.clock is not None else None
        if empty and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._fixed_port else 5
        last_error = ""
        for _ in range(attempts):
            if not self._fixed_port:
                self.port = free_port()
            self._proc = _spawn(self._argv(executable), self.data_dir / "redis.log", env)
            self.paused = False
            if _wait_until(lambda: self._proc.poll() is not None or _answers_ping(self.port, self.tls),
                           self.start_timeout) and self._proc.poll() is None:
                self._fixed_port = True  # keep the port across restarts
                self._check_clock()
                return
            last_error = _tail(self.data_dir / "redis.log")
            self._reap()
        raise EnvironmentFailure(f"redis-server {self.name} would not start on 127.0.0.1:{self.port}: "
                                 f"{last_error or 'no answer to PING'}")

    def _check_clock(self) -> None:
        """A clock-controlled server that did not map its control file would run on real time
        and make every clock fault a silent no-op: refuse it."""
        if self.clock is not None and not is_attached(self._proc.pid, self.clock.path):  # type: ignore[union-attr]
            self._reap()
            raise EnvironmentFailure(f"redis-server {self.name} started without its clock control "
                                     f"({self.clock.path} is not mapped): the clock library did not load")

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no fsync beyond what the persistence mode already did."""
        self._reap()

    def restart(self, *, empty: bool = False) -> None:
        """Kill if running, then start on the same port (optionally with no data)."""
        self._reap()
        self.start(empty=empty)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections open but answers nothing."""
        if self.is_running() and not self.paused:
            os.kill(self._proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
            self.paused = True

    def resume(self) -> None:
        """SIGCONT after `pause()`."""
        if self.is_running() and self.paused:
            os.kill(self._proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
        self.paused = False

    def stop(self) -> None:
        """Kill the process (tests and runs throw their data away)."""
        self._reap()

    def _reap(self) -> None:
        if self._proc is not None:
            _kill(self._proc)
            REGISTRY.discard(self._proc)
        self._proc = None
        self.paused = False

    def __repr__(self) -> str:
        state = "paused" if self.paused else ("running" if self.is_running() else "stopped")
        return f"RedisServer({self.name!r}, port={self.port}, {state})"


class ToxiproxyServer:
    """One real `toxiproxy-server` with its HTTP API on a free loopback port."""

    def __init__(self, log_path: str | Path, *, start_timeout: float = 10.0) -> None:
        self.log_path = Path(log_path)
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        executable = find_executable("toxiproxy-server", "TOXIPROXY_SERVER")
        last_error = ""
        for _ in range(5):
            self.port = free_port()
            self._proc = _spawn([executable, "-host", self.host, "-port", str(self.port)], self.log_path)
            if _wait_until(lambda: self._proc.poll() is not None or _answers_http(self.api_url + "/version"),
                           self.start_timeout) and self._proc.poll() is None:
                return
            last_error = _tail(self.log_path)
            self.stop()
        raise EnvironmentFailure(f"toxiproxy-server would not start: {last_error or 'API did not answer'}")

    def stop(self) -> None:
        if self._proc is not None:
            _kill(self._proc)
            REGISTRY.discard(self._proc)
        self._proc = None


def _wait_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _answers_ping(port: int | None, tls: TlsFiles | None = None) -> bool:
    """True once the server answers PING (+PONG, or -NOAUTH when a password is set)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as raw:  # type: ignore[arg-type]
            sock = (ssl.create_default_context(cafile=str(tls.ca)).wrap_socket(raw, server_hostname="127.0.0.1")
                    if tls else raw)
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:  # ssl.SSLError is an OSError: a server still starting may cut the handshake
        return False
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
