"""JSON API plumbing: one decorator validates input with pydantic, checks the
role, shapes the output, and records the route for the OpenAPI document, so
the document is generated from the very schemas that validate requests.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, wraps
from typing import Annotated, Any, TypeVar, get_type_hints

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.json_schema import models_json_schema
from werkzeug.routing import IntegerConverter

from app.config import VERSION
from app.core import validation
from app.core.auth.service import require_role
from app.core.errors import InvalidInput, NotFound
from app.core.paging import MAX_PAGE, MAX_PER_PAGE, Page
from app.core.records import MAX_ID

API_PREFIX = "/api/v1"

# The shared types of every schema, so the OpenAPI document states the bounds the API enforces.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL)]
"""Every text field of a request: NUL (\\x00) is refused (PostgreSQL cannot store it). A field with a
`pattern` of its own stays `str` (this pattern would replace it); that pattern must exclude NUL too."""
PathText = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class IdConverter(IntegerConverter):
    """`<int:...>` in every route (pages too): a number beyond any id does not match (404), rather
    than reaching the database as an integer it cannot bind (500)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


JobId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="an RQ job id")]


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Out(BaseModel):
    """A response schema, read from a row's attributes: `XOut.model_validate(row)`.

    A field named otherwise than the attribute it reads says so with `validation_alias`
    (an `AliasPath` for a related row's column); the OpenAPI document names it by the field.
    """

    model_config = ConfigDict(from_attributes=True)


class TimelineEventOut(Out):
    """One entry of a record's timeline (core.timeline.TimelineEvent)."""

    id: int
    kind: str
    from_value: str | None
    to_value: str | None
    reason: str
    actor: str
    at: datetime


class _With:
    """`row` with the attributes in `values` added or replaced."""

    def __init__(self, row: Any, values: dict[str, Any]) -> None:
        self._row, self._values = row, values

    def __getattr__(self, name: str) -> Any:
        return self._values[name] if name in self._values else getattr(self._row, name)


OutModel = TypeVar("OutModel", bound=BaseModel)


def read(model: type[OutModel], row: Any, **computed: Any) -> OutModel:
    """`model` read from `row`'s attributes, with the fields that are computed, not stored, given in `computed`."""
    return model.model_validate(_With(row, computed))


class PageMeta(BaseModel):
    """Paging of a list response (app.core.paging.Page.meta())."""

    page: int
    per_page: int
    total: int
    pages: int


@cache
def paging_query(per_page: int = 25) -> type[BaseModel]:
    """The base of a list endpoint's query model: `page` and `per_page` (default `per_page`)."""
    return create_model(
        f"PagingQuery{per_page}",
        page=(int, Field(1, ge=1, le=MAX_PAGE)),
        per_page=(int, Field(per_page, ge=1, le=MAX_PER_PAGE)),
    )


ListOut = TypeVar("ListOut", bound=BaseModel)


def page_out(model: type[ListOut], page: Page, item: Callable[[Any], Any]) -> ListOut:
    """A list response: `model` has `paging` and one list field, filled with `item(row)` for each row."""
    (field_name,) = (name for name in model.model_fields if name != "paging")
    return model(**{field_name: [item(row) for row in page.items], "paging": PageMeta(**page.meta())})


@dataclass
class Operation:
    blueprint: str
    rule: str
    method: str
    endpoint: str
    summary: str
    roles: tuple[str, ...]
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    path: type[BaseModel] | None = None
    tags: list[str] = field(default_factory=list)
    signed: bool = False


OPERATIONS: list[Operation] = []


def parse(model: type[BaseModel], data: Any, *, at: str = "") -> BaseModel:
    """`data` as `model` validates it, or InvalidInput naming each field and what it allows
    (app/core/validation.py: the one translation the API and the forms share); `at` names the
    field `data` was read from when it is part of a larger whole (a rule's `params`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation.refusal(exc, model, at=at) from None


def _has_nul(data: Any) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_has_nul(key) or _has_nul(value) for key, value in data.items())
    if isinstance(data, list):
        return any(_has_nul(value) for value in data)
    return False


def parse_input(model: type[BaseModel], data: Any, where: str, raw: bytes | None = None) -> BaseModel:
    """`parse`, and no NUL anywhere, also in free-form JSON (dict[str, Any]) no Text type covers.
    `raw` is the JSON text `data` was read from: strict JSON has no raw control character in a
    string, so without a `\u0000` escape in it there is no NUL to look for (a 10,000-event batch
    is walked for nothing otherwise)."""
    if (raw is None or b"\\u0000" in raw) and _has_nul(data):
        raise validation.invalid("(any)", f"The {where} must not contain NUL (\\x00) characters.")
    return parse(model, data)


_PATH_TYPES: dict[Any, Any] = {int: Id, str: PathText}


def path_model(view: Callable, rule: str) -> type[BaseModel] | None:
    """The path parameters of `rule`, typed by the view's annotations: `int` is an `Id`, `str` a
    `PathText`; a shared type (e.g. `JobId`) is kept as it is."""
    names = [name for _, name in _CONVERTER.findall(rule)]
    if not names:
        return None
    hints = get_type_hints(view, include_extras=True)
    fields: dict[str, Any] = {
        name: (_PATH_TYPES.get(hints.get(name, str), hints.get(name, str)), ...) for name in names
    }
    return create_model(f"Path_{view.__name__}", **fields)


def _path_values(model: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """A path parameter no resource can have (a huge id, a NUL, a job id of the wrong shape) finds nothing: 404."""
    try:
        return model.model_validate(values).model_dump()
    except ValidationError as exc:
        raise NotFound("Nothing has this address.", validation.details(exc, model)) from None


def _query_data(model: type[BaseModel]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        annotation = model.model_fields.get(key)
        is_list = annotation is not None and "list" in str(annotation.annotation)
        data[key] = values if is_list else values[-1]
    return data


def body_required(model: type[BaseModel]) -> bool:
    """A body is required when its model has a required field; one whose every field has a default may be left out."""
    return any(info.is_required() for info in model.model_fields.values())


def _body_data(model: type[BaseModel]) -> Any:
    if not request.data:
        if body_required(model):
            raise InvalidInput("A JSON request body is required.", code="missing_body")
        return {}
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidInput("The request body is not valid JSON.", code="invalid_json")
    return data


def endpoint(
    bp: Blueprint,
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    roles: tuple[str, ...] = (),
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    signed: bool = False,
) -> Callable:
    """Register `view` on `bp` as a JSON API operation.

    `signed`: the view authenticates each request itself (a webhook signed with a shared
    secret): nobody signs in, so no role is checked and the sign-in gate lets it through, CSRF
    included (it carries no cookie a browser could forge with). It takes no `body=`: the
    signature covers the raw bytes, so the view parses them once they are verified.

    The view receives path parameters plus `query=` and/or `body=` (validated
    models) and returns a pydantic model, a dict, or `(model, status)`; or a
    ready Response (a file download), which is sent as it is.
    """

    def decorator(view: Callable) -> Callable:
        path = path_model(view, rule)

        @wraps(view)
        def wrapper(**path_args: Any):
            if not signed:
                require_role(*roles)
            if path is not None:
                path_args = _path_values(path, path_args)
            if query is not None:
                path_args["query"] = parse_input(query, _query_data(query), "query parameters")
            if body is not None:
                path_args["body"] = parse_input(body, _body_data(body), "request body", request.get_data())
            result = view(**path_args)
            if isinstance(result, Response):
                return result
            code = status
            if isinstance(result, tuple):
                result, code = result
            if isinstance(result, BaseModel):
                result = result.model_dump(mode="json")
            return jsonify(result), code

        name = f"{view.__name__}"
        wrapper.signed_request = signed  # read by the sign-in gate (app.core.auth.views)
        bp.add_url_rule(rule, endpoint=name, view_func=wrapper, methods=[method])
        OPERATIONS.append(
            Operation(
                blueprint=bp.name,
                rule=rule,
                method=method.lower(),
                endpoint=f"{bp.name}.{name}",
                summary=summary,
                roles=roles,
                query=query,
                body=body,
                response=response,
                status=status,
                path=path,
                tags=[bp.name],
                signed=signed,
            )
        )
        return wrapper

    return decorator


_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_path(rule: str, model: type[BaseModel] | None) -> tuple[str, list[dict[str, Any]]]:
    properties = model.model_json_schema()["properties"] if model is not None else {}
    params = []
    for converter, name in _CONVERTER.findall(rule):
        schema = {key: value for key, value in properties[name].items() if key != "title"}
        if converter == "int":
            schema["type"] = "integer"
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _CONVERTER.sub(r"{\2}", rule), params


def openapi_document(app: Flask) -> dict[str, Any]:
    """OpenAPI 3.1 for every operation registered on this app."""
    registered = {bp for bp in app.blueprints}
    ops = [op for op in OPERATIONS if op.blueprint in registered]
    prefixes = {name: (bp.url_prefix or "") for name, bp in app.blueprints.items()}
    models = {ErrorResponse}
    for op in ops:
        models.update(m for m in (op.query, op.body, op.response) if m is not None)
    # pydantic names each schema, telling apart models of one name from different capabilities; properties
    # are named by field (the names the API reads and writes: a validation_alias names a row's attribute)
    refs, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: (m.__name__, m.__module__))],
        by_alias=False,
        ref_template="#/components/schemas/{model}",
    )
    schemas = defs.get("$defs", {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return refs[(model, "validation")]

    def schema_of(model: type[BaseModel]) -> dict[str, Any]:
        return schemas[ref(model)["$ref"].rsplit("/", 1)[1]]

    error = {"description": "Error", "content": {"application/json": {"schema": ref(ErrorResponse)}}}
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        path, params = _openapi_path(prefixes[op.blueprint] + op.rule, op.path)
        if op.query is not None:
            for name, info in op.query.model_fields.items():
                prop = schema_of(op.query)["properties"][name]
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": info.is_required(),
                        "schema": prop,
                        "description": info.description or "",
                    }
                )
        operation: dict[str, Any] = {
            "operationId": op.endpoint.replace(".", "_"),
            "summary": op.summary,
            "tags": op.tags,
            "parameters": params,
            "responses": {
                str(op.status): {
                    "description": "OK",
                    **({"content": {"application/json": {"schema": ref(op.response)}}} if op.response else {}),
                },
                "401": error,
                "403": error,
                "404": error,
                "409": error,
                "422": error,
            },
        }
        if op.roles:
            operation["description"] = "Roles: " + ", ".join(op.roles) + " (admin always)."
        if op.signed:
            operation["security"] = []  # no user: the request carries its own signature
            operation["description"] = "Signed by the caller (see its documentation); no sign-in."
        if op.body is not None:
            operation["requestBody"] = {
                "required": body_required(op.body),
                "content": {"application/json": {"schema": ref(op.body)}},
            }
        paths.setdefault(path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Forgeline API", "version": VERSION},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }


openapi_bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)


@openapi_bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document(current_app._get_current_object()))
