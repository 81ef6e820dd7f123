"""The scenario schema: pydantic models of a scenario YAML file (documented field by field
in scenarios/README.md).

A scenario is data that maps onto registries: `workload.type` picks a class of
harness.workload.WORKLOADS (its `Params` model validates the rest of the section),
`nemesis` is harness.faults.config.NemesisConfig (each fault kind validates its own
params), `checkers` name entries of harness.checker.CHECKER_NAMES. Unknown keys are
errors everywhere (a typo must not be silently ignored).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from harness.cluster.base import node_names
from harness.cluster.external import ExternalClusterConfig
from harness.cluster.processes import PERSISTENCE_MODES
from harness.faults.config import NemesisConfig
from harness.workload import WORKLOADS
from harness.workload.base import WorkloadParams

Persistence = Literal["none", "appendonly everysec", "appendonly always"]
Expectation = Literal["valid", "invalid"]
# One expectation for the combined verdict, or one per checker. The branch is chosen by the
# value's shape, so an error names only that branch (the tags, like pydantic's own union
# tags, are dropped from the field the loader reports).
Expect = Annotated[Union[Annotated[Expectation, Tag("literal['valid','invalid']")],
                         Annotated[dict[str, Expectation], Tag("dict[str,expectation]")]],
                   Discriminator(lambda v: "dict[str,expectation]" if isinstance(v, dict)
                                 else "literal['valid','invalid']")]
assert set(PERSISTENCE_MODES) == set(Persistence.__args__)  # type: ignore[attr-defined]


class LocalClusterConfig(BaseModel):
    """`cluster:` of a local run: redis-server + toxiproxy-server processes on this machine."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["local"] = "local"
    nodes: int = Field(5, ge=1, le=15, description="number of redis-server nodes")
    persistence: Persistence = Field("none", description="none | appendonly everysec | appendonly always")
    password: str | None = Field(None, description="requirepass of every node")


ClusterConfig = Annotated[Union[LocalClusterConfig, ExternalClusterConfig], Field(discriminator="mode")]

if TYPE_CHECKING:  # statically: some workload's Params (the union is built from the registry at import)
    WorkloadConfig = WorkloadParams
else:
    WorkloadConfig = Annotated[Union[tuple(cls.Params for cls in WORKLOADS.values())], Field(discriminator="type")]


def checker_names() -> tuple[str, ...]:
    from harness.checker import CHECKER_NAMES

    return tuple(CHECKER_NAMES)


class Scenario(BaseModel):
    """One runnable experiment (see scenarios/README.md for every field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="run folder prefix")
    description: str = ""
    seed: int = Field(0, description="seeds the fault schedule and every client's op mix")
    duration: float = Field(gt=0, le=24 * 3600, description="seconds of workload under faults")
    settle: float = Field(2.0, ge=0, description="seconds to wait after healing, before the final phase")
    clients: int = Field(5, ge=1, le=64, description="concurrent client workers")
    cluster: ClusterConfig = Field(default_factory=LocalClusterConfig)
    workload: WorkloadConfig
    nemesis: NemesisConfig = Field(default_factory=NemesisConfig)
    checkers: list[str] | None = Field(None, description="checker names; default: the workload's")
    checker_options: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                       description="checker name -> keyword options")
    check_time_limit: float = Field(120.0, gt=0, description="seconds each checker may take")
    max_info_share: float = Field(0.2, ge=0, le=1, description=(
        "most share of client ops outside fault windows whose outcome may be unknown (info) before "
        "a valid verdict becomes unknown: beyond it the system was not really exercised"))
    expect: Expect = Field(
        "valid", description="valid | invalid for the combined verdict, or checker name -> valid | invalid")

    @model_validator(mode="before")
    @classmethod
    def _default_cluster_mode(cls, data: Any) -> Any:
        cluster = data.get("cluster") if isinstance(data, dict) else None
        if isinstance(cluster, dict) and "mode" not in cluster:
            data = {**data, "cluster": {"mode": "local", **cluster}}
        return data

    @field_validator("checkers")
    @classmethod
    def _known_checkers(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        known = checker_names()
        for name in names:
            if name not in known:
                raise ValueError(f"unknown checker {name!r}; known: {', '.join(known)}")
        if not names:
            raise ValueError("name at least one checker (or leave `checkers` out for the workload's)")
        return names

    @field_validator("expect")
    @classmethod
    def _some_expectation(cls, expect: Any) -> Any:
        if isinstance(expect, dict) and not expect:
            raise ValueError("name at least one checker (e.g. {mutex-graph: invalid, resource: valid}), "
                             "or write valid / invalid")
        return expect

    @property
    def checker_list(self) -> list[str]:
        """The checkers to run: the scenario's, or the workload's defaults."""
        if self.checkers is not None:
            return list(self.checkers)
        return list(WORKLOADS[self.workload.type].default_checkers)

    @property
    def node_count(self) -> int:
        cluster = self.cluster
        return cluster.nodes if isinstance(cluster, LocalClusterConfig) else len(cluster.nodes)


def cross_field_errors(scenario: Scenario,
                       file_duration: float | None = None) -> list[tuple[tuple[str | int, ...], str]]:
    """Mistakes that involve several fields, each as (location, message), so the loader can
    name the line of the field at fault (a model-level validator could not). `file_duration`:
    the file's own duration when the command line overrode it."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    workload_cls = WORKLOADS[scenario.workload.type]
    reason = workload_cls(scenario.workload, seed=scenario.seed,
                          clients=scenario.clients).validate_for(scenario.clients)
    if reason:
        errors.append((("workload",), reason))
    cluster = scenario.cluster
    names = (node_names(cluster.nodes) if isinstance(cluster, LocalClusterConfig)
             else [node.name for node in cluster.nodes])
    for location, message in scenario.nemesis.problems(names, scenario.clients):
        errors.append((("nemesis", *location), message))
    if isinstance(cluster, ExternalClusterConfig):
        for location in scenario.nemesis.clock_fault_locations():
            errors.append((("nemesis", *location),
                           "clock faults need nodes the harness starts (cluster mode local); "
                           "an external cluster's node clocks cannot be changed"))
    if isinstance(scenario.expect, dict):
        for name in scenario.expect:
            if name not in scenario.checker_list:
                errors.append((("expect", name), f"expectation for {name!r}, which is not among the "
                                                  f"checkers the scenario runs {scenario.checker_list}"))
    errors.extend(_windows_after_the_end(scenario, file_duration))
    for name, options in scenario.checker_options.items():
        if name not in scenario.checker_list:
            errors.append((("checker_options", name),
                           f"options for {name!r}, which is not among the checkers {scenario.checker_list}"))
        else:
            errors.extend(_checker_option_errors(name, options))
    return errors


def _windows_after_the_end(scenario: Scenario,
                           file_duration: float | None = None) -> list[tuple[tuple[str | int, ...], str]]:
    """Fault entries that would never be injected: they start when the workload is over. Judged
    against the file's own `duration` when given: a run shortened on the command line
    (`--duration`) simply ends before its later faults, as asked."""
    duration = scenario.duration if file_duration is None else file_duration
    errors: list[tuple[tuple[str | int, ...], str]] = []
    entries: list[tuple[tuple[str | int, ...], float]] = [
        (("nemesis", "schedule", i, "start"), entry.start) for i, entry in enumerate(scenario.nemesis.schedule)]
    if scenario.nemesis.random is not None:
        entries.append((("nemesis", "random", "start"), scenario.nemesis.random.start))
    for location, start in entries:
        if start >= duration:
            errors.append((location, f"starts at {start:g} s but the run lasts {duration:g} s "
                                     "(duration): this fault would never be injected"))
    return errors


def _checker_option_errors(name: str, options: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Options the checker itself rejects, found by running it on an empty history (it is pure
    and instant there), so the run does not execute for minutes and then end undecided."""
    from harness.checker import check
    from harness.errors import BadInput

    try:
        check([], name, **options)
    except BadInput as error:
        location: tuple[str | int, ...] = ("checker_options", name)
        if error.field in options:
            location += (error.field,)
        return [(location, error.reason)]
    except Exception as error:  # noqa: BLE001 - a model that cannot be built from these options
        return [(("checker_options", name), f"checker {name!r} rejects these options: "
                                            f"{type(error).__name__}: {error}")]
    return []
