"""One table maps core exceptions to HTTP; every error body has `detail`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from application.security import AuthenticationFailed, Forbidden
from application.ports.security import InvalidToken
from domain.errors import Conflict, NotFound, ValidationError
from domain.orders import TransitionRefused

STATUS: dict[type[Exception], int] = {
    ValidationError: 422,
    NotFound: 404,
    Conflict: 409,
    AuthenticationFailed: 401,
    InvalidToken: 401,
    Forbidden: 403,
}


def _status_of(error: Exception) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


async def _handle(_request: Request, error: Exception) -> JSONResponse:
    status = _status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, ValidationError):
        # the same shape as FastAPI's request validation errors: the field is in `loc`
        detail = [{"loc": ["body", error.field], "msg": error.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=status)
    body: dict[str, object] = {"detail": str(error)}
    if isinstance(error, TransitionRefused):
        body["allowed"] = error.allowed
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    for kind in STATUS:
        app.add_exception_handler(kind, _handle)
