"""Load a scenario YAML file into a validated `Scenario`, or raise BadInput naming the file,
the line and the dotted field of the first mistake (exit 3 before anything starts).

Line numbers come from PyYAML's compose step: every node carries the mark of where
it starts, so a pydantic error location such as ("workload", "lock", "ttl") maps
onto the line of the `ttl:` key (a missing field maps onto its parent's line; the
union tag "lock" that pydantic inserts is not part of the dotted name).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import BadInput
from harness.scenario.schema import Scenario, cross_field_errors

Location = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class LoadedScenario:
    """A validated scenario, where it came from and its text (the run folder keeps a copy)."""

    scenario: Scenario
    path: Path
    text: str


def load_scenario(path: str | Path, *, overrides: dict[str, Any] | None = None,
                  simulated: bool = False, workload_overrides: dict[str, Any] | None = None) -> LoadedScenario:
    """Read, parse and validate `path`; `overrides` replace top-level fields (e.g. duration, seed),
    `workload_overrides` fields of the `workload:` section (e.g. client).

    Unless `simulated`, a fault that exists only in simulation is a mistake at its entry."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(path, "no such scenario file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(path, f"cannot read the scenario: {error}") from None
    data, lines = parse_yaml(text, path)
    written = data.get("duration")
    file_duration = float(written) if isinstance(written, (int, float)) and not isinstance(written, bool) else None
    if overrides:
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    if workload_overrides and isinstance(data.get("workload"), dict):
        data = {**data, "workload": {**data["workload"], **workload_overrides}}
    scenario = validate(data, lines, path, file_duration=file_duration)
    if not simulated:
        for location, message in scenario.nemesis.simulation_only():
            raise BadInput(path, message, line=line_of(("nemesis", *location), lines),
                           field=dotted(("nemesis", *location)))
    return LoadedScenario(scenario=scenario, path=path, text=text)


def parse_yaml(text: str, path: Path) -> tuple[dict[str, Any], dict[Location, int]]:
    """The YAML document as plain data plus a map location -> 1-based line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = " ".join(str(part) for part in (error.context, error.problem) if part)
        raise BadInput(path, f"YAML syntax error: {reason}", line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise BadInput(path, f"YAML error: {error}") from None
    if root is None:
        raise BadInput(path, "the scenario is empty; it needs at least name, duration and workload", line=1)
    if not isinstance(root, yaml.MappingNode):
        raise BadInput(path, "a scenario must be a mapping of fields (name: ..., duration: ...)",
                       line=root.start_mark.line + 1)
    lines: dict[Location, int] = {(): root.start_mark.line + 1}
    _index_lines(root, (), lines, path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:  # pragma: no cover - compose already accepted it
        raise BadInput(path, f"YAML error: {error}") from None
    return data, lines


def _index_lines(node: yaml.Node, location: Location, lines: dict[Location, int], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise BadInput(path, f"duplicate key {key!r} (first at line {seen[key]})", line=line,
                               field=dotted(location + (key,)))
            seen[key] = line
            lines[location + (key,)] = line
            _index_lines(value_node, location + (key,), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[location + (i,)] = item.start_mark.line + 1
            _index_lines(item, location + (i,), lines, path)


def validate(data: dict[str, Any], lines: dict[Location, int], path: Path, *,
             file_duration: float | None = None) -> Scenario:
    """Validate with the schema; the first error becomes a BadInput with line and field.
    `file_duration`: the file's own duration, which fault windows are judged against (a
    shorter `--duration` ends the run before its later faults, as asked)."""
    for location, message in _non_finite_numbers(data):
        raise BadInput(path, message, line=line_of(location, lines), field=dotted(location))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        located = [(clean_location(_error_location(e), lines), e) for e in errors]
        location, first = located[0]
        more = ""
        if len(errors) > 1:
            # every mistake at once, each with its own line, so one edit fixes the file
            more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''}:" + "".join(
                f"\n  {path}:{line_of(loc, lines)}: field '{dotted(loc)}': {_message(e)}"
                for loc, e in located[1:]) + ")"
        raise BadInput(path, _message(first) + more, line=line_of(location, lines),
                       field=dotted(location) or None) from None
    for location, message in [*_literal_mistakes(data, scenario), *cross_field_errors(scenario, file_duration)]:
        raise BadInput(path, message, line=line_of(location, lines), field=dotted(location))
    return scenario


_ABSENT = object()


def _non_finite_numbers(data: Any) -> list[tuple[Location, str]]:
    """.nan and .inf: no field of a scenario means an infinite or undefined amount."""
    return [(location, f"must be a finite number, got {raw!r}") for location, raw in _leaves(data, ())
            if isinstance(raw, float) and not math.isfinite(raw)]


def _literal_mistakes(data: Any, scenario: Scenario) -> list[tuple[Location, str]]:
    """Values pydantic's lax mode quietly converted: `true` where a number is meant (it became 1.0)."""
    found: list[tuple[Location, str]] = []
    for location, raw in _leaves(data, ()):
        if isinstance(raw, bool):
            validated = _validated_at(scenario, location)
            if validated is not _ABSENT and not isinstance(validated, bool):
                found.append((location, f"expected a number, got the boolean {str(raw).lower()!r} "
                                        "(YAML true/false are not 1/0 here)"))
    return found


def _leaves(value: Any, location: Location) -> list[tuple[Location, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, location + (k,))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, location + (i,))]
    return [(location, value)]


def _validated_at(node: Any, location: Location) -> Any:
    """The validated value at a file location (fault parameters live under `.params`)."""
    for part in location:
        if isinstance(node, dict):
            node = node.get(part, _ABSENT)
        elif isinstance(node, (list, tuple)):
            node = node[part] if isinstance(part, int) and 0 <= part < len(node) else _ABSENT
        elif isinstance(part, str) and part in getattr(type(node), "model_fields", {}):
            node = getattr(node, part)
        elif isinstance(part, str) and part in getattr(type(getattr(node, "params", None)), "model_fields", {}):
            node = getattr(node.params, part)
        else:
            return _ABSENT
        if node is _ABSENT:
            return _ABSENT
    return node


def _error_location(error: Any) -> Location:
    loc = tuple(error["loc"])
    if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        loc += (str(error.get("ctx", {}).get("discriminator", "type")).strip("'\""),)
    return loc


def clean_location(loc: Location, lines: dict[Location, int]) -> Location:
    """Drop the parts pydantic adds that are not in the file (union tags, validator names)."""
    out: Location = ()
    for i, part in enumerate(loc):
        if out + (part,) in lines:
            out += (part,)
        elif i + 1 < len(loc) and out + (loc[i + 1],) in lines:
            continue  # a tag such as "lock" or "function-after[...]" between two real keys
        elif isinstance(part, str) and ("[" in part or part in _union_tags()):
            continue
        else:
            out += (part,)  # a missing field: keep its name
    return out


def _union_tags() -> set[str]:
    """Tags pydantic puts into locations of discriminated unions (never user keys of ours)."""
    from harness.workload import WORKLOADS

    return {"local", "external", *WORKLOADS}


def line_of(location: Location, lines: dict[Location, int]) -> int | None:
    """The line of the longest prefix of `location` present in the file."""
    for end in range(len(location), -1, -1):
        if location[:end] in lines:
            return lines[location[:end]]
    return None


def dotted(location: Location) -> str:
    """("nemesis", "schedule", 0, "start") -> "nemesis.schedule[0].start"."""
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "missing":
        return "required field is missing"
    if error.get("type") == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return f"unknown value {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if error.get("type") == "union_tag_not_found":
        return "required field is missing"
    if error.get("type") == "extra_forbidden":
        return "unknown field (check the spelling; see scenarios/README.md)"
    if "input" in error and error.get("type") not in ("missing",) and not isinstance(error["input"], dict):
        shown = repr(error["input"])
        message += f" (got {shown[:60]})"
    return message
