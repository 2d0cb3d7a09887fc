"""The OpenAPI document: every route's error responses, derived from what the route depends on (ADR 0022).

One pass over the document FastAPI generates, when it is first asked for: every route of the app,
whenever it was added, gets the error responses of what it depends on:

| the route …                                           | documents                        |
|-------------------------------------------------------|----------------------------------|
| needs a bearer token                                  | 401 (with `WWW-Authenticate`)    |
| checks a role (deps.require)                          | 403                              |
| has a path parameter                                  | 404                              |
| writes (POST/PUT/PATCH/DELETE) one resource of a path | 409                              |
| reads an `If-Match` header                            | 412                              |
| has a body                                            | 413, 422                         |
| has any parameter                                     | 422                              |
| uses the container (the database, the broker)         | 503 (with `Retry-After`)         |

each with the one error schema, `ErrorOut` (errors.py); a status the route declares itself keeps its
description and gets the schema too, unless it declared a body of its own (the probes' 503). The operationId is the route function's name (`list_suppliers`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from pydantic.json_schema import models_json_schema

from adapters.inbound.api.deps import bearer_token, get_container
from adapters.inbound.api.errors import ErrorOut

REF = "#/components/schemas/{model}"
ERROR_BODY = {"application/json": {"schema": {"$ref": REF.format(model=ErrorOut.__name__)}}}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TEXT = {"schema": {"type": "string"}}
ERRORS: dict[int, dict[str, Any]] = {
    400: {"description": "A malformed `Idempotency-Key` or `If-Match` header (`loc` names it)"},
    401: {"description": "No bearer token, or one that is invalid, expired or revoked",
          "headers": {"WWW-Authenticate": {**_TEXT, "description": "Bearer"}}},
    403: {"description": "The caller's role may not do this (see the role matrix)"},
    404: {"description": "No such resource"},
    409: {"description": "Refused by the resource's current state (e.g. an order move it does not allow: "
                         "`allowed` lists the next states it does)"},
    412: {"description": "`If-Match` does not match the resource's current ETag: it changed meanwhile"},
    413: {"description": "The request body is over SUPPLYTRACE_MAX_BODY_BYTES"},
    422: {"description": "Invalid input: `detail` lists each problem, its field in `loc`"},
    503: {"description": "The database or the broker is unavailable: retry after `Retry-After` seconds",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}},
}


# the body of a probe's 503 (`/health`, `/ready`): each part `ok` or `unavailable`, not an ErrorOut
PROBE_BODY = {"application/json": {"schema": {"type": "object", "additionalProperties": {"type": "string"},
                                              "examples": [{"status": "degraded", "database": "unavailable"}]}}}


def operation_id(route: APIRoute) -> str:
    """`generate_unique_id_function` of the app: the route function's name, e.g. `create_supplier`."""
    return route.name


def _dependants(dependant: Any) -> Iterator[Any]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def api_routes(app: FastAPI) -> list[Any]:
    """Every APIRoute of the app, those of included routers too (from FastAPI 0.16x on they are
    resolved lazily: `iter_route_contexts` gives each with its effective path and responses)."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        return [route for route in app.routes if isinstance(route, APIRoute)]
    return [context for context in iterate(app.routes) if isinstance(context.original_route, APIRoute)]


def error_statuses(route: Any) -> set[int]:
    """The error statuses a route can answer, from its dependencies and parameters."""
    tree = list(_dependants(route.dependant))
    calls = [d.call for d in tree]
    params = [p for d in tree for p in (*d.path_params, *d.query_params, *d.header_params, *d.cookie_params,
                                        *d.body_params)]
    headers = {(p.alias or p.name).lower().replace("_", "-") for d in tree for p in d.header_params}
    authenticated = any(call is bearer_token or isinstance(call, OAuth2PasswordBearer) for call in calls)
    statuses: set[int] = set()
    if authenticated:
        statuses.add(401)
    if any(getattr(call, "permission", None) is not None for call in calls):
        statuses.add(403)
    if any(d.path_params for d in tree):
        statuses.add(404)
        if authenticated and set(route.methods) & WRITES:
            statuses.add(409)
    if "if-match" in headers:
        statuses |= {400, 412}
    if route.body_field is not None:
        statuses |= {413, 422}
    if params:
        statuses.add(422)
    if get_container in calls:
        statuses.add(503)
    return statuses


def document_errors(operation: dict[str, Any], statuses: set[int]) -> None:
    """Adds the error responses to an operation of the document: what the route declared keeps its
    description; every error response without a body schema (FastAPI's 422 too) gets `ErrorOut`."""
    responses = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), {})
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        fastapi_422 = schema.get("$ref", "").endswith("/HTTPValidationError")
        if response.get("content") and not fastapi_422:
            continue  # a body of its own
        if fastapi_422 or not response.get("description"):
            response["description"] = ERRORS.get(int(status), {}).get("description", "Refused")
        for name, value in ERRORS.get(int(status), {}).items():
            response.setdefault(name, copy.deepcopy(value))
        response["content"] = copy.deepcopy(ERROR_BODY)
    operation["responses"] = dict(sorted(responses.items()))


def _error_schema(schema: dict[str, Any]) -> None:
    """`ErrorOut` and what it refers to in the components; FastAPI's own 422 schemas, unused now, out."""
    _, definitions = models_json_schema([(ErrorOut, "serialization")], ref_template=REF)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(definitions["$defs"])
    for name in ("HTTPValidationError", "ValidationError"):  # the first refers to the second
        unused = components.pop(name, None)
        if unused is not None and f'"{REF.format(model=name)}"' in json.dumps(schema):
            components[name] = unused  # still used (a route declared it): kept


def _unique_operation_ids(schema: dict[str, Any]) -> None:
    """Two routes whose functions share a name: the later one is `{tag}_{name}` (FastAPI would warn)."""
    seen: set[str] = set()
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            name = operation["operationId"]
            if name in seen:
                tag = "".join(c if c.isalnum() else "_" for c in (operation.get("tags") or ["route"])[0].lower())
                base, n = f"{tag}_{name}", 2
                name = base
                while name in seen:
                    name, n = f"{base}_{n}", n + 1
                operation["operationId"] = name
            seen.add(name)


def install_openapi(app: FastAPI) -> None:
    """The app's `openapi()` documents every route's errors first, the routes added after this call included."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for route in api_routes(app):
                if not route.include_in_schema:
                    continue
                statuses = error_statuses(route)
                for method in route.methods:
                    operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
                    if operation is not None:
                        document_errors(operation, statuses)
            _error_schema(schema)
            _unique_operation_ids(schema)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
