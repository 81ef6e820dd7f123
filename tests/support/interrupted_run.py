"""`harness run` interrupted by a signal while its clients record: what the tests of Ctrl-C and
SIGTERM then check (exit code, results.json, history, and that every cluster process is gone)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class InterruptedRun:
    returncode: int
    out: str
    err: str
    run_dir: Path
    results: dict[str, Any]
    cluster_pids: list[int]  # from run.log's "cluster processes: [...]"


def interrupt_a_recording_run(scenario: Path, results_dir: Path, sig: signal.Signals) -> InterruptedRun:
    """Start `python -m harness run scenario`, send `sig` once its history has real content, and
    wait for the exit (the process is killed if it outlives 60 s)."""
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", str(scenario), "--results", str(results_dir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 60
        history = None
        while time.monotonic() < deadline:  # wait until clients are recording
            found = list(results_dir.glob(f"{scenario.stem}-*/history.jsonl"))
            if found and found[0].stat().st_size > 2000:
                history = found[0]
                break
            time.sleep(0.2)
        assert history is not None, "the run never started recording"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = history.parent
    logged = re.search(r"cluster processes: \[([\d, ]+)\]", (run_dir / "run.log").read_text())
    assert logged, "run.log names the cluster's pids"
    return InterruptedRun(proc.returncode, out, err, run_dir, json.loads((run_dir / "results.json").read_text()),
                          [int(p) for p in logged.group(1).split(",")])
