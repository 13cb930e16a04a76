"""Flows as data: a YAML or JSON document (JSON is read as YAML, so both get
line numbers) checked by a schema, then built into an engine Flow. Every
problem names its field (`routines[1].config.expression`) and its line.

    name: double-and-keep
    routines:
      - {id: numbers, type: source, config: {items: [1, 2, 3]}}
      - id: double
        type: mapper
        config: {expression: "item * 2"}
        policy: {type: batch_size, min_batch_size: 2}
        error_handler: {strategy: retry, max_retries: 3, retry_delay: 0.5}
        slots: {in: {max_queue_length: 100, watermark: 0.8}}
      - {id: keep, type: sink}
    connections:
      - {from: numbers.out, to: double.in}
      - {from: double.out, to: keep.in}
"""

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core import validation
from app.engine import ErrorHandler, Flow, FlowInvalid, Routine, Slot
from app.engine.builtins import ROUTINE_TYPES, ConfigError
from app.engine.policies import POLICIES, ActivationPolicy

NAME = r"^[A-Za-z][\w-]{0,63}$"
ENDPOINT = r"^[A-Za-z][\w-]{0,63}\.[A-Za-z][\w-]{0,63}$"
MAX_DOCUMENT = 256 * 1024
PATTERN_HINTS = {
    "name": "must start with a letter, then letters, digits, _ or - (up to 64)",
    "id": "must start with a letter, then letters, digits, _ or - (up to 64)",
    "from": "must be routine.event, e.g. numbers.out",
    "to": "must be routine.slot, e.g. double.in",
}


class DocumentInvalid(ValueError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlotSpec(_Spec):
    max_queue_length: int = Field(1000, ge=1, le=1_000_000)
    watermark: float = Field(0.8, gt=0, le=1)


class PolicySpec(_Spec):
    type: Literal["immediate", "batch_size", "time_interval", "all_slots_ready"]
    min_batch_size: int | None = Field(None, ge=1, le=100_000)
    min_interval_seconds: float | None = Field(None, ge=0, le=86_400)


class ErrorHandlerSpec(_Spec):
    strategy: Literal["stop", "continue", "skip", "retry"] = "stop"
    max_retries: int = Field(3, ge=0, le=100)
    retry_delay: float = Field(0.0, ge=0, le=3600)
    backoff: float = Field(2.0, ge=1, le=10)


class RoutineSpec(_Spec):
    id: str = Field(pattern=NAME)
    type: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = {}
    policy: PolicySpec | None = None
    error_handler: ErrorHandlerSpec | None = None
    slots: dict[str, SlotSpec] = {}
    entry: bool = Field(False, description="takes input fed from outside the flow")


class ConnectionSpec(_Spec):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: str = Field(alias="from", pattern=ENDPOINT)
    target: str = Field(alias="to", pattern=ENDPOINT)


class FlowDocument(_Spec):
    name: str = Field(pattern=NAME)
    description: str = Field("", max_length=2000)
    routines: list[RoutineSpec] = Field(min_length=1, max_length=200)
    connections: list[ConnectionSpec] = Field([], max_length=1000)


def _field(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _lines(node: yaml.Node, path: tuple = (), lines: dict | None = None) -> dict[tuple, int]:
    lines = {} if lines is None else lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines[path + (key.value,)] = key.start_mark.line + 1
                _lines(value, path + (key.value,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, path + (index,), lines)
    return lines


class _Problems:
    def __init__(self, lines: dict[tuple, int]) -> None:
        self.lines = lines
        self.errors: list[dict[str, Any]] = []

    def add(self, path: tuple, message: str) -> None:
        line = next((self.lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in self.lines), None)
        self.errors.append({"field": _field(path), "line": line, "message": message})


def parse(text: str) -> tuple[FlowDocument, dict[tuple, int]]:
    """Read and check the document's shape; raises DocumentInvalid."""
    if len(text) > MAX_DOCUMENT:
        raise DocumentInvalid(
            [{"field": "(document)", "line": None, "message": f"longer than {MAX_DOCUMENT // 1024} KiB"}]
        )
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DocumentInvalid(
            [
                {
                    "field": "(document)",
                    "line": mark.line + 1 if mark else None,
                    "message": f"not valid YAML or JSON: {getattr(exc, 'problem', exc)}",
                }
            ]
        ) from None
    lines = _lines(node) if node is not None else {}
    if not isinstance(data, dict):
        raise DocumentInvalid(
            [{"field": "(document)", "line": 1, "message": "must be a mapping with name, routines, connections"}]
        )
    try:
        return FlowDocument.model_validate(data), lines
    except ValidationError as exc:
        problems = _Problems(lines)
        for problem in validation.problems(exc, FlowDocument):  # the field is shown by its path, so `says` alone
            loc = tuple("from" if p == "source" else "to" if p == "target" else p for p in problem.loc)
            hint = PATTERN_HINTS.get(loc[-1]) if loc and problem.kind == "string_pattern_mismatch" else None
            problems.add(loc, hint or problem.says.rstrip("."))
        raise DocumentInvalid(problems.errors) from None


def _policy(spec: PolicySpec) -> ActivationPolicy:
    cls = POLICIES[spec.type]
    keys = {"batch_size": "min_batch_size", "time_interval": "min_interval_seconds"}
    if spec.type in keys:
        value = getattr(spec, keys[spec.type])
        if value is None:
            raise ConfigError(keys[spec.type], f"required for a {spec.type} policy")
        return cls(value)
    return cls()


def build(text: str) -> Flow:
    """The engine Flow a document describes; raises DocumentInvalid with every problem."""
    document, lines = parse(text)
    problems = _Problems(lines)
    flow = Flow(document.name)
    index: dict[str, int] = {}
    broken: set[str] = set()
    paths: dict[str, tuple] = {}  # field names handed to the engine -> document paths
    for i, spec in enumerate(document.routines):
        where = ("routines", i)
        routine = _routine(spec, where, problems)
        if routine is None:
            broken.add(spec.id)
            continue
        index.setdefault(spec.id, i)
        paths[_field(where + ("id",))] = where + ("id",)
        flow.add(routine, entry=spec.entry, field=_field(where + ("id",)))
    _connect(flow, document.connections, broken, paths)
    _validate(flow, problems, index, broken, paths)
    if problems.errors:
        raise DocumentInvalid(problems.errors)
    return flow


def _routine(spec: RoutineSpec, where: tuple, problems: _Problems) -> Routine | None:
    """The routine a spec describes, or None with its problem added."""
    cls = ROUTINE_TYPES.get(spec.type)
    if cls is None:
        problems.add(where + ("type",), f"unknown routine type {spec.type!r}; one of: {', '.join(ROUTINE_TYPES)}")
        return None
    try:
        policy = _policy(spec.policy) if spec.policy else None
    except ConfigError as exc:
        problems.add(where + ("policy", exc.key), str(exc))
        return None
    handler = ErrorHandler(**spec.error_handler.model_dump()) if spec.error_handler else None
    try:
        routine = cls(spec.id, spec.config, policy=policy, error_handler=handler)
    except ConfigError as exc:
        problems.add(where + ("config", *exc.key.split(".")), str(exc))
        return None
    except (ValueError, TypeError, KeyError) as exc:
        problems.add(where + ("config",), f"{type(exc).__name__}: {exc}")
        return None
    routine.type = spec.type  # a registered class is known by its import path
    _set_slots(routine, spec, where, problems)
    return routine


def _set_slots(routine: Routine, spec: RoutineSpec, where: tuple, problems: _Problems) -> None:
    """The document's slot settings replace the routine's own slots; an unknown slot is a problem."""
    for name, slot in spec.slots.items():
        if name not in routine.slots:
            problems.add(
                where + ("slots", name),
                f"routine type {spec.type!r} has no slot {name!r} (it has: {', '.join(routine.slots) or 'none'})",
            )
        else:
            routine.slots[name] = Slot(name, slot.max_queue_length, slot.watermark, routine_id=spec.id)


def _connect(flow: Flow, connections: list[ConnectionSpec], broken: set[str], paths: dict[str, tuple]) -> None:
    for j, connection in enumerate(connections):
        (source, event), (target, slot) = connection.source.split("."), connection.target.split(".")
        if not {source, target} & broken:  # their own errors say enough
            paths[_field(("connections", j))] = ("connections", j)
            flow.connect(source, event, target, slot, field=_field(("connections", j)))


def _validate(
    flow: Flow, problems: _Problems, index: dict[str, int], broken: set[str], paths: dict[str, tuple]
) -> None:
    """The engine's own checks of the whole flow, its errors put back on the document's paths."""
    try:
        flow.validate()
    except FlowInvalid as exc:
        for error in exc.errors:
            field = error["field"]
            if broken and error["message"].startswith("unreachable"):
                continue  # most likely cut off by a routine that is already reported
            if field.startswith("routines.") and field[9:] in index:  # the engine names routines by id
                problems.add(("routines", index[field[9:]]), error["message"])
            else:
                problems.add(paths.get(field, (field,)), error["message"])
