"""`python -m harness shell`, driven through a pipe as a user would type: real redis-server and
toxiproxy-server processes, a lock that survives a node kill, and no process left behind
however the shell ends (Ctrl-D, exit(), SIGTERM, an error).
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from harness.commands import shell
from tests.support.probes import alive
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


class ShellProcess:
    """`python -m harness shell ARGS` with stdin/stdout pipes; output lines are collected by a thread."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "IPYTHONDIR": str(tmp_path / "ipython"),
               "TMPDIR": str(tmp_path)}
        self.proc = subprocess.Popen([sys.executable, "-m", "harness", "shell", *args], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.errors: list[str] = []
        # each pipe has one reader, ours, until EOF (communicate() would close stdout under it)
        self.readers = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._read_errors, daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.put(line)

    def _read_errors(self) -> None:
        for line in self.proc.stderr:  # type: ignore[union-attr]
            self.errors.append(line)

    def send(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(line + "\n" for line in lines))
        self.proc.stdin.flush()

    def expect(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """The first output line (after those already matched) that matches `pattern`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout}s; saw {self.seen}") from None
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        """Close stdin (Ctrl-D), wait for the exit; returns (exit code, stderr)."""
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=timeout)
            for reader in self.readers:
                reader.join(timeout)  # both pipes reach EOF once the shell and its children exited
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return self.proc.returncode, "".join(self.errors)


def _pids_of(shell_proc: ShellProcess) -> list[int]:
    shell_proc.send('print("PIDS", *cluster.pids(), flush=True)')
    pids = [int(p) for p in shell_proc.expect(r"PIDS ((?:\d+ ?)+)").group(1).split()]
    assert len(pids) >= 2 and all(alive(p) for p in pids), pids
    return pids


def _all_gone(pids: list[int]) -> None:
    wait_until(lambda: not any(alive(p) for p in pids), timeout=10,
               describe=lambda: [p for p in pids if alive(p)])


def _shell_workdirs(tmp_path: Path) -> list[Path]:
    return list(tmp_path.glob("majorityredis-shell-*"))


def test_a_lock_survives_a_node_kill_in_the_shell_then_ctrl_d_stops_everything(tmp_path: Path) -> None:
    sh = ShellProcess(tmp_path)  # IPython (a dev dependency), 5 nodes, appendonly always
    try:
        sh.expect(r"IPython .* An enhanced Interactive Python")
        pids = _pids_of(sh)
        assert len(pids) == 6  # 5 redis-server + toxiproxy-server
        assert len(_shell_workdirs(tmp_path)) == 1
        sh.send('from tests.support.probes import ping_outcome',
                'lock = mr.lock("demo", ttl=10)',
                'print("ACQUIRE", lock.acquire(), lock.token, flush=True)',
                'victim = cluster.status()[0]',
                'cluster.kill(1)',
                'print("KILLED", cluster.status()[0].state, ping_outcome("redis://" + victim.address), flush=True)',
                'print("EXTEND", lock.extend(), lock.validity() > 5, flush=True)',
                'lock.release(); print("RELEASED", lock.locked(), flush=True)',
                'print("AGAIN", mr.lock("demo", ttl=10).acquire(blocking=False), flush=True)')
        assert sh.expect(r"ACQUIRE (\w+) (\d+)").group(1) == "True"
        killed = sh.expect(r"KILLED (\w+) (\w+)")
        assert killed.groups() == ("killed", "error")  # the process is gone: its port refuses
        _victim_gone(pids)
        assert sh.expect(r"EXTEND (\w+) (\w+)").groups() == ("True", "True")  # 4 of 5 nodes: a majority
        assert sh.expect(r"RELEASED (\w+)").group(1) == "False"
        assert sh.expect(r"AGAIN (\w+)").group(1) == "True"  # released on the majority: free again
    finally:
        code, err = sh.finish()
    assert code == 0, err
    assert "every process it started is stopped" in err
    _all_gone(pids)
    assert _shell_workdirs(tmp_path) == []


def _victim_gone(pids: list[int]) -> None:
    """Exactly one of the shell's processes (the killed node) is gone while the shell runs."""
    wait_until(lambda: sum(not alive(p) for p in pids) == 1, timeout=10,
               describe=lambda: [p for p in pids if not alive(p)])


def test_plain_console_faults_and_exit(tmp_path: Path) -> None:
    # the cluster of a scenario (3 nodes, no persistence), in Python's own console
    sh = ShellProcess(tmp_path, "--plain", "--cluster", "tests/scenarios/ci-partition.yaml")
    try:
        pids = _pids_of(sh)
        assert len(pids) == 4
        sh.send('cluster.partition(2); cluster.pause(3); cluster.latency(40)',
                'print("STATUS", [(s.state, s.cut, s.latency_ms) for s in cluster.status()], flush=True)',
                'cluster.heal()',
                'print("HEALED", [(s.state, s.cut, s.latency_ms) for s in cluster.status()], flush=True)',
                'print("SET", mr.set("k", "v"), mr.get("k"), flush=True)',
                'exit()')
        assert sh.expect(r"STATUS (.*)").group(1) == \
            "[('up', False, 40), ('up', True, 40), ('paused', False, 40)]"
        assert sh.expect(r"HEALED (.*)").group(1) == "[('up', False, 0), ('up', False, 0), ('up', False, 0)]"
        assert sh.expect(r"SET (.*)").group(1) == "None b'v'"
    finally:
        code, err = sh.finish()
    assert code == 0, err
    _all_gone(pids)


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    sh = ShellProcess(tmp_path, "--nodes", "3")
    try:
        pids = _pids_of(sh)
        sh.proc.send_signal(signal.SIGTERM)
    finally:
        code, err = sh.finish()
    assert code == 143, err
    assert "SIGTERM: stopping the cluster" in err
    _all_gone(pids)
    assert _shell_workdirs(tmp_path) == []


def test_an_error_in_the_console_stops_every_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    previous = signal.getsignal(signal.SIGTERM)

    def broken_console(namespace, banner_text, *, plain=False):  # type: ignore[no-untyped-def]
        seen.extend(namespace["cluster"].pids())
        assert "kill(i)" in banner_text and namespace["mr"] is not None
        raise RuntimeError("the console broke")

    monkeypatch.setattr(shell, "open_console", broken_console)
    args = argparse.Namespace(nodes=3, persistence="none", cluster=None, plain=True)
    with pytest.raises(RuntimeError, match="the console broke"):
        shell.execute(args)
    assert len(seen) == 4
    _all_gone(seen)
    assert _shell_workdirs(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) == previous  # the shell's handler is gone with it
