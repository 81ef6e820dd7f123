"""The real-mode cost of the runtime seam: lock acquire+release before and after it, side by side.

    python -m benchmarks.seam [--baseline REV] [--candidate REV] [--iterations 1000] [--rounds 6]

The simulation reaches time, randomness, threads and the network through one
`Runtime` object (majorityredis/runtime.py); the real one must cost nothing
measurable. This benchmark extracts the library as it was at `--baseline`
(default: the commit before `majorityredis/runtime.py` was added) with
`git archive`, starts 5 real redis-server processes, and measures
`mr.lock(...).acquire(blocking=False)` + `release()` (one client, uncontended,
loopback) with that library and with the working tree's (or `--candidate`'s:
`--candidate <the seam commit>` isolates the seam from later changes), in interleaved rounds
so that load from other processes hits both alike. Each round is a fresh
subprocess whose `majorityredis` comes from one of the two trees (checked:
the child reports the file it imported).

Prints p50/p99 per library and the ratio; the target is the working tree's
p50 within 1.05x of the baseline's. Not a test: the exit code is 0 unless the
run itself failed (`--strict`: 1 when the target is missed). Everything
started here is stopped in `finally`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks import percentile

ROOT = Path(__file__).resolve().parent.parent
NODES = 5
TARGET_RATIO = 1.05
SEAM_FILE = "majorityredis/runtime.py"

# The child: one round of measurements with whichever majorityredis its sys.path finds first.
# It prints one JSON line: the file it imported and the samples in ms.
CHILD = """\
import json, sys, time
import majorityredis
from majorityredis import MajorityRedis
urls, iterations, warmup = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
mr = MajorityRedis.from_urls(urls, socket_timeout=1.0)
if hasattr(mr, "bootstrap_new_cluster"):  # later libraries: admit the fresh nodes (recovery)
    mr.bootstrap_new_cluster()
lock = mr.lock("bench:seam", ttl=10.0)
samples = []
for i in range(warmup + iterations):
    t0 = time.perf_counter()
    if not lock.acquire(blocking=False):
        raise SystemExit("acquire failed: the lock should be free")
    lock.release()
    if i >= warmup:
        samples.append((time.perf_counter() - t0) * 1000.0)
mr.close()
print(json.dumps({"module": majorityredis.__file__, "samples_ms": samples}))
"""


def default_baseline() -> str:
    """The parent of the commit that added the runtime seam."""
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", SEAM_FILE], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    if not added:
        raise SystemExit(f"benchmarks.seam: no commit adds {SEAM_FILE} in this clone's history "
                         "(a shallow clone?); pass --baseline REV")
    return f"{added[-1]}^"


def short(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def extract_library(rev: str, into: Path, name: str) -> Path:
    """`majorityredis/` as it was at `rev`, unpacked under `into/name`; returns the root for sys.path."""
    archive = into / f"{name}.tar"
    result = subprocess.run(["git", "archive", "--format=tar", f"--output={archive}", rev, "majorityredis"],
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"benchmarks.seam: git archive {rev} failed: {result.stderr.strip()}")
    root = into / name
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root


def measure(code_root: Path, urls: Sequence[str], iterations: int, warmup: int) -> list[float]:
    """One round in a fresh interpreter whose `majorityredis` is the one under `code_root`."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    # cwd too: `python -c` puts the working directory first on sys.path, before PYTHONPATH
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(list(urls)), str(iterations), str(warmup)],
                         env=env, cwd=code_root, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"benchmarks.seam: the round with {code_root} failed:\n{out.stderr.strip()}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    imported = Path(report["module"]).resolve()
    if not imported.is_relative_to(code_root.resolve()):
        raise SystemExit(f"benchmarks.seam: the round meant for {code_root} imported {imported}")
    samples: list[float] = report["samples_ms"]
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seam", description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision of the library before the seam (default: the parent "
                                           f"of the commit that added {SEAM_FILE})")
    parser.add_argument("--candidate", help="git revision to compare with the baseline (default: the working tree)")
    parser.add_argument("--iterations", type=int, default=1000, help="acquire+release pairs per round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per library, interleaved")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)

    from harness.cluster.processes import RedisServer

    baseline = args.baseline or default_baseline()
    with tempfile.TemporaryDirectory(prefix="bench-seam-") as tmp:
        base_root = extract_library(baseline, Path(tmp), "baseline")
        candidate_root = extract_library(args.candidate, Path(tmp), "candidate") if args.candidate else ROOT
        servers = [RedisServer(f"n{i + 1}", Path(tmp) / f"n{i + 1}") for i in range(NODES)]
        try:
            for server in servers:
                server.start()
            urls = [server.url for server in servers]
            candidate = f"candidate {short(args.candidate)}" if args.candidate else "working tree"
            trees = {f"baseline {short(baseline)}": base_root, candidate: candidate_root}
            samples: dict[str, list[float]] = {name: [] for name in trees}
            for round_no in range(args.rounds):
                # alternate which one goes first, so neither always runs on a warmer machine
                order = list(trees.items()) if round_no % 2 == 0 else list(reversed(trees.items()))
                for name, root in order:
                    samples[name] += measure(root, urls, args.iterations, args.warmup)
                print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            for server in servers:
                server.stop()

    print(f"\nmajorityredis acquire+release, {NODES} nodes on loopback, one client, "
          f"{args.rounds} x {args.iterations} pairs per library")
    print(f"{'library':<32} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in samples.items():
        print(f"{name:<32} {statistics.median(values):>8.3f} {percentile(values, 0.99):>8.3f} "
              f"{statistics.fmean(values):>8.3f}")
    base_p50, tree_p50 = (statistics.median(values) for values in samples.values())
    ratio = tree_p50 / base_p50
    met = ratio <= TARGET_RATIO
    print(f"\n{list(samples)[1]} p50 / baseline p50 = {ratio:.3f} (target <= {TARGET_RATIO}): "
          f"{'met' if met else 'MISSED'}")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
