"""The nemesis: faults as data, a seeded schedule, and the thread that runs it.

- `FAULTS` maps a fault kind (the `fault:` of a scenario's nemesis entry) to its class.
- `harness.faults.config.NemesisConfig` is the scenario's `nemesis` section.
- `harness.faults.schedule.build_schedule` turns it into timed start/stop actions
  (deterministic for a seed); `harness.faults.schedule.Nemesis` runs them on a thread.

How to add a fault (one class + one registry entry, no other code changes):

1. Subclass `harness.faults.base.Fault` in the module of its family
   (partitions.py, processes.py, network.py, or a new one):
   - `kind = "my-fault"` — the name scenarios use;
   - `class Params(FaultParams)` — its parameters as pydantic fields with
     defaults (extra fields are rejected, so a typo names the field); never
     use the schedule's field names `fault`, `start`, `every`, `duration`;
     reuse `NodeTargetParams` / `LinkTargetParams` for `targets` / `clients`;
   - `start(cluster, rng) -> dict`: inject the fault through the Cluster
     primitives only (cut/connect, add_toxic/remove_toxics; process faults go
     through `harness.faults.node_holds` so overlapping windows compose), drawing every random choice from `rng` (seeded
     per window, so runs replay), remember what it did on `self`, and return
     a JSON-able description (it becomes the nemesis event's value);
   - `stop(cluster) -> dict`: undo exactly that, tolerating a partial start;
   - `needs_clock_control = True` if it uses the clock primitives (clock.py);
   - optionally `extra_window()` if its stop must come later than `duration`.
2. Add it to `FAULTS` below. The scenario schema, the random mix and the
   schedule pick it up from there.
"""

from __future__ import annotations

from harness.faults.base import Fault, FaultParams
from harness.faults.clock import ClockJump, ClockRate
from harness.faults.network import Bandwidth, Latency, OneWayCut, ResetConnections
from harness.faults.partitions import (
                                       PartitionBridge,
                                       PartitionClient,
                                       PartitionHalves,
                                       PartitionMajoritiesRing,
                                       PartitionNode,
)
from harness.faults.processes import Kill, Pause
from harness.faults.simulated import ClientClockRate, ClientCrash, ClientPause, CrashLoseWrites

FAULTS: dict[str, type[Fault]] = {cls.kind: cls for cls in (
    PartitionNode,
    PartitionHalves,
    PartitionMajoritiesRing,
    PartitionBridge,
    PartitionClient,
    Kill,
    Pause,
    Latency,
    Bandwidth,
    ResetConnections,
    OneWayCut,
    ClockJump,
    ClockRate,
    # simulation only (harness.faults.simulated): refused by the real-time runner
    ClientPause,
    ClientClockRate,
    ClientCrash,
    CrashLoseWrites,
)}

# After FAULTS: the config builds its validation from the registry.
from harness.faults.config import NemesisConfig  # noqa: E402
from harness.faults.schedule import FaultAction, Nemesis, build_schedule, describe_schedule  # noqa: E402

__all__ = ["FAULTS", "Fault", "FaultParams", "FaultAction", "Nemesis", "NemesisConfig",
           "build_schedule", "describe_schedule"]
