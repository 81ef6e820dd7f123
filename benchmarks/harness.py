"""Is recording the bottleneck? The register workload through the harness vs the same
clients calling the library directly (`python -m benchmarks.harness`).

Both sides use the same cluster (real redis-server nodes behind one Toxiproxy proxy per
client and node, no faults), the same number of client threads, the same seeded op mix
(RegisterGenerator), the same duration, no pacing. The harness side is exactly what a run
does — ClientWorkers driving RegisterWorkload.run_client, every op recorded as
invoke + completion in history.jsonl; the direct side calls mr.get / mr.set in a loop and
only counts. Rounds alternate (harness, direct, harness, ...) so drift of a shared
machine hits both; the best round of each is reported, with the ratio (target >= 80%).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from harness.cluster.local import LocalCluster
from harness.history.recorder import Recorder
from harness.runner import ClientWorkers
from harness.workload.base import client_rng
from harness.workload.register import RegisterGenerator, RegisterParams, RegisterWorkload


def through_harness(cluster: LocalCluster, params: RegisterParams, clients: int, duration: float,
                    folder: Path, seed: int) -> float:
    """Ops per second completed by the harness's own workers (recorded)."""
    recorder = Recorder(folder / f"history-{time.monotonic_ns()}.jsonl")
    workers = ClientWorkers(RegisterWorkload(params, seed=seed, clients=clients), cluster, recorder,
                            seed=seed, clients=clients)
    started = time.monotonic()
    workers.start()
    time.sleep(duration)
    completed_before_stop = recorder.count - recorder.invocations  # completions so far
    elapsed = time.monotonic() - started
    workers.stop_and_join()
    recorder.close()
    if workers.errors:
        raise RuntimeError(f"harness workers failed: {workers.errors}")
    return completed_before_stop / elapsed


def direct(cluster: LocalCluster, params: RegisterParams, clients: int, duration: float, seed: int) -> float:
    """Ops per second of the same clients calling the library in a loop (nothing recorded)."""
    from majorityredis import MajorityRedis

    stop = threading.Event()
    counts = [0] * clients
    errors: list[str] = []

    def client(slot: int) -> None:
        generator = RegisterGenerator(params, client_rng(seed, slot), slot=slot, clients=clients)
        mr = MajorityRedis.from_urls(cluster.client_urls(slot), socket_timeout=params.socket_timeout,
                                     consistency=params.consistency)
        try:
            while not stop.is_set():
                op = generator.next_op()
                try:
                    if op.f == "read":
                        mr.get(op.key)
                    else:
                        mr.set(op.key, str(op.value))
                except Exception as error:  # noqa: BLE001 - counted like the harness counts info
                    errors.append(repr(error))
                counts[slot] += 1
        finally:
            mr.close()

    threads = [threading.Thread(target=client, args=(slot,), daemon=True) for slot in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(duration)
    done = sum(counts)
    elapsed = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(10)
    return done / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side")
    parser.add_argument("--consistency", choices=["linearizable", "fast"], default="linearizable")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    params = RegisterParams(type="register", keys=3, read_fraction=0.5, rate=None,
                            consistency=args.consistency, socket_timeout=1.0)
    with tempfile.TemporaryDirectory(prefix="bench-harness-") as tmp:
        folder = Path(tmp)
        cluster = LocalCluster(args.nodes, args.clients, folder / "cluster")
        cluster.start()
        try:
            harness_rates, direct_rates = [], []
            for round_ in range(args.rounds):
                harness_rates.append(through_harness(cluster, params, args.clients, args.duration, folder,
                                                     args.seed + round_))
                direct_rates.append(direct(cluster, params, args.clients, args.duration, args.seed + round_))
                print(f"round {round_ + 1}: harness {harness_rates[-1]:8.1f} ops/s   "
                      f"direct {direct_rates[-1]:8.1f} ops/s", flush=True)
        finally:
            cluster.stop()
    best_harness, best_direct = max(harness_rates), max(direct_rates)
    ratio = best_harness / best_direct
    print(f"register workload, {args.clients} clients, {args.nodes} nodes, {args.consistency}, no faults, "
          f"best of {args.rounds} x {args.duration:g} s:")
    print(f"  through the harness (recorded): {best_harness:8.1f} ops/s")
    print(f"  library called directly:        {best_direct:8.1f} ops/s")
    print(f"  ratio: {ratio:.1%} (target >= 80%) -> {'OK' if ratio >= 0.8 else 'BELOW TARGET'}")
    return 0 if ratio >= 0.8 else 1


if __name__ == "__main__":
    raise SystemExit(main())
