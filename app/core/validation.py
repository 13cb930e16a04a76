"""One translation from pydantic's validation errors to what a person reads, for the API's error
details and for the forms alike: each problem names the field by its label (the schema field's
`title`, else its name in words) and says what is allowed ("Cash must be a number greater than 0
and at most 1e12", "Top-N must be a whole number from 1 to 100", "Product is required").

The path of a problem is the field's own (`paramSpace.n1.step`, `lines.2.quantity`): pydantic's
union member tags (`list[union[int,float]]`, `RangeIn`) are left out, and of the members of a
union the one the value was meant for speaks (a dict given for `list[...] | RangeIn` is judged as
a RangeIn; a value neither member takes is "a list of numbers or {start, stop, step}").
"""

import functools
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Union

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from app.core.errors import InvalidInput

# pydantic's name for a union member or an inner schema (never a field of ours, which are plain names)
_SCHEMA_TAG = re.compile(r"^[a-z][a-z-]*\[.*\]$")
_SCALAR_TAGS = {"int", "float", "str", "bool", "none", "bytes", "decimal", "date", "datetime", "time", "uuid"}
# "the value is not of this member's shape": a union member that says only this was not meant
_SHAPE = {
    "list_type",
    "dict_type",
    "model_type",
    "model_attributes_type",
    "int_type",
    "int_parsing",
    "int_from_float",
    "float_type",
    "float_parsing",
    "string_type",
    "bool_type",
    "bool_parsing",
    "is_instance_of",
    "none_required",
}
_KIND = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "datetime_type": "a date and time (ISO 8601, e.g. 2026-01-31T12:00:00Z)",
    "datetime_parsing": "a date and time (ISO 8601, e.g. 2026-01-31T12:00:00Z)",
    "datetime_from_date_parsing": "a date and time (ISO 8601, e.g. 2026-01-31T12:00:00Z)",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "none_required": "empty",
}
_NO_NUL = r"^[^\x00]*$"


@dataclass(frozen=True)
class Problem:
    """One field's problem: `loc` its clean path, `label` the field's name in words, `says` what is
    wrong with it ("must be a whole number from 1 to 100."), `kind` pydantic's error type."""

    loc: tuple[str | int, ...]
    label: str
    says: str
    kind: str = ""

    @property
    def message(self) -> str:
        return f"{self.label} {self.says}"

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.loc) or "(body)"

    def as_detail(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


MAX_PROBLEMS = 50  # a huge bad list is reported by its first problems, not one per entry
MAX_ERRORS = 20 * MAX_PROBLEMS


def problems(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """The problems of `exc` (raised validating `model`), one per field, in pydantic's order."""
    names = _model_names(model)
    # enough of them to tell the first MAX_PROBLEMS fields (a union's members are reported side by side)
    errors = [(*_split(error["loc"], model, names), error) for error in exc.errors(include_url=False)[:MAX_ERRORS]]
    above: set[tuple] = set()  # every path some error lies below
    taken: set[tuple] = set()  # unions a member of which took the value's shape, then refused it
    shapes: dict[tuple, list[str]] = {}  # per union: what each member wanted, when not of its shape
    for loc, tags, error in errors:
        above.update(loc[:n] for n in range(len(loc)))
        if tags and tags[-1][0] == len(loc):
            if error["type"] in _SHAPE:
                shapes.setdefault(loc, []).append(_member_kind(tags[-1][1], error["type"], names))
            else:
                taken.add(loc)
    found: dict[tuple, Problem] = {}
    for loc, tags, error in errors:
        if len(found) >= MAX_PROBLEMS:
            break
        if loc in found:
            continue
        if loc in shapes and tags and tags[-1][0] == len(loc) and error["type"] in _SHAPE:
            if loc in above or loc in taken:
                continue  # a member of this union took the value's shape: its own problems speak
            found[loc] = Problem(loc, label(model, loc), f"must be {_alternatives(shapes[loc])}.", "union")
        else:
            found[loc] = Problem(loc, label(model, loc), says(model, loc, error), error["type"])
    return list(found.values())


def details(exc: ValidationError, model: type[BaseModel]) -> dict[str, Any]:
    return {"fields": [p.as_detail() for p in problems(exc, model)]}


def summary(found: list[Problem]) -> str:
    """The one-line message of a refusal: the problem itself, or the first few of them."""
    if len(found) == 1:
        return found[0].message
    shown = " ".join(p.message for p in found[:5])
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return f"{len(found)} fields need a change: {shown}{more}"


def refusal(exc: ValidationError, model: type[BaseModel], *, at: str = "") -> InvalidInput:
    """The InvalidInput (422) of `exc`; `at`: the field the validated data came from (its problems are
    that field's, "Params: Priority must be ...")."""
    found = problems(exc, model)
    if at:
        found = [Problem((at, *p.loc), f"{_words(at)}: {p.label}", p.says, p.kind) for p in found]
    return InvalidInput(summary(found), {"fields": [p.as_detail() for p in found]})


def invalid(field: str, message: str, **more: Any) -> InvalidInput:
    """A refusal of one field found past the schema (a service's own check), in the same shape."""
    return InvalidInput(message, {"field": field, "fields": [{"field": field, "message": message}], **more})


def not_one_of(field: str, label: str, value: Any, allowed: Any) -> InvalidInput:
    """The refusal of a value that is not one of a known few, naming them."""
    allowed = list(allowed)
    return invalid(field, f"{label} must be one of {', '.join(map(str, allowed))}; {value!r} is not.", allowed=allowed)


# ---- messages ----------------------------------------------------------------------------------


def says(model: type[BaseModel], loc: tuple, error: dict[str, Any]) -> str:
    """What is wrong with the field at `loc`, in words that follow its label."""
    kind, ctx, info = error["type"], error.get("ctx") or {}, _field_at(model, loc)
    if kind in _BOUND_ERRORS:
        return f"must be {_number_kind(info)} {_bounds_text(_bounds(info) or {kind: next(iter(ctx.values()))})}."
    if kind in _NUMBER_ERRORS:
        number = _KIND[kind] if kind == "finite_number" else _number_kind(info, kind)
        bounds = _bounds(info)
        return f"must be {number}{' ' + _bounds_text(bounds) if bounds else ''}."
    if kind == "extra_forbidden":
        return f"is not a known field (allowed: {', '.join(_allowed_here(model, loc))})."
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == _NO_NUL:
            return "must not contain NUL (\\x00) characters."
        described = f" ({info.description})" if info is not None and info.description else ""
        return f"must match {ctx.get('pattern', '')}{described}."
    if kind in _SIZES:
        return _SIZES[kind](ctx)
    if kind in _KIND:
        return f"must be {_KIND[kind]}."
    text = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"is not right: {text[:1].lower()}{text[1:]}{'' if text.endswith('.') else '.'}"


_BOUND_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
_NUMBER_ERRORS = ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type", "finite_number")
_SIZES = {
    "missing": lambda ctx: "is required.",
    "literal_error": lambda ctx: f"must be {ctx.get('expected', '')}.",
    "enum": lambda ctx: f"must be {ctx.get('expected', '')}.",
    "string_too_short": lambda ctx: (
        "is required." if ctx.get("min_length") == 1 else f"must be at least {_num(ctx.get('min_length'))} characters."
    ),
    "string_too_long": lambda ctx: f"must be at most {_num(ctx.get('max_length'))} characters.",
    "too_short": lambda ctx: (
        f"needs at least {_num(ctx.get('min_length'))} entr{'y' if ctx.get('min_length') == 1 else 'ies'}."
    ),
    "too_long": lambda ctx: f"takes at most {_num(ctx.get('max_length'))} entries.",
}


def label(model: type[BaseModel], loc: tuple) -> str:
    """The words naming the field at `loc`: its schema title (a nested model's field by its own
    title alone), a dict entry by its key, a list entry by its position ("Item refs #2")."""
    parts: list[str] = []
    current: Any = model
    after_field = False
    for part in loc:
        info, current = _step(current, part)
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1] if parts else 'Entry'} #{part + 1}"]
            after_field = False
        elif info is not None:
            words = info.title or _words(str(part))
            if after_field or not parts:
                parts[-1:] = [words]
            else:
                parts.append(words[0].lower() + words[1:] if not words[:2].isupper() else words)
            after_field = True
        else:  # a dict key, or a name no field has
            if after_field:
                parts[-1:] = [str(part)]
            else:
                parts.append(str(part))
            after_field = False
    return " ".join(parts) or "The request"


def _words(name: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").strip().lower()
    text = re.sub(r"\bid\b", "id", text)
    return text[:1].upper() + text[1:]


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        number = int(value)
        if abs(number) >= 10**9 and str(abs(number)).rstrip("0") == "1":
            return f"{'-' if number < 0 else ''}1e{len(str(abs(number))) - 1}"
        return f"{number:,}"
    return f"{value:g}".replace("e+", "e")


def _bounds_text(bounds: dict[str, Any]) -> str:
    low = ("ge", bounds["greater_than_equal"]) if "greater_than_equal" in bounds else None
    low = low or (("gt", bounds["greater_than"]) if "greater_than" in bounds else None)
    high = ("le", bounds["less_than_equal"]) if "less_than_equal" in bounds else None
    high = high or (("lt", bounds["less_than"]) if "less_than" in bounds else None)
    if low and high and low[0] == "ge" and high[0] == "le":
        return f"from {_num(low[1])} to {_num(high[1])}"
    words = {"ge": "at least", "gt": "greater than", "le": "at most", "lt": "below"}
    return " and ".join(f"{words[bound[0]]} {_num(bound[1])}" for bound in (low, high) if bound)


def _bounds(info: FieldInfo | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in info.metadata if info is not None else ():
        for attr, kind in (
            ("ge", "greater_than_equal"),
            ("gt", "greater_than"),
            ("le", "less_than_equal"),
            ("lt", "less_than"),
        ):
            if isinstance(item, annotated_types.BaseMetadata) and getattr(item, attr, None) is not None:
                found[kind] = getattr(item, attr)
    return found


def _number_kind(info: FieldInfo | None, kind: str | None = None) -> str:
    annotation = _unwrap(info.annotation) if info is not None else None
    members = set(_members(annotation)) if annotation is not None else set()
    if members and members <= {int, type(None)}:
        return "a whole number"
    if kind in ("int_parsing", "int_type", "int_from_float") and not members:
        return "a whole number"
    return "a number"


def _member_kind(tag: str, error_type: str, names: dict[str, type[BaseModel]]) -> str:
    if tag in names:
        return "{" + ", ".join(names[tag].model_fields) + "}"
    if tag.startswith("list["):
        return "a list of numbers" if "int" in tag or "float" in tag else "a list"
    if tag.startswith("dict["):
        return "an object"
    return _KIND.get(error_type, tag)


def _alternatives(kinds: list[str]) -> str:
    kinds = list(dict.fromkeys(kinds))
    if "a number" in kinds and "a whole number" in kinds:
        kinds.remove("a whole number")
    return " or ".join(kinds)


# ---- walking the schema ------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _model_names(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__name__ in found:
                return
            found[annotation.__name__] = annotation
            for info in annotation.model_fields.values():
                visit(info.annotation)
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(model)
    return found


def _split(loc: tuple, model: type[BaseModel], names: dict[str, type[BaseModel]]) -> tuple[tuple, tuple]:
    """(the path without union tags, the tags with the position they stood at in that path). A tag
    is recognised where the schema has a union (so a field or key named `date` stays a name)."""
    tagged = _tags_in(model, tuple(0 if isinstance(part, int) else part for part in loc))
    clean: list[str | int] = []
    tags: list[tuple[int, str]] = []
    for part, is_tag in zip(loc, tagged, strict=True):
        if is_tag:
            tags.append((len(clean), part))
        else:
            clean.append(part)
    return tuple(clean), tuple(tags)


@functools.lru_cache(maxsize=4096)
def _tags_in(model: type[BaseModel], shape: tuple) -> tuple[bool, ...]:
    """Which parts of a path of this shape (list positions as 0) are union tags: the walk along the
    schema is the same for every position of a list, so a long list of bad entries walks it once."""
    names = _model_names(model)
    tagged: list[bool] = []
    current: Any = model
    for part in shape:
        members = _members(current) if current is not None else ()
        is_tag = (
            isinstance(part, str) and (len(members) > 1 or current is None) and _is_tag(part, names, current is None)
        )
        tagged.append(bool(is_tag))
        if is_tag:
            current = _member_named(members, part, names)
        else:
            _, current = _step(current, part) if current is not None else (None, None)
    return tuple(tagged)


def _is_tag(part: str, names: dict[str, type[BaseModel]], unknown_schema: bool) -> bool:
    return bool(_SCHEMA_TAG.match(part)) or part in names or (not unknown_schema and part in _SCALAR_TAGS)


def _member_named(members: tuple[Any, ...], tag: str, names: dict[str, type[BaseModel]]) -> Any:
    for member in members:
        origin = typing.get_origin(member)
        if (
            member is names.get(tag)
            or getattr(member, "__name__", None) == tag
            or (origin is not None and tag.startswith(f"{origin.__name__}["))
        ):
            return member
    return None


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> tuple[Any, ...]:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return tuple(_unwrap(arg) for arg in typing.get_args(annotation))
    return (annotation,)


def _step(current: Any, part: str | int) -> tuple[FieldInfo | None, Any]:
    """From the type at one point of a path to the next: (the model field reached, if any, its type)."""
    for member in _members(current):
        if isinstance(member, type) and issubclass(member, BaseModel):
            info = member.model_fields.get(part) if isinstance(part, str) else None
            if info is not None:
                return info, info.annotation
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin is dict and len(args) == 2 and isinstance(part, str):
            return None, args[1]
        if origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
            return None, args[0]
    return None, None


def _field_at(model: type[BaseModel], loc: tuple) -> FieldInfo | None:
    """The model field at the end of `loc`; for a dict entry or list item, its type's (`list[Id]`: an Id)."""
    current: Any = model
    info = None
    for part in loc:
        info, current = _step(current, part)
    if info is None and current is not None and not isinstance(current, type | None):
        return FieldInfo.from_annotation(current)
    return info


def _allowed_here(model: type[BaseModel], loc: tuple) -> list[str]:
    current: Any = model
    for part in loc[:-1]:
        _, current = _step(current, part)
    for member in _members(current):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return list(member.model_fields)
    return []
