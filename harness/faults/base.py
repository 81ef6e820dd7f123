"""The Fault interface, its parameter base class, and seeded choice of target nodes and clients."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Annotated, Any, ClassVar, Literal, Mapping, Union

from pydantic import BaseModel, ConfigDict, Field, PlainValidator

from harness.cluster.base import Cluster


def _node_targets(value: Any) -> list[str] | str | int:
    if isinstance(value, str):  # a keyword, or one node name (checked against the cluster later)
        return value if value in ("random", "minority", "majority", "all") else [value]
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError("targets must be a non-empty list of node names (e.g. [n1, n2]), a count >= 1, "
                     f"or one of random, minority, majority, all; got {value!r}")


def _client_targets(value: Any) -> list[int] | str | int:
    if isinstance(value, str) and value in ("random", "all"):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if (isinstance(value, (list, tuple)) and value
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        return list(value)
    raise ValueError("clients must be a non-empty list of client slots (e.g. [0, 2]), a count >= 1, "
                     f"or one of random, all; got {value!r}")


# Which nodes a fault hits: explicit names, a count drawn at random, or a keyword:
# "random" = one node, "minority" = (N-1)//2 nodes (at least 1), "majority" = N//2+1, "all".
NodeTargets = Annotated[Union[list[str], str, int], PlainValidator(_node_targets)]
# Which client slots (0-based): explicit slots, a count drawn at random, "random" (one) or "all".
ClientTargets = Annotated[Union[list[int], str, int], PlainValidator(_client_targets)]

TIMING_FIELDS = ("fault", "start", "every", "duration", "rng_seed")  # schedule fields; never fault params


class FaultParams(BaseModel):
    """Base of every fault's `Params`: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeTargetParams(FaultParams):
    targets: NodeTargets = "random"


class LinkTargetParams(FaultParams):
    """Faults on links: the node side (`targets`) and the client side (`clients`)."""

    targets: NodeTargets = "all"
    clients: ClientTargets = "all"
    stream: Literal["downstream", "upstream", "both"] = Field(
        default="downstream", description="downstream = replies to the client, upstream = requests")


def choose_nodes(spec: NodeTargets, nodes: list[str], rng: random.Random) -> list[str]:
    """Resolve a NodeTargets spec against the cluster's nodes; result in node order.

    Raises ValueError naming the problem (unknown node, count out of range).
    """
    if isinstance(spec, list):
        unknown = [n for n in spec if n not in nodes]
        if unknown:
            raise ValueError(f"unknown node(s) {unknown}; nodes are {', '.join(nodes)}")
        _no_repeats(spec, "node")
        chosen = set(spec)
    elif spec == "all":
        chosen = set(nodes)
    else:
        count = {"random": 1, "minority": max(1, (len(nodes) - 1) // 2),
                 "majority": len(nodes) // 2 + 1}.get(spec, spec) if isinstance(spec, str) else spec
        if not 1 <= int(count) <= len(nodes):
            raise ValueError(f"cannot choose {count} of {len(nodes)} nodes")
        chosen = set(rng.sample(nodes, int(count)))
    return [n for n in nodes if n in chosen]


def choose_clients(spec: ClientTargets, clients: int, rng: random.Random) -> list[int]:
    """Resolve a ClientTargets spec against the number of client slots; result sorted."""
    if isinstance(spec, list):
        unknown = [c for c in spec if not 0 <= c < clients]
        if unknown:
            raise ValueError(f"unknown client slot(s) {unknown}; slots are 0..{clients - 1}")
        _no_repeats(spec, "client slot")
        return sorted(set(spec))
    if spec == "all":
        return list(range(clients))
    count = 1 if spec == "random" else int(spec)
    if not 1 <= count <= clients:
        raise ValueError(f"cannot choose {count} of {clients} client slots")
    return sorted(rng.sample(range(clients), count))


def _no_repeats(listed: list[Any], what: str) -> None:
    """A target listed twice is a typo (the fault would hit fewer targets than written)."""
    repeated = sorted({v for v in listed if listed.count(v) > 1}, key=listed.index)
    if repeated:
        raise ValueError(f"{what}(s) {repeated} listed more than once in {listed}; list each once")


def streams(stream: str) -> list[str]:
    return ["upstream", "downstream"] if stream == "both" else [stream]


class Fault(ABC):
    """One fault window: `start` injects it, `stop` undoes it; one instance per window.

    Contract: `start(cluster, rng)` draws every random choice from `rng` (seeded
    per fault window by the schedule, so a seed replays the same targets) and
    returns a JSON-able dict describing what it did (recorded as the nemesis
    event value, with "phase" and "fault_id" added by the Nemesis). `stop`
    undoes exactly what `start` did (it keeps that state on the instance) and
    returns a dict too. `stop` is called even if `start` raised part-way, so
    it must tolerate a partial start; `cluster.heal()` follows at the end of a
    run anyway.
    """

    kind: ClassVar[str]
    Params: ClassVar[type[FaultParams]] = FaultParams
    #: True for faults whose primitives only the simulated cluster has (harness.faults.simulated)
    simulation_only: ClassVar[bool] = False
    #: True for faults that change node clocks: the run starts its nodes under clock control
    #: (only a local cluster can), see harness.faults.clock.
    needs_clock_control: ClassVar[bool] = False

    def __init__(self, params: FaultParams | Mapping[str, Any] | None = None, *,
                 fault_id: int = 0) -> None:
        if params is None:
            params = self.Params()
        elif not isinstance(params, self.Params):
            params = self.Params.model_validate(dict(params) if isinstance(params, Mapping)
                                                else params.model_dump())
        self.params = params
        self.fault_id = fault_id

    @abstractmethod
    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]: ...

    @abstractmethod
    def stop(self, cluster: Cluster) -> dict[str, Any]: ...

    def extra_window(self) -> float:
        """Seconds the stop phase comes after the entry's `duration` (a kill's restart `delay`)."""
        return 0.0

    @property
    def tag(self) -> str:
        """A name unique to this fault window (used to name its toxics)."""
        return f"{self.kind}-{self.fault_id}"

    def __eq__(self, other: object) -> bool:
        return (type(self) is type(other) and self.fault_id == other.fault_id  # type: ignore[attr-defined]
                and self.params == other.params)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.kind, self.fault_id))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}#{self.fault_id}({params})"
