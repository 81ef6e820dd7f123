"""Checker speed on the Porcupine corpus: `python -m benchmarks.checker [--repeat N]`.

Times parsing + checking of every corpus file in one process and prints the
per-corpus totals, the slowest file and the c50 histories against the targets
of issue 3 (etcd corpus < 2 s in total, no file > 0.5 s, c50-ok and c50-bad
< 2 s each). Also checks every verdict against expected.json, so a fast wrong
checker cannot look good. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness.checker import check
from harness.history.readers import read_history

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "porcupine"
MODELS = {"etcd": "cas-register", "kv": "kv"}
TARGET_CORPUS_S = {"etcd": 2.0}
TARGET_FILE_S = {"etcd": 0.5, "kv": 2.0}


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
    args = parser.parse_args()
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
    print("all targets met" if all_met else "some targets MISSED")
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
