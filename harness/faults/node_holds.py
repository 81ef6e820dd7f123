"""How many process-fault windows hold each node down (killed) or stopped (paused), so overlaps compose.

Two windows may overlap on one node (two entries of a scenario, or a random
mix): the node must stay down while *any* kill window holds it, and stopped
while any pause window does — the first window to end must not bring it back
under the other. Links follow the same rule inside the cluster (cuts are
counted there); for nodes the counting lives here, between the faults and
the cluster, because a cluster's kill/restart/pause/resume are plain process
actions that tests and `heal()` use directly.

Rules (`NodeHolds`, one per cluster: `holds_for(cluster)`):
- kill: the first hold kills the node; later holds only count. The last one
  to end restarts it — empty if any window of that outage asked for `empty`
  (the data loss already happened to the node in that window's model). A
  window that does not restart keeps its hold: the node stays down until the
  run's `heal()`.
- pause: the first hold stops (SIGSTOP) the node, or — if it is held down —
  marks it to be stopped as soon as it is restarted; the last hold to end
  resumes it (if it is up).
- clock rate: every `clock-rate` window holding a node names its rate; the
  node's clock runs at the rate of the latest window still holding it, and at
  the real rate (1) when none does. Each change continues from the clock's
  current reading, so ending a rate window never steps the clock (the offset
  it gained stays until `heal()` resets the clock).
- clock jumps need no counting: offsets add up, and a window that restores
  its jump undoes exactly its own offset, whatever overlapped it.
- `clear()` forgets everything (the cluster was healed).
Thread-safe; the cluster calls are made under the lock, so two windows never
interleave their actions on one node.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from typing import Any

from harness.cluster.base import Cluster

_BY_CLUSTER: weakref.WeakKeyDictionary[Any, NodeHolds] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def holds_for(cluster: Cluster) -> NodeHolds:
    """The ledger shared by every fault window acting on `cluster`."""
    with _REGISTRY_LOCK:
        holds = _BY_CLUSTER.get(cluster)
        if holds is None:
            holds = _BY_CLUSTER[cluster] = NodeHolds(cluster)
        return holds


class NodeHolds:
    """Counted kill and pause holds per node of one cluster (see the module docstring)."""

    def __init__(self, cluster: Cluster) -> None:
        # weakly: _BY_CLUSTER's value must not keep its own key alive, or every cluster (a
        # simulated world with its nodes and Lua runtimes) would outlive its run
        self._cluster = weakref.ref(cluster)
        self._down: Counter[str] = Counter()
        self._empty: set[str] = set()  # an outage during which some window asked for an empty restart
        self._paused: Counter[str] = Counter()
        self._rates: dict[str, list[tuple[int, float]]] = {}  # node -> (window id, rate), oldest first
        self._lock = threading.Lock()

    @property
    def cluster(self) -> Cluster:
        cluster = self._cluster()
        if cluster is None:
            raise RuntimeError("the cluster of these node holds no longer exists")
        return cluster

    def kill(self, node: str, *, empty: bool = False) -> bool:
        """Take a kill hold on `node`; True if this hold killed it (False: it was down already)."""
        with self._lock:
            self._down[node] += 1
            if empty:
                self._empty.add(node)
            if self._down[node] > 1:
                return False
            self.cluster.kill(node)
            return True

    def release_kill(self, node: str) -> bool:
        """End one kill hold; True if it was the last and the node was restarted (and re-paused if held)."""
        with self._lock:
            if self._down[node] > 1:
                self._down[node] -= 1
                return False
            self._down.pop(node, None)
            empty = node in self._empty
            self._empty.discard(node)
            self.cluster.restart(node, empty=empty)
            if self._paused[node] > 0:
                self.cluster.pause(node)
            return True

    def pause(self, node: str) -> bool:
        """Take a pause hold; True if this hold stopped the node now (False: already stopped, or down)."""
        with self._lock:
            self._paused[node] += 1
            if self._paused[node] > 1 or self._down[node] > 0:
                return False
            self.cluster.pause(node)
            return True

    def release_pause(self, node: str) -> bool:
        """End one pause hold; True if it was the last and the node (being up) was resumed."""
        with self._lock:
            if self._paused[node] > 1:
                self._paused[node] -= 1
                return False
            self._paused.pop(node, None)
            if self._down[node] > 0:
                return False
            self.cluster.resume(node)
            return True

    def jump_clock(self, node: str, offset_s: float) -> None:
        """Add `offset_s` to the node's clock (under the lock: never interleaved with a rate change)."""
        with self._lock:
            self.cluster.jump_clock(node, offset_s)

    def hold_rate(self, node: str, window: int, rate: float) -> None:
        """Window `window` runs the node's clock at `rate` (it is now the latest window holding it)."""
        with self._lock:
            self.cluster.set_clock_rate(node, rate)
            self._rates.setdefault(node, []).append((window, rate))

    def release_rate(self, node: str, window: int) -> float:
        """End window `window`'s rate hold; returns the node's rate now (the latest remaining
        window's, or 1.0), set only if it changed."""
        with self._lock:
            held = self._rates.get(node, [])
            before = held[-1][1] if held else 1.0
            held[:] = [(w, r) for w, r in held if w != window]
            after = held[-1][1] if held else 1.0
            if not held:
                self._rates.pop(node, None)
            if after != before:
                self.cluster.set_clock_rate(node, after)
            return after

    def held_paused(self, node: str) -> bool:
        with self._lock:
            return self._paused[node] > 0

    def clear(self) -> None:
        with self._lock:
            self._down.clear()
            self._empty.clear()
            self._paused.clear()
            self._rates.clear()
