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


class NemesisConfig(BaseModel):
    """The scenario's `nemesis` section; empty (no faults) by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schedule: list[ScheduledFault] = Field(default_factory=list)
    random: RandomNemesis | None = None

    def is_empty(self) -> bool:
        return not self.schedule and self.random is None

    def _entries(self) -> Iterator[tuple[tuple[str | int, ...], _WithParams]]:
        for i, entry in enumerate(self.schedule):
            yield ("schedule", i), entry
        if self.random is not None:
            for i, item in enumerate(self.random.mix):
                yield ("random", "mix", i), item

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
