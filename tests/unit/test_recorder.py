"""The history recorder: thread safety, one complete JSON object per line, nothing lost on a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from harness.history.recorder import Recorder


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_fields_and_clock_origin(tmp_path: Path) -> None:
    ticks = iter([1_000, 1_500, 4_000])
    recorder = Recorder(tmp_path / "h.jsonl", clock=lambda: next(ticks))
    recorder.record(0, "invoke", "acquire", key="L")
    recorder.record(0, "ok", "acquire", {"token": 7, "validity_ms": 4890}, key="L", error=None)
    recorder.close()
    first, second = read_lines(tmp_path / "h.jsonl")
    assert first == {"index": 0, "time": 500, "process": 0, "type": "invoke", "f": "acquire", "key": "L",
                     "value": None}
    assert second["time"] == 3000 and second["value"] == {"token": 7, "validity_ms": 4890}
    assert second["index"] == 1 and "error" in second


def test_many_threads_every_line_complete_and_ordered(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    recorder = Recorder(path)
    threads_n, per_thread = 32, 300
    barrier = threading.Barrier(threads_n)

    def work(process: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            recorder.record(process, "invoke", "write", {"v": i, "pad": "x" * (i % 50)}, key=f"k{i % 3}")
            recorder.record(process, "ok", "write", i, key=f"k{i % 3}")

    threads = [threading.Thread(target=work, args=(p,)) for p in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    events = read_lines(path)  # json.loads raises on any torn line
    assert len(events) == threads_n * per_thread * 2
    assert [e["index"] for e in events] == list(range(len(events)))
    times = [e["time"] for e in events]
    assert times == sorted(times)
    for process in range(threads_n):  # each thread's own events stay in its program order
        mine = [e for e in events if e["process"] == process]
        assert [e["type"] for e in mine[:4]] == ["invoke", "ok", "invoke", "ok"]
        assert [e["value"] for e in mine if e["type"] == "ok"] == list(range(per_thread))


def test_records_after_close_are_dropped(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "h.jsonl")
    assert recorder.record(0, "invoke", "read", key="k0") == 0
    recorder.close()
    assert recorder.record(0, "ok", "read", 1, key="k0") is None
    assert len(read_lines(tmp_path / "h.jsonl")) == 1


def test_bytes_values_become_text(tmp_path: Path) -> None:
    with Recorder(tmp_path / "h.jsonl") as recorder:
        recorder.record(1, "ok", "get", {"item": b"p0-1"}, key="q")
    assert read_lines(tmp_path / "h.jsonl")[0]["value"] == {"item": "p0-1"}


def test_unrecordable_value_is_an_error(tmp_path: Path) -> None:
    with Recorder(tmp_path / "h.jsonl") as recorder:
        with pytest.raises(TypeError, match="cannot record"):
            recorder.record(1, "ok", "get", object())


def test_every_line_survives_a_hard_crash(tmp_path: Path) -> None:
    """A process that records and then dies without any cleanup (os._exit) keeps every line."""
    path = tmp_path / "h.jsonl"
    script = textwrap.dedent(f"""
        import os, threading
        from harness.history.recorder import Recorder
        recorder = Recorder({str(path)!r})
        def work(p):
            for i in range(500):
                recorder.record(p, "invoke", "read", key="k0")
                recorder.record(p, "ok", "read", i, key="k0")
        threads = [threading.Thread(target=work, args=(p,)) for p in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        recorder.record("nemesis", "info", "kill", {{"phase": "start"}})
        os._exit(1)  # no close(), no atexit, no flush of Python buffers
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    events = read_lines(path)
    assert len(events) == 4 * 500 * 2 + 1
    assert events[-1]["process"] == "nemesis"
