"""The `nemesis` section of a scenario: scheduled faults and/or a random mix.

    nemesis:
      schedule:
        - {fault: partition-halves, start: 2, every: 8, duration: 3}
        - {fault: kill, start: 5, duration: 2, targets: [n1], empty: false}
      random: {interval: 5, duration: 3, start: 1,
               mix: [partition-halves, pause, {fault: kill, empty: true}]}

A schedule entry is `fault` (a kind of harness.faults.FAULTS), `start` (s
after the run starts, default 0), `every` (repeat period in s; omitted = once),
`duration` (s the fault lasts), and that fault's own parameters beside them.
`random` starts one fault drawn from `mix` (a kind, or a kind with parameters)
every `interval` s from `start`, each lasting `duration` s.

Validation errors carry the location of the field at fault: an unknown kind is
reported at `schedule.<i>.fault`, an unknown or bad parameter at
`schedule.<i>.<param>` (`random.mix.<i>.<param>` in a mix), so the scenario
loader can name the field and line.
"""

from __future__ import annotations

import random as random_module
from typing import Any, Iterator

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from harness.faults import FAULTS
from harness.faults.base import TIMING_FIELDS, FaultParams, choose_clients, choose_nodes


def _unknown_fault(title: str, kind: Any) -> ValidationError:
    known = ", ".join(sorted(FAULTS))
    # the message is built here: PydanticCustomError templates only substitute plain {names}
    error = PydanticCustomError("unknown_fault", f"unknown fault {kind!r}; known faults: {known}")
    return ValidationError.from_exception_data(
        title, [InitErrorDetails(type=error, loc=("fault",), input=kind)])


def _split_params(title: str, data: Any, own_fields: tuple[str, ...]) -> Any:
    """{fault, <own fields>, **params} -> {fault, <own fields>, params: <validated Params>}."""
    if not isinstance(data, dict) or "fault" not in data:
        return data  # pydantic reports the missing `fault` / wrong type itself
    kind = data["fault"]
    if not isinstance(kind, str) or kind not in FAULTS:
        raise _unknown_fault(title, kind)
    rest = {k: v for k, v in data.items() if k not in own_fields}
    params = FAULTS[kind].Params.model_validate(rest)  # its errors are located at the param
    return {**{k: v for k, v in data.items() if k in own_fields}, "params": params}


class _WithParams(BaseModel):
    """A fault kind plus its validated parameters, written flat in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fault: str
    params: SerializeAsAny[FaultParams] = Field(default_factory=FaultParams)

    @model_serializer(mode="wrap")
    def _flatten(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        params = data.pop("params", {}) or {}
        return {**data, **params}

    def make(self, fault_id: int = 0):  # type: ignore[no-untyped-def]
        """A fresh Fault instance for one window."""
        return FAULTS[self.fault](self.params, fault_id=fault_id)

    def extra_window(self) -> float:
        return self.make().extra_window()


class ScheduledFault(_WithParams):
    """One `schedule` entry: a fault at `start`, repeated `every` s, lasting `duration` s."""

    start: float = Field(default=0.0, ge=0)
    every: float | None = Field(default=None, gt=0)
    duration: float = Field(gt=0)
    # seeds the window's random choices (targets, partition pattern) instead of (scenario seed, fault id):
    # a shrunk reproducer keeps each fault's choices while other faults are dropped
    rng_seed: int | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _params(cls, data: Any) -> Any:
        return _split_params(cls.__name__, data, TIMING_FIELDS)

    @model_validator(mode="after")
    def _no_self_overlap(self) -> "ScheduledFault":
        window = self.duration + self.extra_window()
        if self.every is not None and self.every < window:
            raise ValueError(f"every ({self.every}) must be at least duration ({self.duration})"
                             + (f" + delay ({self.extra_window()})" if self.extra_window() else "")
                             + ": a fault entry never overlaps itself")
        return self


class MixItem(_WithParams):
    """A fault of a random mix: a kind (`pause`) or a kind with parameters ({fault: kill, empty: true})."""

    @model_validator(mode="before")
    @classmethod
    def _params(cls, data: Any) -> Any:
        if isinstance(data, str):
            data = {"fault": data}
        return _split_params(cls.__name__, data, ("fault",))


class RandomNemesis(BaseModel):
    """One fault drawn from `mix` every `interval` s from `start`, each lasting `duration` s.

    Windows never overlap: if a window (with a kill's delay) outlasts the
    interval, the next one starts when it stops.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    interval: float = Field(gt=0)
    duration: float = Field(gt=0)
    mix: list[MixItem] = Field(min_length=1)
    start: float = Field(default=0.0, ge=0)


Range = tuple[float, float]


def _as_range(value: Any) -> Any:
    """A number n -> (n, n); [lo, hi] stays (lo, hi)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (value, value)
    return value


class SwarmNemesis(BaseModel):
    """Swarm testing (Groce et al., ISSTA 2012): each seed draws its own subset of `kinds`
    (between `min_kinds` and `max_kinds` of them) and its own intensity — an `interval` and a
    `duration` drawn from their ranges — then plays them like a random mix. A random subset
    per run finds more bugs than every fault in every run."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kinds: list[MixItem] = Field(min_length=1)
    max_kinds: int | None = Field(default=None, ge=1, description="most kinds a seed draws (default: all)")
    min_kinds: int = Field(default=1, ge=1)
    start: float = Field(default=0.0, ge=0)
    interval: Range = Field(default=(2.0, 8.0), description="seconds between fault starts: [lo, hi] or one number")
    duration: Range = Field(default=(0.5, 4.0), description="seconds each fault lasts: [lo, hi] or one number")

    @model_validator(mode="before")
    @classmethod
    def _ranges(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {**data, **{k: _as_range(data[k]) for k in ("interval", "duration") if k in data}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "SwarmNemesis":
        for name in ("interval", "duration"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be a number > 0 or [lo, hi] with 0 < lo <= hi, not [{low}, {high}]")
        if self.max_kinds is not None and not self.min_kinds <= self.max_kinds <= len(self.kinds):
            raise ValueError(f"need min_kinds <= max_kinds <= {len(self.kinds)} (the kinds listed)")
        if self.min_kinds > len(self.kinds):
            raise ValueError(f"min_kinds ({self.min_kinds}) is more than the {len(self.kinds)} kinds listed")
        return self

    def draw(self, rng: random_module.Random) -> RandomNemesis:
        """This seed's mix: a subset of the kinds and an intensity."""
        count = rng.randint(self.min_kinds, self.max_kinds or len(self.kinds))
        chosen = [self.kinds[i] for i in sorted(rng.sample(range(len(self.kinds)), count))]
        return RandomNemesis(interval=rng.uniform(*self.interval), duration=rng.uniform(*self.duration),
                             mix=chosen, start=self.start)


class NemesisConfig(BaseModel):
    """The scenario's `nemesis` section; empty (no faults) by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schedule: list[ScheduledFault] = Field(default_factory=list)
    random: RandomNemesis | None = None
    swarm: SwarmNemesis | None = None

    def is_empty(self) -> bool:
        return not self.schedule and self.random is None and self.swarm is None

    def _entries(self) -> Iterator[tuple[tuple[str | int, ...], _WithParams]]:
        for i, entry in enumerate(self.schedule):
            yield ("schedule", i), entry
        if self.random is not None:
            for i, item in enumerate(self.random.mix):
                yield ("random", "mix", i), item
        if self.swarm is not None:
            for i, item in enumerate(self.swarm.kinds):
                yield ("swarm", "kinds", i), item

    def simulation_only(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Entries whose fault only the simulator can make: [(location, message)] (a real run refuses them)."""
        return [(loc + ("fault",), f"fault {entry.fault!r} exists only in simulation: run it with "
                 "`python -m harness simulate` (scenarios/sim/)")
                for loc, entry in self._entries() if FAULTS[entry.fault].simulation_only]

    def needs_clock_control(self) -> bool:
        """True if a fault of this nemesis changes node clocks (the nodes must run under clock control)."""
        return any(FAULTS[entry.fault].needs_clock_control for _, entry in self._entries())

    def clock_fault_locations(self) -> list[tuple[str | int, ...]]:
        """Where the clock faults are: [("schedule", 0, "fault"), ...]."""
        return [loc + ("fault",) for loc, entry in self._entries() if FAULTS[entry.fault].needs_clock_control]

    def problems(self, node_names: list[str], clients: int) -> list[tuple[tuple[str | int, ...], str]]:
        """Targets that cannot exist in this cluster: [(location, message)], e.g.
        (("schedule", 1, "targets"), "unknown node(s) ['n9']; nodes are n1, n2, n3").
        The scenario loader calls this once it knows the cluster size."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        rng = random_module.Random(0)
        for loc, entry in self._entries():
            params = entry.params
            checks = [("targets", lambda v: choose_nodes(v, node_names, rng)),
                      ("clients", lambda v: choose_clients(v, clients, rng)),
                      ("client", lambda v: v == "random" or choose_clients([v], clients, rng))]
            for name, check in checks:
                if name in type(params).model_fields:
                    try:
                        check(getattr(params, name))
                    except ValueError as exc:
                        found.append((loc + (name,), str(exc)))
        return found
