"""Open an interactive shell with a ready cluster: `mr` (a MajorityRedis) and `cluster` (its faults).

Starts N local redis-server processes and one toxiproxy-server with one proxy
per node (the harness's LocalCluster; or, with --cluster, the `cluster` section
of a scenario, e.g. the docker-compose nodes of scenarios/external.yaml), then
opens IPython (the plain Python console when IPython is not installed, or with
--plain). Leaving the shell — Ctrl-D, exit(), SIGTERM, SIGHUP or an error —
stops every process it started.

Exit codes: 0 left normally, 3 bad arguments or scenario, 4 redis-server or
toxiproxy-server missing or would not start, 143 SIGTERM (129 SIGHUP).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from harness.cluster.processes import PERSISTENCE_MODES
from harness.errors import BadInput

log = logging.getLogger(__name__)

SHELL_CLIENT = 0          # the client slot (set of proxies) `mr` uses
SOCKET_TIMEOUT = 0.5      # mr's per-call deadline (s)
SHUTDOWN_TIMEOUT = 20.0   # a signal-time shutdown that hangs longer gives way to os._exit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=5, metavar="N", help="redis-server nodes to start (default 5)")
    parser.add_argument("--persistence", choices=PERSISTENCE_MODES, default="appendonly always",
                        help="the nodes' persistence (default: 'appendonly always', so a killed node "
                             "restarts with every acknowledged write)")
    parser.add_argument("--cluster", type=Path, metavar="SCENARIO",
                        help="use the `cluster` section of this scenario instead (e.g. scenarios/external.yaml "
                             "for the docker-compose nodes); --nodes and --persistence then do not apply")
    parser.add_argument("--plain", action="store_true", help="the plain Python console even if IPython is installed")


def execute(args: argparse.Namespace) -> int:
    if args.nodes < 1:
        raise BadInput("--nodes", f"must be at least 1, got {args.nodes}")
    session = ShellSession(args)
    return session.run()


class ShellSession:
    """One shell: start the cluster, open the console, stop everything however the console ends."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir: Path | None = None
        self.cluster: Any = None
        self.mr: Any = None
        self._stop_lock = threading.Lock()
        self._done = False

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            self._start()
            namespace = self._namespace()
            open_console(namespace, banner(self), plain=self.args.plain)
            return 0
        except SystemExit as leaving:  # exit() in the plain console
            return leaving.code if isinstance(leaving.code, int) else 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self) -> None:
        from majorityredis import MajorityRedis

        self.workdir = Path(tempfile.mkdtemp(prefix="majorityredis-shell-"))
        self.cluster = self._make_cluster(self.workdir)
        print(f"starting {self.describe()} ...", file=sys.stderr, flush=True)
        self.cluster.start()
        self.mr = MajorityRedis.from_urls(self.cluster.client_urls(SHELL_CLIENT), socket_timeout=SOCKET_TIMEOUT)
        from harness.cluster.local import LocalCluster

        if isinstance(self.cluster, LocalCluster):
            # the shell just started these nodes, so it knows the cluster is new: admit them now rather
            # than wait out a recovery period (majorityredis.admission); an external cluster is left alone
            self.mr.bootstrap_new_cluster()

    def _make_cluster(self, workdir: Path) -> Any:
        if self.args.cluster is None:
            from harness.cluster.local import LocalCluster

            return LocalCluster(self.args.nodes, 1, workdir, self.args.persistence)
        from harness.runner import make_cluster
        from harness.scenario.loader import load_scenario

        scenario = load_scenario(self.args.cluster).scenario
        return make_cluster(scenario.model_copy(update={"clients": 1}), workdir)

    def describe(self) -> str:
        """What runs: local processes, or proxies to a scenario's nodes."""
        nodes = len(self.cluster.node_names)
        if hasattr(self.cluster, "servers"):
            return f"{nodes} redis-server nodes (persistence: {self.cluster.persistence}) and a toxiproxy-server"
        return f"proxies to the {nodes} nodes of {self.args.cluster}"

    def _namespace(self) -> dict[str, Any]:
        from harness.cluster.controls import ClusterControls
        from majorityredis import LockNotAcquired, LockNotOwned, MajorityRedis, NoQuorum

        return {"mr": self.mr, "cluster": ClusterControls(self.cluster, SHELL_CLIENT),
                "MajorityRedis": MajorityRedis, "NoQuorum": NoQuorum, "LockNotAcquired": LockNotAcquired,
                "LockNotOwned": LockNotOwned}

    def stop(self) -> None:
        """Close mr, stop every process, remove the work folder; idempotent and thread-safe."""
        with self._stop_lock:
            if self._done:
                return
            self._done = True
            if self.mr is not None:
                try:
                    self.mr.close()
                except Exception:  # the processes must be stopped whatever happens
                    log.exception("closing mr failed")
            if self.cluster is not None:
                self.cluster.stop()
                print("shell: every process it started is stopped", file=sys.stderr, flush=True)
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGHUP: stop everything and exit 128+signum at once.

        Not an exception: IPython would catch it as an error of the current
        cell and keep the shell open. The stop runs on a helper thread, bounded,
        so a lock the interrupted main thread holds cannot hang the exit (the
        servers die with this process anyway: PR_SET_PDEATHSIG).
        """
        print(f"\n{signal.Signals(signum).name}: stopping the cluster", file=sys.stderr, flush=True)
        stopper = threading.Thread(target=self.stop, name="shell-stop", daemon=True)
        stopper.start()
        stopper.join(SHUTDOWN_TIMEOUT)
        sys.stderr.flush()
        os._exit(128 + signum)


def banner(session: ShellSession) -> str:
    """What the shell says it holds, in a few lines."""
    nodes = len(session.cluster.node_names)
    return "\n".join([
        f"MajorityRedis shell: {session.describe()}; nodes are numbered 1..{nodes} (n1..n{nodes})",
        (f"  mr       MajorityRedis through the proxies (deadline {SOCKET_TIMEOUT} s): "
         "mr.lock(name, ttl), mr.queue(name), mr.set/get"),
        ("  cluster  kill(i)  restart(i, empty=False)  pause(i)  resume(i)  partition(i, ...)  "
         "heal()  latency(ms)  status()"),
        "  try      lock = mr.lock('demo', ttl=10); lock.acquire(); cluster.kill(1); lock.extend()",
        "Ctrl-D or exit() leaves and stops every process.",
    ])


def open_console(namespace: dict[str, Any], banner_text: str, *, plain: bool = False) -> None:
    """IPython when installed (and not `plain`), else `code.interact`; returns when the user leaves."""
    if not plain:
        try:
            import IPython
            from traitlets.config import Config
        except ImportError:
            pass
        else:
            config = Config()
            config.TerminalInteractiveShell.banner2 = banner_text + "\n"
            config.TerminalInteractiveShell.confirm_exit = False
            IPython.start_ipython(argv=[], user_ns=namespace, config=config)
            return
    import code

    code.interact(banner=banner_text, local=namespace, exitmsg="")
