"""What a client under test promises under a scenario's faults (pure; the comparison page
shows it beside what the client did).

- "n/a": the combination cannot run — a fenced resource needs fencing tokens, and a
  client without them cannot be fenced;
- "no promise": the client does not claim mutual exclusion here, so an anomaly is not a
  bug of the library:
  * a client paused beyond its ttl on an *unfenced* resource: its lease ran out while it
    slept, and no lock can stop it from working afterwards (only fencing can);
  * a node kill with an empty restart: a majority lock without delayed restarts forgets
    its holds (Redlock asks for persistence or a delayed restart) — except ours with its
    recovery on (`recovery: true`, the default): a node that lost its data abstains
    until a hold could have expired (majorityredis.admission);
  * a single-node lock under any node kill: its one node *is* the lock;
  * node clocks that jump or run fast (`clock-jump`, `clock-rate`): every lock here —
    Redlock and ours alike — assumes node clocks advance at about the same rate
    (within its drift allowance); a key expires early on a node whose clock jumped, and
    only a fenced resource stays safe (Kleppmann's critique of Redlock);
- "promised": mutual exclusion is claimed; an anomaly is the library's failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from harness.clients.specs import ClientSpec

PromiseKind = Literal["promised", "no promise", "n/a"]


@dataclass(frozen=True, slots=True)
class Promise:
    kind: PromiseKind
    reason: str


def fault_entries(scenario: Any) -> Iterator[tuple[str, Any]]:
    """(kind, params) of every fault the scenario's nemesis may inject."""
    nemesis = scenario.nemesis
    for entry in nemesis.schedule:
        yield entry.fault, entry.params
    if nemesis.random is not None:
        for item in nemesis.random.mix:
            yield item.fault, item.params
    if nemesis.swarm is not None:
        for item in nemesis.swarm.kinds:
            yield item.fault, item.params


def promise(spec: ClientSpec, scenario: Any) -> Promise:
    """What `spec` promises under `scenario` (a harness.scenario.schema.Scenario, lock workload)."""
    workload = scenario.workload
    if getattr(workload, "fenced", False) and not spec.fencing_tokens:
        return Promise("n/a", "no fencing tokens: no resource can fence this client")
    if getattr(workload, "pause", 0.0) > getattr(workload, "ttl", float("inf")) and not workload.fenced:
        return Promise("no promise", "a client paused beyond its ttl works after its lease ran out; "
                                     "only a fenced resource can refuse it")
    kills = [params for kind, params in fault_entries(scenario) if kind == "kill"]
    protected = spec.name == "majorityredis" and getattr(workload, "recovery", False)
    if any(getattr(params, "empty", False) for params in kills) and not protected:
        return Promise("no promise", "nodes restart empty: without persistence or a delayed restart "
                                     "a majority lock forgets its holds")
    if kills and spec.scope == "single-node":
        return Promise("no promise", "a single-node lock: its one node is the lock, and the kill may hit it")
    clock_faults = [kind for kind, _params in fault_entries(scenario) if kind in ("clock-jump", "clock-rate")]
    if clock_faults and not getattr(workload, "fenced", False):
        return Promise("no promise", "node clocks jump or run fast: every lock assumes they advance at about "
                                     "the same rate, and only a fenced resource stays safe")
    return Promise("promised", "claims mutual exclusion under these faults")
