"""No redis-server or toxiproxy-server outlives the process that started it.

Each case starts servers in a child Python process, ends that process in a
different way, and checks that the server pids are gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from harness.cluster.processes import RedisServer, ToxiproxyServer
    base = Path(sys.argv[1])
    redis = RedisServer("n1", base / "n1"); redis.start()
    toxi = ToxiproxyServer(base / "toxiproxy.log"); toxi.start()
    print(redis.pid, toxi.pid, flush=True)
    how = sys.argv[2]
    if how in ("crash", "exception"):
        sys.stdin.readline()              # end only once the parent saw both servers running
    if how == "crash":
        os._exit(1)                       # no atexit, no finally
    if how == "exception":
        raise RuntimeError("boom")        # interpreter exit runs atexit
    time.sleep(60)                        # wait for a signal
""")


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # reaped by init once the parent is gone; a zombie can linger briefly
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split()[2] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["crash", "exception", "sigkill", "sigterm", "sigint"])
def test_servers_die_with_their_parent(tmp_path, how):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), how], cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        redis_pid, toxi_pid = (int(x) for x in line.split())
        os.kill(redis_pid, 0)  # both were really running
        os.kill(toxi_pid, 0)
        if how in ("crash", "exception"):
            child.stdin.write("end\n")
            child.stdin.flush()
        if how in ("sigkill", "sigterm", "sigint"):
            child.send_signal({"sigkill": signal.SIGKILL, "sigterm": signal.SIGTERM,
                               "sigint": signal.SIGINT}[how])
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert _gone(redis_pid), f"redis-server {redis_pid} outlived its parent ({how})"
    assert _gone(toxi_pid), f"toxiproxy-server {toxi_pid} outlived its parent ({how})"
