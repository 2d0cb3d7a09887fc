"""Finding things over HTTP (ADR 0021): `q`, `sort`, `created_from`/`created_to` as one dependency per list,
the refusal of undeclared query parameters, and `Accept: text/csv` answers streamed page by page."""

# no `from __future__ import annotations`: the dependency built in `finding` needs its annotations evaluated

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from application.listing import Q_MAX_LENGTH, Finding, ListSpec
from application.pagination import Page, PageRequest
from domain.errors import ValidationError

from adapters.inbound.api.schemas import example_date, text

CSV_TYPE = "text/csv; charset=utf-8"
CSV_PAGE = 500  # rows read per query while a CSV answer streams
SORT_PATTERN = r"^ *[-+]?[A-Za-z_]* *(, *[-+]?[A-Za-z_]* *)*$"  # the fields are checked by name, for a clear message
INSTANT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?([Zz]|[-+ ][0-9]{2}(:?[0-9]{2})?)?)?$"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may take for a formula (OWASP)
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "The page as JSON, or with `Accept: text/csv` every matching row as CSV (a header row "
                         "first; limit and offset apply only when given)"}}


def query_error(field: str, message: str, value: Any = None) -> RequestValidationError:
    error: dict[str, Any] = {"loc": ("query", field), "msg": message, "type": "value_error"}
    if value is not None:
        error["input"] = value
    return RequestValidationError([error])


def finding(spec: ListSpec, searched: str, dated: str) -> Callable[..., Any]:
    """The dependency that reads and checks the list's finding parameters."""
    fields = ", ".join(spec.sortable)
    default = ",".join(str(k) for k in spec.default)

    async def read(
        q: Annotated[text(Q_MAX_LENGTH) | None, Query(description=f"Case-insensitive substring of {searched}")] = None,
        sort: Annotated[str | None, Query(max_length=200, pattern=SORT_PATTERN, description=(
            f"Comma-separated fields, `-` for descending: {fields} (default `{default}`); "
            f"`{spec.tie_breaker.field}` always breaks ties"))] = None,
        created_from: Annotated[str | None, Query(max_length=40, pattern=INSTANT_PATTERN, description=(
            f"Only rows whose {dated} is at or after this ISO 8601 date or date-time (UTC unless an offset is given)"
        ), examples=[example_date(-30)])] = None,
        created_to: Annotated[str | None, Query(max_length=40, pattern=INSTANT_PATTERN, description=(
            f"Only rows whose {dated} is at or before this date (the whole day) or date-time"))] = None,
    ) -> Finding:
        try:
            return Finding.parse(spec, q, sort, created_from, created_to)
        except ValidationError as error:
            raise query_error(error.field, error.message) from None

    return read


def _query_params(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_params(sub)
    return names


def declared_query_params(route: APIRoute) -> frozenset[str]:
    """The query parameters of the operation and of all its dependencies (remembered per route)."""
    known = getattr(route, "_declared_query_params", None)
    if known is None:
        known = frozenset(_query_params(route.dependant))
        route._declared_query_params = known  # type: ignore[attr-defined]
    return known


async def refuse_unknown_query_params(request: Request) -> None:
    """An app-wide dependency: a query parameter the operation does not declare is a 422 naming it, as an
    unknown body field is (a typo like `?stauts=OPEN` would otherwise return the unfiltered list)."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    declared = declared_query_params(route)
    unknown = [name for name in request.query_params if name not in declared]
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise RequestValidationError([{"loc": ("query", name), "msg": f"Unknown query parameter; allowed: {allowed}",
                                       "type": "extra_forbidden"} for name in unknown[:20]])


def wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "").lower()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON answer
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # CSV formula injection: the cell stays text in a spreadsheet
    return value


def csv_rows(model: type[BaseModel], fetch: Callable[[PageRequest], Page[Any]], convert: Callable[[Any], BaseModel],
             limit: int | None, offset: int) -> Iterator[str]:
    """The header row, then every row from `offset` (at most `limit` when given), read CSV_PAGE at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: CRLF line ends, fields with , " or a line break quoted
    columns = list(model.model_fields)
    writer.writerow(columns)
    left = limit
    while True:
        size = CSV_PAGE if left is None else min(CSV_PAGE, left)
        if size <= 0:
            break
        page = fetch(PageRequest(size, offset, counted=False))
        for item in page.items:
            row = convert(item).model_dump(mode="json")
            writer.writerow([_cell(row[c]) for c in columns])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page.items) < size:
            break
        offset += size
        left = None if left is None else left - size
    tail = buffer.getvalue()
    if tail:
        yield tail


def csv_response(request: Request, name: str, model: type[BaseModel], fetch: Callable[[PageRequest], Page[Any]],
                 convert: Callable[[Any], BaseModel]) -> StreamingResponse:
    params = request.query_params
    limit = int(params["limit"]) if "limit" in params else None  # already validated by the route
    offset = int(params.get("offset", 0))
    first = fetch(PageRequest(1, 0, counted=False))  # errors (a 503, a 422 of the query) before the 200 is sent
    del first
    return StreamingResponse(csv_rows(model, fetch, convert, limit, offset), media_type=CSV_TYPE,
                             headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
