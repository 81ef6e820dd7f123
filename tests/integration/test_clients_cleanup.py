"""No client worker outlives its run: after Ctrl-C (exit 130) and after a SIGKILL of the
harness itself (the kernel's PR_SET_PDEATHSIG), every worker process named in run.log is gone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.clients import prepare_client
from tests.support.probes import alive
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def start_run(results_dir: Path) -> tuple[subprocess.Popen[str], Path]:
    prepare_client("redis-py")
    scenario = str(REPO / "tests" / "scenarios" / "ci-compare.yaml")
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", scenario,
                             "--client", "redis-py", "--duration", "60", "--results", str(results_dir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # until the clients record
        found = list(results_dir.glob("ci-compare-redis-py-*/history.jsonl"))
        if found and found[0].stat().st_size > 2000:
            return proc, found[0].parent
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the run never started recording")


def worker_pids(run_dir: Path) -> list[int]:
    pids = [int(p) for p in re.findall(r"client redis-py: worker pid (\d+) ready", (run_dir / "run.log").read_text())]
    assert len(pids) == 3, pids  # one per client slot
    return pids


def test_ctrl_c_leaves_no_worker(tmp_path: Path) -> None:
    proc, run_dir = start_run(tmp_path)
    try:
        pids = worker_pids(run_dir)
        assert all(alive(pid) for pid in pids)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert [pid for pid in pids if alive(pid)] == []


def test_a_killed_harness_leaves_no_worker(tmp_path: Path) -> None:
    proc, run_dir = start_run(tmp_path)
    try:
        pids = worker_pids(run_dir)
        assert all(alive(pid) for pid in pids)
        proc.kill()  # SIGKILL: no cleanup code runs; the kernel kills the workers
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout=10,
               describe=lambda: [pid for pid in pids if alive(pid)])
