"""One table maps core exceptions to HTTP; every error body is JSON with `detail`.

Validation errors echo at most a short, encodable prefix of what was sent; an error no entry
maps is a JSON 500 whose body says nothing of the cause (the log has it, see middleware.py).
`ErrorOut` is the one schema of every error body, as the OpenAPI publishes it (openapi.py).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from application.conditional import PreconditionFailed
from application.ports.idempotency import KeyInUse
from application.ports.repositories import ConcurrentUpdate
from application.ports.unit_of_work import StoreUnavailable
from application.security import AuthenticationFailed, Forbidden, TooManyAttempts
from application.ports.security import InvalidToken
from domain.errors import Conflict, NotFound, NotPermitted, TransitionRefused, ValidationError

from adapters.inbound.api.conditional import BadHeader, etag

STATUS: dict[type[Exception], int] = {
    ValidationError: 422,
    NotFound: 404,
    Conflict: 409,
    AuthenticationFailed: 401,
    InvalidToken: 401,
    Forbidden: 403,
    NotPermitted: 403,
    TooManyAttempts: 429,
    StoreUnavailable: 503,
    PreconditionFailed: 412,
    BadHeader: 400,
}
RETRY_AFTER_UNAVAILABLE = 5  # seconds a client should wait after a 503
ECHO_MAX = 40  # characters of a rejected value a 422 repeats


class ValidationIssue(BaseModel):
    """One problem of a 422: where (`loc`, e.g. ["body", "certification_expiry"] or ["query", "limit"]), what."""

    loc: list[str | int] = Field(examples=[["body", "certification_expiry"]])
    msg: str = Field(examples=["Input should be a valid date"])
    type: str = Field(examples=["date_from_datetime_parsing"])
    input: str | int | float | bool | None = Field(None, description="A short prefix of the value sent, when it "
                                                   "is a scalar (objects and lists are not echoed)")
    ctx: dict[str, Any] | None = Field(None, description="The rule's parameters, e.g. {\"le\": 500}")


class ErrorOut(BaseModel):
    """Every 4xx and 5xx body: `detail` is a sentence, or (422) the list of problems, each naming its field."""

    detail: str | list[ValidationIssue] = Field(examples=["supplier 42 not found"])
    allowed: list[str] | None = Field(None, description="409 on an order, item, non-conformity, action or supplier "
                                      "approval move: the states it may go to next",
                                      examples=[["PICKING", "ON_HOLD", "CANCELLED"]])
    error_id: str | None = Field(None, description="500 only: the id the log's `request.failed` line has")


def _status_of(error: Exception) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def _headers(error: Exception, status: int) -> dict[str, str] | None:
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if status == 429:
        return {"Retry-After": str(getattr(error, "retry_after", 1))}
    if status == 503:
        return {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}
    if isinstance(error, PreconditionFailed):
        return {"ETag": etag(error.current)}
    if isinstance(error, KeyInUse):
        return {"Retry-After": str(error.retry_after)}
    return None


async def _handle(request: Request, error: Exception) -> JSONResponse:
    status = _status_of(error)
    if isinstance(error, ConcurrentUpdate) and "if-match" in request.headers:
        status = 412  # the version the request named changed under it (ADR 0020)
    if isinstance(error, BadHeader):
        detail = [{"loc": ["header", error.header], "msg": safe_text(error.message, 500), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=status)
    if isinstance(error, ValidationError):
        # the same shape as FastAPI's request validation errors: the field is in `loc`
        detail = [{"loc": ["body", safe_text(error.field)], "msg": safe_text(error.message, 500),
                   "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=status)
    body: dict[str, object] = {"detail": safe_text(str(error), 500)}
    if isinstance(error, TransitionRefused):
        body["allowed"] = error.allowed
    return JSONResponse(body, status_code=status, headers=_headers(error, status))


def safe_text(value: str, limit: int = ECHO_MAX) -> str:
    """A prefix of `value` that any JSON encoder can write (lone surrogates escaped)."""
    cut = value[:limit] + ("…" if len(value) > limit else "")
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _safe_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return safe_text(repr(value))  # NaN and Infinity are not JSON
    if value is None or isinstance(value, (bool, int, float)):
        return value if not isinstance(value, int) or abs(value) < 2**63 else safe_text(str(value))
    if isinstance(value, str):
        return safe_text(value)
    return None  # objects and lists are not echoed


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "loc": [part if isinstance(part, int) else safe_text(str(part)) for part in error.get("loc", ())],
        "msg": safe_text(str(error.get("msg", "")), 300),
        "type": error.get("type", "value_error"),
    }
    if "input" in error and _safe_value(error["input"]) is not None:
        out["input"] = _safe_value(error["input"])
    context = {k: _safe_value(v) if not isinstance(v, Exception) else safe_text(str(v), 200)
               for k, v in (error.get("ctx") or {}).items()}
    if context:
        out["ctx"] = context
    return out


async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": [_safe_error(e) for e in error.errors()[:20]]}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    for kind in STATUS:
        app.add_exception_handler(kind, _handle)
    app.add_exception_handler(RequestValidationError, _invalid_request)
