"""Checker speed: `python -m benchmarks.checker [--repeat N] [--sizes 20000,100000,1000000]`.

1. The Porcupine corpus: times parsing + checking of every corpus file in one
   process and prints the per-corpus totals, the slowest file and the c50
   histories against the targets of issue 3 (etcd corpus < 2 s in total, no file
   > 0.5 s, c50-ok and c50-bad < 2 s each). Also checks every verdict against
   expected.json, so a fast wrong checker cannot look good.
2. Long single-key register histories (issue 12): generated linearizable ones of
   20k, 100k and 1M ops with about 3 % crashed (`info`) writes, one of them with a
   stale read injected, and one recorded by the harness (tests/data/registers/register-faults.yaml:
   10 clients back to back under kills, partitions, latency and bandwidth faults;
   `--record` records it again). Prints a table of check times (wall and CPU),
   the 1M / 100k ratio (about 10 when the time grows linearly) and the target:
   100k ops in < 5 s of CPU (on a shared machine the wall time also counts what
   other processes take; it is printed beside it, with the load average); also
   what WGL alone makes of the 20k and recorded ones within `--wgl-limit`.

Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.checker import check
from harness.history.events import Event
from harness.history.readers import parse_history, read_history

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "porcupine"
MODELS = {"etcd": "cas-register", "kv": "kv"}
TARGET_CORPUS_S = {"etcd": 2.0}
TARGET_FILE_S = {"etcd": 0.5, "kv": 2.0}

DATA = ROOT / "tests" / "data" / "registers"
RECORDED_SCENARIO = DATA / "register-faults.yaml"
RECORDED_HISTORY = DATA / "register-faults.history.jsonl.gz"
REGISTER_SIZES = (20_000, 100_000, 1_000_000)
TARGET_100K_S = 5.0
MS = 1_000_000  # ns
Row = tuple[str, int, int, float, float, Any, str]   # name, ops, crashed writes, wall s, CPU s, valid, notes


def time_file(path: Path, model: str) -> tuple[float, float, object]:
    """(seconds to parse and check, of which parsing, verdict)."""
    started = time.perf_counter()
    events = read_history(path)
    parsed = time.perf_counter()
    verdict = check(events, model)
    return time.perf_counter() - started, parsed - started, verdict.valid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per corpus; the best total is kept")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--sizes", default=",".join(map(str, REGISTER_SIZES)),
                        help="ops of the generated register histories (comma-separated; empty: none)")
    parser.add_argument("--wgl-limit", type=float, default=10.0, metavar="S",
                        help="seconds WGL alone may take on the 20k and recorded histories (0: skip)")
    parser.add_argument("--only", choices=("corpus", "registers"), help="run one part only")
    parser.add_argument("--record", action="store_true",
                        help=f"record {RECORDED_HISTORY.name} again by running the harness (about a minute)")
    args = parser.parse_args()
    if args.record:
        record_register_history()
    met = True
    if args.only != "registers":
        met = corpus_benchmark(args) and met
    if args.only != "corpus":
        sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
        met = register_benchmark(sizes, args.wgl_limit) and met
    print("all targets met" if met else "some targets MISSED")
    return 0 if met else 1


def corpus_benchmark(args: argparse.Namespace) -> bool:
    expected = json.loads((args.corpus / "expected.json").read_text())
    empty = set(expected.get("etcd_empty", []))
    all_met = True
    for corpus, model in MODELS.items():
        files = sorted((args.corpus / corpus).iterdir())
        best_total, best_times, best_parse = float("inf"), {}, 0.0
        wrong: list[str] = []
        for _ in range(args.repeat):
            times = {}
            wrong = []
            parsing = 0.0
            started = time.perf_counter()
            for path in files:
                elapsed, parse_s, valid = time_file(path, model)
                times[path.name] = elapsed
                parsing += parse_s
                want = True if path.name in empty else expected[corpus][path.name]
                if valid != want:
                    wrong.append(f"{path.name}: got {valid}, expected {want}")
            total = time.perf_counter() - started
            if total < best_total:
                best_total, best_times, best_parse = total, times, parsing
        slowest = max(best_times, key=best_times.__getitem__)
        target_total = TARGET_CORPUS_S.get(corpus)
        met_total = target_total is None or best_total < target_total
        met_file = best_times[slowest] < TARGET_FILE_S[corpus]
        all_met = all_met and met_total and met_file and not wrong
        print(f"{corpus}: {len(files)} files, model {model}: total {best_total:.3f} s "
              f"(parsing {best_parse:.3f} s)"
              + (f" (target < {target_total} s: {'met' if met_total else 'MISSED'})" if target_total else ""))
        print(f"  slowest: {slowest} {best_times[slowest]:.3f} s "
              f"(target < {TARGET_FILE_S[corpus]} s per file: {'met' if met_file else 'MISSED'})")
        if corpus == "kv":
            for name in sorted(best_times):
                print(f"  {name}: {best_times[name]:.3f} s")
        print(f"  verdicts: {len(files) - len(wrong)}/{len(files)} as expected")
        for line in wrong:
            print(f"  WRONG {line}")
    return all_met


# ---------------------------------------------------------------------- long register histories

def generated_register_history(ops: int, *, crashed: float = 0.03, processes: int = 10,
                               seed: int = 12) -> list[Event]:
    """A linearizable single-key register history of `ops` ops by `processes` clients back to back.

    Half the ops are reads; a share `crashed` of all ops are writes that time out
    (`info` after 300 ms: half of them take effect, maybe after the timeout, half
    never) and 1 % of reads time out too. Every write writes a new value. Each op
    takes effect at a random moment of its interval; reads return the value then.
    """
    rng = random.Random(seed)
    free_at = [0] * processes
    planned: list[tuple[int, int, str, int | None, str]] = []   # start, end, f, value, outcome
    effects: list[tuple[int, int]] = []                          # (moment, op number)
    written = 0
    for n in range(ops):
        process = n % processes
        start = free_at[process] + rng.randint(10_000, 100_000)
        end = start + 50_000 + int(rng.expovariate(1 / MS))
        if rng.random() < 0.5:
            written += 1
            if rng.random() < 2 * crashed:
                end = start + 300 * MS
                planned.append((start, end, "write", written, "info"))
                if rng.random() < 0.5:
                    effects.append((rng.randint(start, start + 450 * MS), n))
            else:
                planned.append((start, end, "write", written, "ok"))
                effects.append((rng.randint(start, end), n))
        elif rng.random() < 0.01:
            planned.append((start, start + 300 * MS, "read", None, "info"))
            end = start + 300 * MS
        else:
            planned.append((start, end, "read", None, "ok"))
            effects.append((rng.randint(start, end), n))
        free_at[process] = end
    results: dict[int, Any] = {}
    state: Any = None
    for _, n in sorted(effects):
        _, _, f, value, _ = planned[n]
        if f == "write":
            state = value
        else:
            results[n] = state
    timeline = []
    for n, (start, end, f, value, outcome) in enumerate(planned):
        process = n % processes
        timeline.append((start, 0, n, process, "invoke", f, value))
        timeline.append((end, 1, n, process, outcome, f, results.get(n) if f == "read" else value))
    timeline.sort()
    return [Event(index=i, time=t, process=p, type=kind, f=f, value=v, key="k0")
            for i, (t, _, _, p, kind, f, v) in enumerate(timeline)]


def with_stale_read(events: list[Event]) -> list[Event]:
    """The history with its last ok read changed to return the value of the first ok write:
    by then many later writes have completed (a stale read)."""
    first_write = next(e for e in events if e.type == "ok" and e.f == "write")
    last_read = next(e for e in reversed(events) if e.type == "ok" and e.f == "read")
    changed = list(events)
    changed[last_read.index] = Event(index=last_read.index, time=last_read.time, process=last_read.process,
                                     type="ok", f="read", value=first_write.value, key=last_read.key)
    return changed


def record_register_history() -> None:
    """Run the harness on RECORDED_SCENARIO and keep its history, gzipped, as RECORDED_HISTORY."""
    with tempfile.TemporaryDirectory() as results:
        command = [sys.executable, "-m", "harness", "run", str(RECORDED_SCENARIO), "--results", results]
        print("recording:", " ".join(command), flush=True)
        finished = subprocess.run(command, cwd=ROOT, check=False)
        if finished.returncode not in (0, 1, 2):
            raise SystemExit(f"the harness run failed (exit {finished.returncode})")
        history = Path(results) / "latest" / "history.jsonl"
        with history.open("rb") as source, gzip.open(RECORDED_HISTORY, "wb", compresslevel=9) as target:
            shutil.copyfileobj(source, target)
    print(f"recorded {RECORDED_HISTORY}", flush=True)


def _counts(events: list[Event]) -> tuple[int, int]:
    """(ops, crashed writes: completed `info` or never completed)."""
    ops = info_writes = 0
    pending: dict[Any, Event] = {}
    for e in events:
        if not e.is_client:
            continue
        if e.type == "invoke":
            ops += 1
            pending[e.process] = e
        else:
            pending.pop(e.process, None)
            info_writes += e.type == "info" and e.f == "write"
    return ops, info_writes + sum(e.f == "write" for e in pending.values())


def _timed(events: list[Event], **options: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, verdict): on a shared machine the CPU time
    shows the checker's own cost."""
    started, cpu = time.perf_counter(), time.process_time()
    verdict = check(events, "register", **options)
    return time.perf_counter() - started, time.process_time() - cpu, verdict


def register_benchmark(sizes: list[int], wgl_limit: float) -> bool:
    rows: list[Row] = []
    seconds: dict[int, float] = {}
    cpu_seconds: dict[int, float] = {}
    wrong: list[str] = []
    print("registers (one key, model register):", flush=True)
    for size in sizes:
        events = generated_register_history(size)
        ops, crashed = _counts(events)
        elapsed, cpu, verdict = _timed(events)
        seconds[size], cpu_seconds[size] = elapsed, cpu
        note = f"{verdict.stats['algorithm']}, {verdict.stats.get('unobserved_info_dropped', 0)} unobserved " \
               "info writes dropped"
        rows.append((_size_name(size), ops, crashed, elapsed, cpu, verdict.valid, note))
        if verdict.valid is not True:
            wrong.append(f"generated {size}: got {verdict.valid}, expected True")
        if size == 100_000:
            elapsed, cpu, stale = _timed(with_stale_read(events))
            kinds = sorted({a.kind for a in stale.anomalies})
            found = len(stale.anomalies) + stale.stats.get("unlisted_anomalies", 0)
            rows.append(("generated 100k, a stale read injected", ops, crashed, elapsed, cpu, stale.valid,
                         f"{', '.join(kinds)}; {found} conflicts, {len(stale.anomalies)} listed"))
            if stale.valid is not False:
                wrong.append(f"generated 100k with a stale read: got {stale.valid}, expected False")
        if size == min(sizes) and wgl_limit > 0:
            rows.append(_wgl_row(_size_name(size), events, ops, crashed, wgl_limit))
        del events
    if RECORDED_HISTORY.exists():
        started = time.perf_counter()
        with gzip.open(RECORDED_HISTORY, "rt", encoding="utf-8") as text:
            events = parse_history(text.read(), source=str(RECORDED_HISTORY))
        parsing = time.perf_counter() - started
        ops, crashed = _counts(events)
        elapsed, cpu, verdict = _timed(events)
        rows.append(("recorded (harness, 10 clients, faults)", ops, crashed, elapsed, cpu, verdict.valid,
                     (f"{verdict.stats['algorithm']}, {verdict.stats.get('unobserved_info_dropped', 0)} "
                      f"unobserved info writes dropped; parsing the file {parsing:.2f} s")))
        if verdict.valid is not True:
            wrong.append(f"recorded: got {verdict.valid}, expected True (the run's verdict)")
        if wgl_limit > 0:
            rows.append(_wgl_row("recorded", events, ops, crashed, wgl_limit))
    else:
        print(f"  ({RECORDED_HISTORY.name} missing: run with --record)")
    print(f"  {'history':<40} {'ops':>9} {'crashed writes':>15} {'check s':>9} {'CPU s':>8}  {'valid':<8} notes")
    for name, ops, crashed, elapsed, cpu, valid, note in rows:
        share = f"{crashed} ({100 * crashed / max(ops, 1):.1f}%)"
        print(f"  {name:<40} {ops:>9} {share:>15} {elapsed:>9.3f} {cpu:>8.3f}  {valid!s:<8} {note}")
    met = not wrong
    if 100_000 in seconds:
        # Judged on CPU time: on a shared machine the wall time also counts the time other
        # processes hold the cores (both are printed, with the load).
        met_100k = cpu_seconds[100_000] < TARGET_100K_S
        met = met and met_100k
        print(f"  100k ops: {cpu_seconds[100_000]:.2f} s CPU, {seconds[100_000]:.2f} s wall "
              f"(target < {TARGET_100K_S:.0f} s CPU: {'met' if met_100k else 'MISSED'}; {_load()})")
        if 1_000_000 in seconds:
            print(f"  1M / 100k time ratio: {cpu_seconds[1_000_000] / cpu_seconds[100_000]:.1f} CPU, "
                  f"{seconds[1_000_000] / seconds[100_000]:.1f} wall (10 = linear)")
    for line in wrong:
        print(f"  WRONG {line}")
    return met


def _wgl_row(name: str, events: list[Event], ops: int, crashed: int, limit: float) -> Row:
    elapsed, cpu, verdict = _timed(events, algorithm="wgl", time_limit=limit)
    return (f"{name}, WGL alone", ops, crashed, elapsed, cpu, verdict.valid,
            f"time limit {limit:g} s; {verdict.stats.get('backtracks', 0)} backtracks")


def _load() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    except (AttributeError, OSError):
        return "load unknown"


def _size_name(size: int) -> str:
    return f"generated {size // 1_000_000}M" if size >= 1_000_000 and size % 1_000_000 == 0 \
        else f"generated {size // 1000}k"


if __name__ == "__main__":
    raise SystemExit(main())
